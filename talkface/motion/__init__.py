"""Stage A: speech -> per-frame motion, from one of several registered sources.

Every source has one signature (:class:`MotionSource`): ``source(speech, n_frames, fps)`` returns
a :class:`MouthMotion` with one entry per output video frame. The sources are chosen by name
(:data:`MOTION_SOURCES`, :func:`motion_source`):

- ``learned``: the model trained on real clips (:mod:`talkface.motion.learned`);
- ``heuristic``: formant-band acoustics of the audio (:mod:`talkface.motion.heuristic`);
- ``visemes``: the visemes of exact phoneme timing, which only synthesised speech (``--text``)
  has (:mod:`talkface.motion.visemes`).

Head motion (pose, blinks) is a separate output type, made by its own sources with the same
signature, which an engine composes with the mouth motion; :class:`MouthMotion` holds the mouth only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from talkface.errors import TalkfaceError

if TYPE_CHECKING:
    from talkface.media.audio import Speech

MOTION_SOURCES = ("learned", "heuristic", "visemes")


@dataclass
class MouthMotion:
    """Per-frame mouth drive, in standard units of the utterance (every source's output).

    Attributes:
        opening: ``(n,)`` float32 z-score of jaw/mouth opening (silence ~ -3).
        width: ``(n,)`` float32 z-score of mouth width (spread > 0 > rounded).
        rounding: ``(n,)`` float32 lip rounding in [0, 1] (0 in silence).
        speech: ``(n,)`` bool voice activity per frame.
    """

    opening: np.ndarray
    width: np.ndarray
    rounding: np.ndarray
    speech: np.ndarray

    def __len__(self) -> int:
        return len(self.opening)


class MotionSource(Protocol):
    """Speech -> mouth motion, the signature of every source."""

    def __call__(self, speech: Speech, n_frames: int, fps: float) -> MouthMotion:
        """:class:`MouthMotion` for ``n_frames`` output frames at ``fps`` frames/s of ``speech``
        (:class:`~talkface.media.audio.Speech`: 16 kHz samples, and phoneme timing for synthesised
        speech).

        Raises:
            TalkfaceError: the source cannot work on this speech (``visemes`` without phonemes).
        """


def motion_source(name: str, weights: str | Path | None = None) -> MotionSource:
    """The source called ``name`` (one of :data:`MOTION_SOURCES`); ``weights``: a ``learned`` model
    file (default: the shipped ``talkface/weights/motion.npz``).

    Raises:
        TalkfaceError: unknown name, or a missing or invalid model file.
    """
    if name == "learned":
        from talkface.motion.learned import DEFAULT_WEIGHTS, LearnedMotion

        return LearnedMotion.load(weights or DEFAULT_WEIGHTS)
    if name == "heuristic":
        from talkface.motion.heuristic import heuristic_source

        return heuristic_source
    if name == "visemes":
        from talkface.motion.visemes import viseme_source

        return viseme_source
    raise TalkfaceError(f"unknown motion source {name!r} (choose from {', '.join(MOTION_SOURCES)})")


def smooth_curve(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of a 1-D curve over time, as ``scipy.ndimage.gaussian_filter1d(x, sigma)``
    (mirror-reflected ends, kernel truncated at 4 sigma; equal to 1e-15), without importing
    ``scipy.ndimage`` (0.2 s of every run's start-up).

    Args:
        x: ``(n,)`` float curve, one value per video frame.
        sigma: standard deviation in frames (> 0).

    Returns:
        ``(n,)`` float64.
    """
    row = np.asarray(x, np.float64).reshape(1, -1)
    return cv2.GaussianBlur(row, (0, 0), sigmaX=sigma, sigmaY=0, borderType=cv2.BORDER_REFLECT)[0]


def zscore(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Standardise ``x`` by the mean and standard deviation of its entries where ``mask`` is true
    (all entries if fewer than 3 are), e.g. a per-frame curve over the voiced frames.

    Args:
        x: ``(n,)`` float curve.
        mask: ``(n,)`` bool.

    Returns:
        ``(n,)`` float, same dtype as the arithmetic of ``x``.
    """
    ref = x[mask] if mask.sum() >= 3 else x
    return (x - ref.mean()) / (ref.std() + 1e-6)


def long_runs(mask: np.ndarray, min_length: int) -> np.ndarray:
    """The runs of true entries of ``mask`` at least ``min_length`` entries long (shorter runs
    cleared), e.g. the pauses of a silence mask that last long enough for a mouth to close.

    Args:
        mask: ``(n,)`` bool, one entry per video frame.
        min_length: shortest run kept, in entries (frames).

    Returns:
        ``(n,)`` bool.
    """
    mask = np.asarray(mask, bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    out = np.zeros_like(mask)
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start >= min_length:
            out[start:stop] = True
    return out
