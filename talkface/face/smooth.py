"""Temporal smoothing of landmark tracks and bridging of short gaps."""

from __future__ import annotations

import numpy as np

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


def smooth_frame(
    landmarks: list[np.ndarray | None], j: int, sigma: float = SMOOTH_SIGMA
) -> np.ndarray | None:
    """Frame ``j`` of the Gaussian-smoothed track: its contiguous run of landmarks (not across
    gaps) filtered over time, edges repeated, as ``scipy.ndimage.gaussian_filter1d(run, sigma,
    axis=0, mode="nearest")[j - run_start]`` computes it, in a few weighted sums instead of the
    whole run.

    Args:
        landmarks: per frame ``(478, 2)`` float32 or ``None``.
        j: the frame to smooth.
        sigma: standard deviation in frames; 0 returns ``landmarks[j]`` unchanged.

    Returns:
        ``(478, 2)`` float32, or ``None`` if ``landmarks[j]`` is ``None``.
    """
    if landmarks[j] is None or sigma <= 0:
        return landmarks[j]
    lo, hi = j, j + 1
    while lo > 0 and landmarks[lo - 1] is not None:
        lo -= 1
    while hi < len(landmarks) and landmarks[hi] is not None:
        hi += 1
    if hi - lo == 1:
        return landmarks[j]
    radius = int(4.0 * sigma + 0.5)  # gaussian_filter1d's default truncation
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    weights /= weights.sum()
    frames = np.stack([landmarks[i] for i in np.clip(j + offsets, lo, hi - 1)]).astype(np.float64)
    return np.tensordot(weights, frames, axes=1).astype(np.float32)
