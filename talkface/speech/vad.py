"""Voice activity from silero-vad (its ONNX model ships inside the ``silero-vad`` wheel)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from talkface.media.audio import SAMPLE_RATE

VAD_CHUNK = 512  # samples per silero-vad decision at 16 kHz (32 ms)
SPEECH_THRESHOLD = 0.5


@lru_cache(maxsize=1)
def _model():
    from silero_vad import load_silero_vad

    return load_silero_vad(onnx=True)


def speech_probability(samples: np.ndarray) -> np.ndarray:
    """Silero-vad speech probability for each 32 ms chunk.

    Args:
        samples: ``(n,)`` float32 waveform at 16 kHz.

    Returns:
        ``(ceil(n / 512),)`` float32 probabilities in [0, 1]; chunk ``k`` covers samples
        ``[512 k, 512 (k + 1))``.
    """
    import torch

    if len(samples) == 0:
        return np.zeros(0, np.float32)
    probs = _model().audio_forward(torch.from_numpy(np.ascontiguousarray(samples, np.float32)), SAMPLE_RATE)
    return probs.numpy().reshape(-1).astype(np.float32)


def speech_mask(samples: np.ndarray, n_frames: int, fps: float, hangover: float = 0.12) -> np.ndarray:
    """Per-video-frame speech activity: silero-vad probability >= 0.5, closed over short gaps.

    Args:
        samples: ``(n,)`` float32 waveform at 16 kHz.
        n_frames: number of video frames to cover.
        fps: video frame rate in frames/s.
        hangover: seconds of speech kept on either side of a detected segment (mouths open
            slightly before the sound starts and close after it ends).

    Returns:
        ``(n_frames,)`` bool, True where someone speaks.
    """
    probs = speech_probability(samples)
    chunk_t = (np.arange(len(probs)) + 0.5) * VAD_CHUNK / SAMPLE_RATE
    frame_t = (np.arange(n_frames) + 0.5) / fps
    p = np.interp(frame_t, chunk_t, probs, left=0.0, right=0.0) if len(probs) else np.zeros(n_frames)
    active = p >= SPEECH_THRESHOLD
    pad = int(round(hangover * fps))
    if pad and active.any():
        kernel = np.ones(2 * pad + 1)
        active = np.convolve(active.astype(float), kernel, mode="same") > 0
    return active
