"""Temporal smoothing of landmark tracks and bridging of short gaps."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

MAX_BRIDGE = 12  # frames: longest gap (face present, mesh missed) filled by interpolation
SMOOTH_SIGMA = 1.0  # frames, Gaussian


def bridge_gaps(landmarks: list[np.ndarray | None], present: np.ndarray) -> list[np.ndarray | None]:
    """Fill frames where a face is present but the mesh failed by interpolating their neighbours.

    Args:
        landmarks: per frame ``(478, 2)`` float32 or ``None``.
        present: ``(n,)`` bool, the detector saw a face.

    Returns:
        A new list; gaps longer than :data:`MAX_BRIDGE` or at a track end stay ``None``
        (those frames pass through unchanged).
    """
    out = list(landmarks)
    n = len(out)
    i = 0
    while i < n:
        if out[i] is not None or not present[i]:
            i += 1
            continue
        j = i
        while j < n and out[j] is None and present[j]:
            j += 1
        if i > 0 and j < n and out[i - 1] is not None and out[j] is not None and j - i <= MAX_BRIDGE:
            a, b = out[i - 1], out[j]
            for k in range(i, j):
                t = (k - i + 1) / (j - i + 1)
                out[k] = (1 - t) * a + t * b
        i = j
    return out


def smooth_track(landmarks: list[np.ndarray | None], sigma: float = SMOOTH_SIGMA) -> list[np.ndarray | None]:
    """Gaussian-smooth each contiguous run of landmarks over time (runs are not smoothed across gaps).

    Args:
        landmarks: per frame ``(478, 2)`` float32 or ``None``.
        sigma: standard deviation in frames; 0 returns the input unchanged.

    Returns:
        A new list with the same ``None`` entries.
    """
    out = list(landmarks)
    if sigma <= 0:
        return out
    n = len(out)
    i = 0
    while i < n:
        if out[i] is None:
            i += 1
            continue
        j = i
        while j < n and out[j] is not None:
            j += 1
        if j - i > 1:
            run = gaussian_filter1d(np.stack(out[i:j]), sigma, axis=0, mode="nearest")
            out[i:j] = list(run.astype(np.float32))
        i = j
    return out
