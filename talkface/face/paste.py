"""Paste-back: blend a rendered face region into the untouched frame through a feathered mask."""

from __future__ import annotations

import cv2
import numpy as np


def feathered_mask(polygon: np.ndarray, shape: tuple[int, int], feather: float) -> np.ndarray:
    """A soft mask inside ``polygon`` that falls to exactly 0 at its border.

    Args:
        polygon: ``(k, 2)`` float pixel coordinates (x, y) of the region, in the patch frame.
        shape: ``(height, width)`` of the patch in pixels.
        feather: width in pixels of the soft edge (the mask is eroded by it, then blurred, so it
            reaches 0 on the polygon border, never outside).

    Returns:
        ``(height, width)`` float32 alpha in [0, 1].
    """
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(polygon * 4).astype(np.int32)], 255, lineType=cv2.LINE_8, shift=2)
    k = max(1, int(round(feather)))
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), sigmaX=k / 2 + 0.5)
    alpha[alpha < 1e-3] = 0.0
    return alpha


def paste_back(
    frame: np.ndarray, patch: np.ndarray, alpha: np.ndarray, origin: tuple[int, int]
) -> np.ndarray:
    """Blend ``patch`` into a copy of ``frame`` at ``origin`` where ``alpha > 0``.

    Every pixel where ``alpha == 0`` (and every pixel outside the patch) is returned bit-identical.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB frame (not modified).
        patch: ``(h, w, 3)`` float32 or uint8 RGB rendering of the region.
        alpha: ``(h, w)`` float32 in [0, 1].
        origin: ``(x0, y0)`` top-left corner of the patch in the frame, in pixels.

    Returns:
        ``(H, W, 3)`` uint8 frame.
    """
    x0, y0 = origin
    h, w = alpha.shape
    out = frame.copy()
    region = out[y0 : y0 + h, x0 : x0 + w]
    a = alpha[..., None]
    blended = region.astype(np.float32) * (1 - a) + patch.astype(np.float32) * a
    blended = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    region[...] = np.where(a > 0, blended, region)
    return out
