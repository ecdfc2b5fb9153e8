"""Voice activity from silero-vad (its ONNX model ships inside the ``silero-vad`` wheel)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from talkface.media.audio import SAMPLE_RATE

VAD_CHUNK = 512  # samples per silero-vad decision at 16 kHz (32 ms)
SPEECH_THRESHOLD = 0.5


VAD_CONTEXT = 64  # samples of the previous chunk the model sees with each chunk


@lru_cache(maxsize=1)
def _session():
    """The ONNX model shipped in the silero-vad wheel, run with onnxruntime (no torch import)."""
    import importlib.util

    import onnxruntime

    spec = importlib.util.find_spec("silero_vad")  # locate the package without importing it (torch)
    path = Path(spec.submodule_search_locations[0]) / "data" / "silero_vad.onnx"
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = opts.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def speech_probability(samples: np.ndarray) -> np.ndarray:
    """Silero-vad speech probability for each 32 ms chunk.

    The recurrent model is stepped chunk by chunk with its state and 64 samples of context, as
    silero-vad's own ``OnnxWrapper.audio_forward`` does.

    Args:
        samples: ``(n,)`` float32 waveform at 16 kHz.

    Returns:
        ``(ceil(n / 512),)`` float32 probabilities in [0, 1]; chunk ``k`` covers samples
        ``[512 k, 512 (k + 1))``.
    """
    n_chunks = -(-len(samples) // VAD_CHUNK)
    session = _session()
    state = np.zeros((2, 1, 128), np.float32)
    sr = np.array(SAMPLE_RATE, np.int64)
    probs = np.empty(n_chunks, np.float32)
    chunk = np.zeros((1, VAD_CONTEXT + VAD_CHUNK), np.float32)  # context, then the chunk
    for k in range(n_chunks):
        piece = samples[k * VAD_CHUNK : (k + 1) * VAD_CHUNK]  # the last one zero-padded
        chunk[0, VAD_CONTEXT:] = 0.0
        chunk[0, VAD_CONTEXT : VAD_CONTEXT + len(piece)] = piece
        out, state = session.run(None, {"input": chunk, "state": state, "sr": sr})
        probs[k] = out[0, 0]
        chunk[0, :VAD_CONTEXT] = chunk[0, -VAD_CONTEXT:]  # no copy of the whole speech is made
    return probs


HANGOVER_SECONDS = 0.12  # speech kept on either side of a segment (mouths open early, close late)


def _hangover(active: np.ndarray, fps: float, hangover: float) -> np.ndarray:
    """``active`` widened by ``hangover`` seconds on each side (short gaps closed)."""
    pad = int(round(hangover * fps))
    if pad and active.any():
        kernel = np.ones(2 * pad + 1)
        active = np.convolve(active.astype(float), kernel, mode="same") > 0
    return active


def phoneme_speech_mask(
    phonemes: list[tuple[float, float, str]], n_frames: int, fps: float, hangover: float = HANGOVER_SECONDS
) -> np.ndarray:
    """Per-video-frame speech activity from exact phoneme timing (synthesised speech), as
    :func:`speech_mask` is from the VAD: frames a phoneme overlaps, widened by ``hangover``.

    Args:
        phonemes: ``[(start_s, end_s, phoneme), ...]``; pauses are the gaps between them.
        n_frames: number of video frames to cover.
        fps: video frame rate in frames/s.
        hangover: seconds of speech kept on either side of a phoneme run.

    Returns:
        ``(n_frames,)`` bool.
    """
    active = np.zeros(n_frames, bool)
    for start, end, _ in phonemes:
        if end > start:
            active[max(int(start * fps), 0) : int(np.ceil(end * fps))] = True
    return _hangover(active, fps, hangover)


def speech_mask(
    samples: np.ndarray, n_frames: int, fps: float, hangover: float = HANGOVER_SECONDS
) -> np.ndarray:
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
    return _hangover(p >= SPEECH_THRESHOLD, fps, hangover)
