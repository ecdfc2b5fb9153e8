"""Stage A: speech audio -> per-frame target mouth shape."""

from __future__ import annotations

import cv2
import numpy as np


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
