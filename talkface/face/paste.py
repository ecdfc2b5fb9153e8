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

    The soft edge is computed at quarter resolution (it is smooth by construction), then
    upsampled and cut by the full-resolution polygon, which keeps it exactly 0 outside.
    """
    h, w = shape
    hard = np.zeros(shape, np.uint8)
    cv2.fillPoly(hard, [np.round(polygon * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    q = 4
    small = np.zeros(((h + q - 1) // q, (w + q - 1) // q), np.uint8)
    cv2.fillPoly(small, [np.round(polygon * 16 / q).astype(np.int32)], 255, lineType=cv2.LINE_8, shift=4)
    k = max(1, int(round(feather / q)))
    small = cv2.erode(small, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    soft = cv2.GaussianBlur(small.astype(np.float32) / 255.0, (0, 0), sigmaX=k / 2 + 0.5)
    alpha = cv2.resize(soft, (small.shape[1] * q, small.shape[0] * q), interpolation=cv2.INTER_LINEAR)[:h, :w]
    alpha = cv2.bitwise_and(alpha, alpha, mask=hard)  # 0 outside the polygon (OpenCV: 5x numpy here)
    cv2.threshold(alpha, 1e-3, 0.0, cv2.THRESH_TOZERO, dst=alpha)  # no faint tails
    return alpha


def paste_back(
    frame: np.ndarray, patch: np.ndarray, alpha: np.ndarray, origin: tuple[int, int], inplace: bool = False
) -> np.ndarray:
    """Blend ``patch`` into ``frame`` (a copy unless ``inplace``) at ``origin`` where ``alpha > 0``.

    Every pixel where ``alpha == 0`` (and every pixel outside the patch) is returned bit-identical.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB frame.
        patch: ``(h, w, 3)`` uint8 RGB rendering of the region.
        alpha: ``(h, w)`` float32 in [0, 1].
        origin: ``(x0, y0)`` top-left corner of the patch in the frame, in pixels.
        inplace: write into ``frame`` itself instead of a copy.

    Returns:
        ``(H, W, 3)`` uint8 frame.
    """
    x0, y0 = origin
    out = frame if inplace else frame.copy()
    c0, r0, bw, bh = cv2.boundingRect((alpha > 0).view(np.uint8))  # bounding box of alpha > 0
    if bw == 0:
        return out
    r1, c1 = r0 + bh, c0 + bw
    region = out[y0 + r0 : y0 + r1, x0 + c0 : x0 + c1]
    a = np.ascontiguousarray(alpha[r0:r1, c0:c1])
    # (patch * a + base * (1 - a)) / 1, rounded; a == 0 gives base exactly.
    region[...] = cv2.blendLinear(np.ascontiguousarray(patch[r0:r1, c0:c1]), region, a, 1.0 - a)
    return out


LOWER_FACE_TOP = 0.45  # fraction of the box height where a pasted generated lower face starts
LOWER_FACE_FEATHER = 0.08  # fraction of the box width: its soft edge


def paste_lower_face(frame: np.ndarray, generated: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Blend a generated face crop into ``frame``'s box, its lower part only (in place): the
    paste-back of the Wav2Lip-family engines.

    The crop is resized to the box; the mask is the box below :data:`LOWER_FACE_TOP` of its height,
    feathered by :data:`LOWER_FACE_FEATHER` of its width; the crop's colour is first shifted by the
    mean difference to the frame on the mask's soft edge (where the two should agree).

    Args:
        frame: ``(H, W, 3)`` uint8 RGB frame, changed in place.
        generated: ``(s, s, 3)`` float32 RGB in 0..255, any side ``s``.
        box: ``(x0, y0, x1, y1)`` pixels of the face box in ``frame``.
    """
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    patch = cv2.resize(generated, (bw, bh), interpolation=cv2.INTER_LINEAR)
    top = LOWER_FACE_TOP * bh
    polygon = np.array([[0, top], [bw, top], [bw, bh], [0, bh]], np.float32)
    alpha = feathered_mask(polygon, (bh, bw), LOWER_FACE_FEATHER * bw)
    region = frame[y0:y1, x0:x1].astype(np.float32)
    edge = (alpha > 0.02) & (alpha < 0.6)
    if edge.any():
        patch += (region[edge] - patch[edge]).mean(0)
    patch = np.clip(patch + 0.5, 0, 255).astype(np.uint8)
    paste_back(frame, patch, alpha, (x0, y0), inplace=True)
