"""The ``hyperlips`` engine: HyperLips' base network (and optionally its HR decoder) inside
talkface's tracking, batching and paste-back.

Per frame (``HyperLips:HYPERLIPS.py``, with our face track instead of S3FD): the face box (landmark
bounding box plus ``pads``) is resized to 128x128; the base network sees it with its lower half
zeroed beside the reference (the first frame's face, as the published inference takes it), BGR
/255, and the mel window of the frame (as Wav2Lip's). With an HR checkpoint, the landmarks of each
generated face (the mesh run on it, :class:`~talkface.face.track.CropMesh`; the frame's own
landmarks where it finds none) are drawn as the sketch (:func:`~talkface.face.sketch.landmark_sketch`)
and the HR decoder renders the face at 128 x rescaling px from the two, as it was trained. The
lower face is blended in through the feathered mask of the Wav2Lip engine
(:func:`~talkface.face.paste.paste_lower_face`), not the published face-parsing mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np

from talkface.engines import EngineSpec, Rendered
from talkface.engines.wav2lip import BATCH_SIZE, FaceCropEngine
from talkface.face.crop import WAV2LIP_PADS
from talkface.face.landmarks import face_box
from talkface.face.paste import paste_lower_face
from talkface.options import PAD_RANGE, EngineOptions, option

HYPERLIPS_ACCELERATORS = ("auto", "bf16", "none")  # the per-sample HyperConv kernels do not export to ONNX


@dataclass(frozen=True)
class HyperLipsOptions(EngineOptions):
    """Options of the ``hyperlips`` engine."""

    engine: ClassVar[str] = "hyperlips"

    checkpoint: Path | None = option(
        None,
        "weights for the HyperLips base network: a published-format checkpoint "
        "(semchan/HyperLips' hyperlipsbase checkpoint, or one from `talkface train hyperlips-base`)",
        required="a HyperLips base checkpoint",
        web=False,
        aliases=("--checkpoint_path_BASE",),
    )
    hr_checkpoint: Path | None = option(
        None,
        "weights for the HyperLips HR decoder (optional; published format, or "
        "`talkface train hyperlips-hr`): sharpens the face guided by its landmark sketch",
        web=False,
        aliases=("--checkpoint_path_HR",),
    )
    reference_image: Path | None = option(
        None,
        "an image of the same person whose face is the reference the network copies identity from "
        "(default: the first frame's face, as the published inference)",
        web=False,
    )
    accelerate: str = option(
        "auto",
        "how the networks run: auto = bf16 on a CPU with bf16 instructions, else none; "
        "bf16 = PyTorch under bf16 autocast (far slower than fp32 without them), none = plain PyTorch fp32",
        choices=HYPERLIPS_ACCELERATORS,
        label="How the networks run",
        web=False,
    )
    pads: tuple[int, int, int, int] = option(
        WAV2LIP_PADS,
        "pixels added to the face box that is cropped and generated (as HyperLips' --pads)",
        label="Pads of the face box: top,bottom,left,right (pixels)",
        range=PAD_RANGE,
    )


class HyperLipsEngine(FaceCropEngine):
    """Render with HyperLips checkpoints (the base network, optionally the HR decoder).

    Args:
        options: :class:`HyperLipsOptions`.
        batch_size: frames per forward pass.

    Raises:
        TalkfaceError: a missing or unreadable checkpoint, or weights that are not the network named.
    """

    def __init__(self, options: HyperLipsOptions, batch_size: int = BATCH_SIZE) -> None:
        from talkface.models.accelerate import runner
        from talkface.models.checkpoint import load_checkpoint
        from talkface.models.hyperlips import BASE_SIZE, HRDecoder, HyperLipsBase, base_config, hr_config

        super().__init__()
        base = HyperLipsBase(base_config(options.checkpoint))
        load_checkpoint(options.checkpoint, base)
        self.generate = runner(base.eval(), options.accelerate, (), ("audio", "face"), channels_last=(1,))
        self.refine = None
        if options.hr_checkpoint is not None:
            config = hr_config(options.hr_checkpoint)
            hr = HRDecoder(config.rescaling, config)
            load_checkpoint(options.hr_checkpoint, hr)
            self.refine = runner(hr.eval(), options.accelerate, (), ("x",), channels_last=(0,))
            from talkface.face.track import CropMesh

            self.mesh = CropMesh()
        self.size = BASE_SIZE
        self.pads = options.pads
        self.batch_size = batch_size
        self.reference: np.ndarray | None = None
        if options.reference_image is not None:
            self.reference = self._reference_image(options.reference_image)

    def _reference_image(self, path: Path) -> np.ndarray:
        """The face of a reference image, cropped as the frames are (128 px, BGR float32).

        Raises:
            TalkfaceError: unreadable image or no face in it.
        """
        from talkface.errors import TalkfaceError
        from talkface.face.track import photo_landmarks
        from talkface.media.video import FaceMedia

        rgb = next(iter(FaceMedia(path).frames()))
        lm = photo_landmarks(rgb)
        if lm is None:
            raise TalkfaceError("no face in the reference image", path)
        return self._crop(rgb, face_box(lm, rgb.shape, self.pads))

    def _crop(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The face box of ``frame`` at 128x128, BGR float32 in [0, 1]."""
        x0, y0, x1, y1 = box
        crop = cv2.resize(frame[y0:y1, x0:x1], (self.size, self.size), interpolation=cv2.INTER_AREA)
        return crop[..., ::-1].astype(np.float32) / 255.0

    def _sketch(
        self, face_bgr: np.ndarray, landmarks: np.ndarray, box: tuple[int, int, int, int]
    ) -> np.ndarray:
        """The landmark sketch of a generated 128 px face (BGR float32 in [0, 1]): the mesh of the
        generated face, or the frame's own landmarks mapped into the crop where it finds none."""
        from talkface.face.sketch import face_sketch

        x0, y0, x1, y1 = box
        scale = np.array([self.size / (x1 - x0), self.size / (y1 - y0)], np.float32)
        return face_sketch(self.mesh, face_bgr, (landmarks - np.array([x0, y0], np.float32)) * scale)

    def flush(self) -> list[Rendered]:
        """Run the networks on the held frames and paste the results back (in order)."""
        work = [(i, f, b, lm) for i, f, b, lm in self.pending if b is not None]
        if work:
            faces, mels = [], []
            for i, frame, box, _ in work:
                crop = self._crop(frame, box)
                if self.reference is None:
                    self.reference = crop
                masked = crop.copy()
                masked[self.size // 2 :] = 0
                faces.append(np.concatenate([masked, self.reference], axis=2).transpose(2, 0, 1))
                mels.append(self.mel_window(i)[None])
            out = self.generate(np.stack(mels), np.stack(faces).astype(np.float32))  # (B, 3, 128, 128) BGR
            if self.refine is not None:
                bgr = out.transpose(0, 2, 3, 1)
                sketches = [self._sketch(f, lm, b) for f, (_, _, b, lm) in zip(bgr, work, strict=True)]
                x = np.concatenate([out, np.stack(sketches).transpose(0, 3, 1, 2)], axis=1)
                out = self.refine(np.ascontiguousarray(x, np.float32))
            generated = (out.transpose(0, 2, 3, 1)[..., ::-1] * 255.0).astype(np.float32)
            for (_, frame, box, _), gen in zip(work, generated, strict=True):
                paste_lower_face(frame, np.ascontiguousarray(gen), box)
        done = [(f, b is not None) for _, f, b, _ in self.pending]
        self.pending = []
        return done


SPEC = EngineSpec(
    name="hyperlips",
    options=HyperLipsOptions,
    build=HyperLipsEngine,
    summary="HyperLips: hypernetwork lip sync, optional HR decoder (needs --checkpoint)",
    weights="a HyperLips base checkpoint (--checkpoint), optionally an HR decoder (--hr-checkpoint)",
)
