"""The ``wav2lip`` engine: the published Wav2Lip generator inside talkface's tracking and paste-back.

Per frame (``Wav2Lip:inference.py``, with our face track instead of S3FD): the face box (landmark
bounding box plus ``pads``) is resized to 96x96; the network sees that crop with its lower half
zeroed next to the unmasked crop as reference (BGR, /255) and the 16-column mel window starting at
``int(80 * i / fps)`` (the last 16 columns past the end). Frames are batched. Instead of the
original's hard paste of the whole box, the generated lower face is blended in through a feathered
mask after matching its colour to the frame on the mask's soft edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np

from talkface.engines import EngineSpec, Rendered
from talkface.face.crop import WAV2LIP_PADS
from talkface.face.landmarks import face_box
from talkface.face.paste import paste_lower_face
from talkface.media.audio import Speech
from talkface.media.frame import I420Frame
from talkface.options import ACCELERATORS, PAD_RANGE, EngineOptions, option
from talkface.speech.mel import MEL_STEP_SIZE, mel_window_start, melspectrogram

BATCH_SIZE = 16


@dataclass(frozen=True)
class Wav2LipOptions(EngineOptions):
    """Options of the ``wav2lip`` engine."""

    engine: ClassVar[str] = "wav2lip"

    checkpoint: Path | None = option(
        None,
        "weights for the Wav2Lip generator: a wav2lip.pth / wav2lip_gan.pth file in the published format "
        "(or one from `talkface train wav2lip`)",
        required="a wav2lip.pth / wav2lip_gan.pth file",
        web=False,
        aliases=("--checkpoint_path",),
    )
    accelerate: str = option(
        "auto",
        "how the generator runs: auto = bf16 on a CPU with bf16 instructions, else onnx; "
        "bf16 = PyTorch under bf16 autocast (~2x fp32 with AVX-512 BF16, far slower without), "
        "onnx = onnxruntime fp32 export (~1.5x), none = plain PyTorch fp32",
        choices=ACCELERATORS,
        label="How the generator runs",
        web=False,
    )
    pads: tuple[int, int, int, int] = option(
        WAV2LIP_PADS,
        "pixels added to the face box that is cropped and generated (as Wav2Lip's --pads)",
        label="Pads of the face box: top,bottom,left,right (pixels)",
        range=PAD_RANGE,
    )


# A held frame: (index, frame, face box or None to pass it through, landmarks or None).
Pending = tuple[int, np.ndarray | I420Frame, tuple[int, int, int, int] | None, np.ndarray | None]


class FaceCropEngine:
    """What the face-crop generators (Wav2Lip, HyperLips) share: the mel spectrogram and each output
    frame's mel window, the face box, and holding frames back until a batch is full.

    A subclass sets :attr:`pads` and :attr:`batch_size` and implements :meth:`flush`, which renders
    :attr:`pending` ``(index, frame, box, landmarks)`` entries (``box`` None: pass the frame through).
    """

    pads: tuple[int, int, int, int] = WAV2LIP_PADS
    batch_size: int = BATCH_SIZE

    def __init__(self) -> None:
        self.pending: list[Pending] = []

    def prepare(self, speech: Speech, n_frames: int, fps: float) -> None:
        """Compute the mel spectrogram once; windows are cut per frame."""
        self.mel = melspectrogram(speech.samples)
        self.fps = fps

    def mel_window(self, index: int) -> np.ndarray:
        """``(80, 16)`` float32 mel window of output frame ``index`` (the last full one past the
        end; edge-padded when the speech is shorter than one window)."""
        start = mel_window_start(index, self.fps)
        if start + MEL_STEP_SIZE <= self.mel.shape[1]:
            return self.mel[:, start : start + MEL_STEP_SIZE]
        window = self.mel[:, -MEL_STEP_SIZE:]
        if window.shape[1] < MEL_STEP_SIZE:
            window = np.pad(window, ((0, 0), (0, MEL_STEP_SIZE - window.shape[1])), mode="edge")
        return window

    def face_box(
        self, frame: np.ndarray | I420Frame, landmarks: np.ndarray
    ) -> tuple[int, int, int, int] | None:
        """``(x0, y0, x1, y1)`` pixel box of the face plus pads, clipped to the frame; ``None`` if
        under 8 pixels on a side."""
        box = face_box(landmarks, frame.shape, self.pads)
        return box if box[2] - box[0] >= 8 and box[3] - box[1] >= 8 else None

    def submit(
        self, index: int, frame: np.ndarray | I420Frame, landmarks: np.ndarray | None
    ) -> list[Rendered]:
        box = None if landmarks is None else self.face_box(frame, landmarks)
        if box is not None and isinstance(frame, I420Frame):
            frame = frame.rgb()[0]  # whole frame: a small cost beside the generator's
        self.pending.append((index, frame, box, landmarks))
        if sum(entry[2] is not None for entry in self.pending) >= self.batch_size:
            return self.flush()
        return []

    def flush(self) -> list[Rendered]:
        """Render the held frames; return all of them in order."""
        raise NotImplementedError


class Wav2LipEngine(FaceCropEngine):
    """Render with a Wav2Lip generator checkpoint (published ``wav2lip.pth``/``wav2lip_gan.pth``,
    or one trained here at any width).

    Args:
        options: :class:`Wav2LipOptions` (the checkpoint, how it runs, the pads of the face box).
        batch_size: frames per forward pass.

    Raises:
        TalkfaceError: missing or unreadable checkpoint, or weights that are not a Wav2Lip generator.
    """

    def __init__(self, options: Wav2LipOptions, batch_size: int = BATCH_SIZE) -> None:
        import torch

        from talkface.models.accelerate import runner
        from talkface.models.checkpoint import load_checkpoint
        from talkface.models.wav2lip import IMG_SIZE, Wav2Lip, generator_config

        super().__init__()
        model = Wav2Lip(generator_config(options.checkpoint))
        load_checkpoint(options.checkpoint, model)
        model.eval()
        example = (torch.zeros(1, 1, 80, MEL_STEP_SIZE), torch.zeros(1, 6, IMG_SIZE, IMG_SIZE))
        self.generate = runner(
            model, options.accelerate, example, ("audio", "face"), channels_last=(1,), fallback="onnx"
        )
        self.img_size = IMG_SIZE
        self.pads = options.pads
        self.batch_size = batch_size

    def flush(self) -> list[Rendered]:
        """Run the generator on the held frames and paste the results back (in order)."""
        work = [(i, f, b) for i, f, b, _ in self.pending if b is not None]
        if work:
            faces, mels = [], []
            size = self.img_size
            for i, frame, (x0, y0, x1, y1) in work:
                crop = cv2.resize(frame[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
                bgr = crop[..., ::-1].astype(np.float32) / 255.0
                masked = bgr.copy()
                masked[size // 2 :] = 0
                faces.append(np.concatenate([masked, bgr], axis=2).transpose(2, 0, 1))
                mels.append(self.mel_window(i)[None])
            out = self.generate(np.stack(mels), np.stack(faces).astype(np.float32))
            generated = (out.transpose(0, 2, 3, 1)[..., ::-1] * 255.0).astype(np.float32)
            for (_, frame, box), gen in zip(work, generated, strict=True):
                paste_lower_face(frame, gen, box)
        done = [(f, b is not None) for _, f, b, _ in self.pending]
        self.pending = []
        return done


SPEC = EngineSpec(
    name="wav2lip",
    options=Wav2LipOptions,
    build=Wav2LipEngine,
    summary="the Wav2Lip generator (needs --checkpoint)",
    weights="a Wav2Lip generator checkpoint in the published format (--checkpoint)",
)
