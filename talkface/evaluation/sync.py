"""LSE-D, LSE-C and the audio-video offset, computed as syncnet_python's ``SyncNetInstance.evaluate``.

For each window start ``v`` (video frames ``v..v+4`` at 25 fps and the 0.2 s of speech starting at
frame ``v``) a lip embedding and an audio embedding are computed. The audio embeddings are padded
with :data:`VSHIFT` zero vectors on each side, and for every frame the Euclidean distance to the
audio embeddings at offsets ``-VSHIFT..+VSHIFT`` is taken; ``mdist`` is their mean over frames.
Then **LSE-D** = min(mdist), **LSE-C** = median(mdist) - min(mdist) and **offset** =
``VSHIFT - argmin`` (``shared/research/anchors.md`` §6). A positive offset means the speech runs
ahead of the lips: the mouth shows what was heard ``offset`` frames earlier.

The network is pluggable (:class:`SyncEvaluator`):

- :class:`ExpertEvaluator` (default): the Wav2Lip expert SyncNet trained here
  (``talkface/weights/syncnet.pth``) on the lower half of the 96x96 face crop and mel windows.
  Its embeddings are L2-normalised, so its distances lie in [0, 1.42] and its LSE-D / LSE-C are
  **not** on the scale of published figures.
- :class:`SyncNetV2Evaluator`: syncnet_python's ``S`` with a user's ``syncnet_v2.model``, on its
  224x224 face crop and MFCCs: figures comparable with papers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch

from talkface.face.crop import WAV2LIP_PADS
from talkface.face.landmarks import face_box
from talkface.media.audio import SAMPLE_RATE
from talkface.models.syncnet import SYNC_FRAMES
from talkface.models.wav2lip import IMG_SIZE
from talkface.speech.mel import MEL_STEP_SIZE, mel_window_start, melspectrogram
from talkface.speech.mfcc import mfcc

EVAL_FPS = 25.0  # frames/s: videos are resampled to it, as syncnet_python's ``ffmpeg -r 25``
VSHIFT = 15  # frames: offsets searched on each side
SAMPLES_PER_FRAME = SAMPLE_RATE // int(EVAL_FPS)  # 640 samples of 16 kHz speech per video frame
BATCH = 20  # windows per forward pass (syncnet_python's default)
_PAIRWISE_EPS = 1e-6  # torch.nn.functional.pairwise_distance adds it to the difference


@dataclass
class SyncScore:
    """Lip-sync of one video.

    Attributes:
        lse_d: LSE-D, the smallest mean distance over offsets (lower is better).
        lse_c: LSE-C, median minus smallest mean distance (higher is better).
        offset: audio-video offset in frames at 25 fps (0 = in sync).
        offset0_distance: mean distance at offset 0. LSE-D, a minimum over offsets, barely changes
            when the speech is shifted as a whole (the minimum moves with it); this one rises.
        distances: ``(2 * VSHIFT + 1,)`` float32 mean distance at offsets ``-VSHIFT..VSHIFT``
            (index ``VSHIFT + k`` pairs video frame ``v`` with speech at frame ``v + k``).
        windows: 5-frame windows scored.
        evaluator: the network that produced the figures.
    """

    lse_d: float
    lse_c: float
    offset: int
    offset0_distance: float
    distances: np.ndarray = field(repr=False)
    windows: int
    evaluator: str


def window_count(n_frames: int, n_samples: int) -> int:
    """Windows syncnet_python scores: ``min(frames, samples // 640) - 5`` (at least 0)."""
    return max(0, min(n_frames, n_samples // SAMPLES_PER_FRAME) - SYNC_FRAMES)


def lse(video: np.ndarray, audio: np.ndarray, evaluator: str = "", vshift: int = VSHIFT) -> SyncScore:
    """LSE-D / LSE-C / offset from per-window embeddings (``calc_pdist`` and ``evaluate``).

    Args:
        video: ``(w, d)`` float32 lip embeddings, one per window.
        audio: ``(w, d)`` float32 audio embeddings of the same windows.
        evaluator: name recorded in the result.

    Raises:
        ValueError: no windows, or mismatched shapes.
    """
    if len(video) == 0 or video.shape != audio.shape:
        raise ValueError(f"need matching non-empty embeddings, got {video.shape} and {audio.shape}")
    w = len(video)
    padded = np.concatenate(
        [np.zeros((vshift, audio.shape[1]), audio.dtype), audio, np.zeros_like(audio[:vshift])]
    )
    shifts = np.arange(2 * vshift + 1)
    # dists[i, j] = |video[i] - padded[i + j]|: audio of frame i + j - vshift
    windows = padded[np.arange(w)[:, None] + shifts[None, :]]  # (w, 2 vshift + 1, d)
    dists = np.linalg.norm(video[:, None, :] - windows + _PAIRWISE_EPS, axis=-1)
    mdist = dists.mean(0)
    best = int(np.argmin(mdist))
    return SyncScore(
        lse_d=float(mdist[best]),
        lse_c=float(np.median(mdist) - mdist[best]),
        offset=vshift - best,
        offset0_distance=float(mdist[vshift]),
        distances=mdist.astype(np.float32),
        windows=w,
        evaluator=evaluator,
    )


class SyncEvaluator(Protocol):
    """A lip-sync network for :func:`lse`: a face crop per frame, then embeddings per window."""

    name: str

    def face_crop(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The network's crop of one ``(H, W, 3)`` uint8 RGB frame around its ``(478, 2)`` landmarks."""
        ...

    def embed(self, crops: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(lip, audio)`` ``(w, d)`` float32 embeddings of the :func:`window_count` windows of
        ``crops`` (one per 25 fps frame) and ``samples`` (16 kHz float32 speech)."""
        ...


def score_sync(evaluator: SyncEvaluator, crops: np.ndarray, samples: np.ndarray) -> SyncScore:
    """LSE-D / LSE-C / offset of face crops (25 fps) against speech with ``evaluator``.

    Raises:
        ValueError: fewer than 6 frames or 0.24 s of speech (no window to score).
    """
    video, audio = evaluator.embed(crops, samples)
    return lse(video, audio, evaluator.name)


def _batched(fn, items: list, batch: int = BATCH) -> np.ndarray:
    with torch.inference_mode():
        return torch.cat(
            [fn(torch.from_numpy(np.stack(items[i : i + batch]))) for i in range(0, len(items), batch)]
        ).numpy()


class ExpertEvaluator:
    """The Wav2Lip expert SyncNet (our trained weights by default) as an LSE evaluator.

    Face crop: the box around the landmarks with Wav2Lip's pads (0, 10, 0, 0), resized to 96x96
    BGR, as ``talkface train prepare`` makes training crops; the network sees the lower halves of
    5 frames and the 16-column mel window of the first frame.

    Args:
        checkpoint: a SyncNet checkpoint (default: ``talkface/weights/syncnet.pth``).

    Raises:
        TalkfaceError: unreadable checkpoint.
    """

    def __init__(self, checkpoint: str | Path | None = None) -> None:
        from talkface.models.syncnet import load_expert
        from talkface.weights import SYNCNET

        path = Path(checkpoint) if checkpoint is not None else SYNCNET
        self.model = load_expert(path)
        self.name = f"expert SyncNet {path.name}" + (" (trained here)" if path == SYNCNET else "")
        self._pads = WAV2LIP_PADS

    def face_crop(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = face_box(landmarks, rgb.shape, self._pads)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return np.zeros((IMG_SIZE, IMG_SIZE, 3), np.uint8)
        crop = cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2BGR)
        return cv2.resize(crop, (IMG_SIZE, IMG_SIZE), interpolation=cv2.INTER_AREA)

    def embed(self, crops: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from talkface.models.syncnet import lower_halves

        w = window_count(len(crops), len(samples))
        if w == 0:
            raise ValueError("too short to score lip sync (needs 6 frames and 0.24 s of speech)")
        mel = melspectrogram(samples)
        faces = [lower_halves(crops[v : v + SYNC_FRAMES]) for v in range(w)]
        mels = []
        for v in range(w):
            s = mel_window_start(v, EVAL_FPS)
            mels.append(mel[None, :, s : s + MEL_STEP_SIZE])
        video = _batched(lambda x: self.model.face_encoder(x), faces)
        audio = _batched(lambda x: self.model.audio_encoder(x), mels)
        return _flat_normalised(video), _flat_normalised(audio)


def _flat_normalised(x: np.ndarray) -> np.ndarray:
    x = x.reshape(len(x), -1)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class SyncNetV2Evaluator:
    """syncnet_python's network ``S`` with a user's ``syncnet_v2.model`` as an LSE evaluator.

    Face crop as ``run_pipeline.py``'s ``crop_video``: with the face box half-size ``bs`` (here from
    the landmarks' box, there from S3FD), rows ``cy - bs .. cy + 1.8 bs`` and columns
    ``cx - 1.4 bs .. cx + 1.4 bs`` of the frame padded with grey 110, resized to 224x224 (BGR).
    Audio: 13 MFCCs at 100 Hz, 20 frames from ``4 v``.

    Raises:
        TalkfaceError: missing or foreign weights file.
    """

    def __init__(self, weights: str | Path) -> None:
        from talkface.models.syncnet_v2 import load_syncnet_v2

        self.model = load_syncnet_v2(weights)
        self.name = f"syncnet_python S ({Path(weights).name})"

    def face_crop(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        from talkface.models.syncnet_v2 import LIP_SIZE

        (x0, y0), (x1, y1) = landmarks.min(0).astype(int), landmarks.max(0).astype(int)  # unclipped
        bs = max(x1 - x0, y1 - y0) / 2
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        pad = int(bs * 1.8) + 1
        frame = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(110, 110, 110))
        my, mx = cy + pad, cx + pad
        face = frame[int(my - bs) : int(my + 1.8 * bs), int(mx - 1.4 * bs) : int(mx + 1.4 * bs)]
        return cv2.resize(cv2.cvtColor(face, cv2.COLOR_RGB2BGR), (LIP_SIZE, LIP_SIZE))

    def embed(self, crops: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from talkface.models.syncnet_v2 import LIP_FRAMES, MFCC_FRAMES

        w = window_count(len(crops), len(samples))
        if w == 0:
            raise ValueError("too short to score lip sync (needs 6 frames and 0.24 s of speech)")
        cc = mfcc(samples)
        faces = [
            np.ascontiguousarray(crops[v : v + LIP_FRAMES].transpose(3, 0, 1, 2), np.float32)
            for v in range(w)
        ]
        mfccs = [cc[None, :, 4 * v : 4 * v + MFCC_FRAMES] for v in range(w)]
        return _batched(self.model.forward_lip, faces), _batched(self.model.forward_aud, mfccs)
