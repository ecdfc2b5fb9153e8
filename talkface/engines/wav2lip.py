"""The ``wav2lip`` engine: the published Wav2Lip generator inside talkface's tracking and paste-back.

Per frame (``Wav2Lip:inference.py``, with our face track instead of S3FD): the face box (landmark
bounding box plus ``pads``) is resized to 96x96; the network sees that crop with its lower half
zeroed next to the unmasked crop as reference (BGR, /255) and the 16-column mel window starting at
``int(80 * i / fps)`` (the last 16 columns past the end). Frames are batched. Instead of the
original's hard paste of the whole box, the generated lower face is blended in through a feathered
mask after matching its colour to the frame on the mask's soft edge.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch

from talkface.engines import Rendered
from talkface.errors import TalkfaceError
from talkface.face.landmarks import face_box
from talkface.face.paste import feathered_mask, paste_back
from talkface.media.audio import Speech
from talkface.media.frame import I420Frame
from talkface.models.checkpoint import load_checkpoint, read_state_dict
from talkface.models.wav2lip import IMG_SIZE, Wav2Lip, Wav2LipConfig
from talkface.speech.mel import MEL_STEP_SIZE, mel_window_start, melspectrogram

DEFAULT_PADS = (0, 10, 0, 0)  # Wav2Lip's default: 10 px more below the chin
BATCH_SIZE = 16
MASK_TOP = 0.45  # fraction of the box height where the pasted lower face starts
FEATHER = 0.08  # fraction of the box width


FIRST_CONV = "face_encoder_blocks.0.0.conv_block.0.weight"


def width_of(checkpoint: str | Path) -> float:
    """Channel width of a Wav2Lip checkpoint, read from its first convolution (16 filters = 1.0).

    Raises:
        TalkfaceError: unreadable file, or not a Wav2Lip generator.
    """
    state = read_state_dict(checkpoint)
    if FIRST_CONV not in state:
        raise TalkfaceError("not a Wav2Lip generator checkpoint", checkpoint)
    return state[FIRST_CONV].shape[0] / 16


class OnnxGenerator:
    """The generator exported to ONNX (in memory) and run by onnxruntime on all cores.

    About 1.5x eager PyTorch fp32 on this CPU (``benchmarks/wav2lip_speed.py``) with fp32 results
    (max difference ~1e-7); export takes ~1.5 s per run and nothing is cached on disk.

    Call: ``(mel (B,1,80,16), faces (B,6,96,96))`` float32 arrays -> ``(B,3,96,96)`` float32.
    """

    def __init__(self, model: Wav2Lip) -> None:
        import io

        import onnxruntime

        buffer = io.BytesIO()
        example = (torch.zeros(1, 1, 80, MEL_STEP_SIZE), torch.zeros(1, 6, IMG_SIZE, IMG_SIZE))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
            torch.onnx.export(
                model,
                example,
                buffer,
                input_names=["audio", "face"],
                output_names=["out"],
                dynamic_axes={"audio": {0: "batch"}, "face": {0: "batch"}, "out": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        self.session = onnxruntime.InferenceSession(
            buffer.getvalue(), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, mel: np.ndarray, faces: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"audio": mel, "face": faces})[0]


class Wav2LipEngine:
    """Render with a Wav2Lip generator checkpoint (published ``wav2lip.pth``/``wav2lip_gan.pth``,
    or one trained here at any width).

    Args:
        checkpoint: published-format ``.pth`` file.
        pads: ``(top, bottom, left, right)`` pixels added to the face box; ``(0, 0, 0, 0)`` means
            Wav2Lip's default :data:`DEFAULT_PADS`.
        batch_size: frames per forward pass.
        accelerate: ``bf16`` (PyTorch under bf16 autocast, the fastest here), ``onnx``
            (:class:`OnnxGenerator`, fp32) or ``none`` (plain PyTorch fp32).

    Raises:
        TalkfaceError: missing or unreadable checkpoint, or weights that are not a Wav2Lip generator.
    """

    def __init__(
        self,
        checkpoint: str | Path,
        pads: tuple[int, int, int, int] = (0, 0, 0, 0),
        batch_size: int = BATCH_SIZE,
        accelerate: str = "bf16",
    ) -> None:
        model = Wav2Lip(Wav2LipConfig(width=width_of(checkpoint)))
        load_checkpoint(checkpoint, model)
        model.eval()
        if accelerate == "onnx":
            self.generate = OnnxGenerator(model)
        elif accelerate == "bf16":
            self.generate = _bf16(model)
        else:
            self.generate = _eager(model)
        self.pads = pads if any(pads) else DEFAULT_PADS
        self.batch_size = batch_size
        self.pending: list[tuple[int, np.ndarray | I420Frame, tuple[int, int, int, int] | None]] = []

    def prepare(self, speech: Speech, n_frames: int, fps: float) -> None:
        """Compute the mel spectrogram once; windows are cut per frame."""
        self.mel = melspectrogram(speech.samples)
        self.fps = fps

    def mel_window(self, index: int) -> np.ndarray:
        """``(80, 16)`` float32 mel window of output frame ``index``."""
        start = mel_window_start(index, self.fps)
        if start + MEL_STEP_SIZE > self.mel.shape[1]:
            return self.mel[:, -MEL_STEP_SIZE:]
        return self.mel[:, start : start + MEL_STEP_SIZE]

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
        self.pending.append((index, frame, box))
        if sum(b is not None for _, _, b in self.pending) >= self.batch_size:
            return self.flush()
        return []

    def flush(self) -> list[Rendered]:
        """Run the generator on the held frames and paste the results back (in order)."""
        work = [(i, f, b) for i, f, b in self.pending if b is not None]
        if work:
            faces, mels = [], []
            for i, frame, (x0, y0, x1, y1) in work:
                crop = cv2.resize(frame[y0:y1, x0:x1], (IMG_SIZE, IMG_SIZE), interpolation=cv2.INTER_AREA)
                bgr = crop[..., ::-1].astype(np.float32) / 255.0
                masked = bgr.copy()
                masked[IMG_SIZE // 2 :] = 0
                faces.append(np.concatenate([masked, bgr], axis=2).transpose(2, 0, 1))
                mels.append(self.mel_window(i)[None])
            out = self.generate(np.stack(mels), np.stack(faces).astype(np.float32))
            generated = (out.transpose(0, 2, 3, 1)[..., ::-1] * 255.0).astype(np.float32)
            for (_, frame, box), gen in zip(work, generated, strict=True):
                _paste_lower_face(frame, gen, box)
        done = [(f, b is not None) for _, f, b in self.pending]
        self.pending = []
        return done


def _eager(model: Wav2Lip):
    """Plain PyTorch fp32 inference with the same call signature as :class:`OnnxGenerator`."""

    def generate(mel: np.ndarray, faces: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(mel), torch.from_numpy(faces)).numpy()

    return generate


def _bf16(model: Wav2Lip):
    """PyTorch inference under bf16 autocast, channels-last (same call signature as :class:`OnnxGenerator`).

    This CPU has AVX-512 BF16 instructions: about 2x eager fp32 (``benchmarks/wav2lip_speed.py``),
    with no export or compile step; outputs differ from fp32 by bf16 rounding (mean ~1e-3, see
    ``tests/test_engine_wav2lip.py``).
    """
    model = model.to(memory_format=torch.channels_last)

    def generate(mel: np.ndarray, faces: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(faces).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return model(torch.from_numpy(mel), x).float().contiguous().numpy()

    return generate


def _paste_lower_face(frame: np.ndarray, generated: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Blend the generated ``(96, 96, 3)`` RGB face into ``frame``'s box, lower part only (in place)."""
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    patch = cv2.resize(generated, (bw, bh), interpolation=cv2.INTER_LINEAR)
    top = MASK_TOP * bh
    polygon = np.array([[0, top], [bw, top], [bw, bh], [0, bh]], np.float32)
    alpha = feathered_mask(polygon, (bh, bw), FEATHER * bw)
    region = frame[y0:y1, x0:x1].astype(np.float32)
    edge = (alpha > 0.02) & (alpha < 0.6)  # where generated and original should agree
    if edge.any():
        patch += (region[edge] - patch[edge]).mean(0)  # colour matching on the soft edge
    patch = np.clip(patch + 0.5, 0, 255).astype(np.uint8)
    paste_back(frame, patch, alpha, (x0, y0), inplace=True)
