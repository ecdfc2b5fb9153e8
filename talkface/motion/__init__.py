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
