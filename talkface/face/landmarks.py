"""Indices into mediapipe's 478-point face mesh, and mouth measurements on it."""

from __future__ import annotations

import numpy as np

N_LANDMARKS = 478

# Eye outer corners: their distance is the interocular distance (IOD), the face's unit of length.
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
# Inner-lip midpoints (upper, lower) and mouth corners (right, left).
UPPER_LIP_INNER, LOWER_LIP_INNER = 13, 14
MOUTH_RIGHT, MOUTH_LEFT = 61, 291

# Lip contours, each ordered from the right mouth corner (61) to the left one (291).
UPPER_OUTER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
LOWER_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
UPPER_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LOWER_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
SKIN_POINTS = [4, 5, 195, 123, 352]  # nose tip and bridge, cheeks: where the skin colour is sampled
# Outer-lip points without the corners, and the inner-lip point each one follows (same order).
_NOT_CORNER = [k for k, p in enumerate(UPPER_OUTER) if p not in (MOUTH_RIGHT, MOUTH_LEFT)]
UPPER_OUTER_MID, UPPER_INNER_OF_OUTER = (
    [UPPER_OUTER[k] for k in _NOT_CORNER],
    [UPPER_INNER[k] for k in _NOT_CORNER],
)
LOWER_OUTER_MID, LOWER_INNER_OF_OUTER = (
    [LOWER_OUTER[k] for k in _NOT_CORNER],
    [LOWER_INNER[k] for k in _NOT_CORNER],
)
LIPS = sorted(set(UPPER_OUTER + LOWER_OUTER + UPPER_INNER + LOWER_INNER))  # all 40 lip-contour points
# Face oval from the right temple down the jaw and chin to the left temple.
JAW = [
    127,
    234,
    93,
    132,
    58,
    172,
    136,
    150,
    149,
    176,
    148,
    152,
    377,
    400,
    378,
    379,
    365,
    397,
    288,
    361,
    323,
    454,
    356,
]
CHIN = [148, 152, 377, 176, 400, 149, 378]
# The whole face oval (mediapipe's FACEMESH_FACE_OVAL), from the forehead's top round the face's
# right side, the jaw and chin, and up its left side.
FACE_OVAL = [10, 109, 67, 103, 54, 21, 162, *JAW, 389, 251, 284, 332, 297, 338]
# Lower face between the lips and the jaw line, which follows the jaw as it opens.
LOWER_FACE = [
    18,
    200,
    199,
    175,
    83,
    313,
    201,
    421,
    208,
    428,
    32,
    262,
    194,
    418,
    204,
    424,
    211,
    431,
    106,
    335,
    182,
    406,
]
# Nose base and upper cheeks: the fixed upper border of the warped region.
NOSE_BASE = [2, 97, 326, 98, 327, 164, 167, 393, 165, 391, 92, 322, 186, 410, 216, 436, 206, 426, 205, 425]


def lip_polygon(lm: np.ndarray, upper: list[int], lower: list[int]) -> np.ndarray:
    """A closed lip polygon: the ``upper`` contour corner to corner, then ``lower`` back without its
    corners (``UPPER_OUTER, LOWER_OUTER`` or ``UPPER_INNER, LOWER_INNER``); ``(20, 2)``, ``lm``'s dtype."""
    return np.concatenate([lm[upper], lm[lower[-2:0:-1]]])


def interocular(lm: np.ndarray) -> np.ndarray:
    """Interocular distance (outer eye corners) in pixels; ``lm`` is ``(..., 478, 2)``."""
    return np.linalg.norm(lm[..., RIGHT_EYE_OUTER, :] - lm[..., LEFT_EYE_OUTER, :], axis=-1)


def mouth_aperture(lm: np.ndarray) -> np.ndarray:
    """Inner-lip aperture |p13 - p14| over the interocular distance (dimensionless)."""
    gap = np.linalg.norm(lm[..., UPPER_LIP_INNER, :] - lm[..., LOWER_LIP_INNER, :], axis=-1)
    return gap / interocular(lm)


# Eyelid margins, outer corner to inner corner (the person's right eye is on the image's left).
RIGHT_EYE_UPPER = [33, 246, 161, 160, 159, 158, 157, 173, 133]
RIGHT_EYE_LOWER = [33, 7, 163, 144, 145, 153, 154, 155, 133]
LEFT_EYE_UPPER = [263, 466, 388, 387, 386, 385, 384, 398, 362]
LEFT_EYE_LOWER = [263, 249, 390, 373, 374, 380, 381, 382, 362]
EYELIDS = ((RIGHT_EYE_UPPER, RIGHT_EYE_LOWER), (LEFT_EYE_UPPER, LEFT_EYE_LOWER))


def eye_aperture(lm: np.ndarray) -> np.ndarray:
    """Eyelid aperture of each eye: the mean gap between the upper and lower lid margins (their
    middle five points) over the eye's corner-to-corner width (dimensionless; about 0.3 open, under
    0.1 shut).

    Args:
        lm: ``(..., 478, 2)`` (or with depth, ``(..., 478, 3)``; only x and y are used).

    Returns:
        ``(..., 2)`` float: the person's right eye, then the left.
    """
    out = []
    for upper, lower in EYELIDS:
        gap = np.linalg.norm(lm[..., upper[2:7], :2] - lm[..., lower[2:7], :2], axis=-1).mean(-1)
        out.append(gap / np.linalg.norm(lm[..., upper[0], :2] - lm[..., upper[-1], :2], axis=-1))
    return np.stack(out, -1)


# Upper edges of the eyebrows, outer end to inner end.
RIGHT_BROW = [70, 63, 105, 66, 107]
LEFT_BROW = [300, 293, 334, 296, 336]


def brow_height(lm: np.ndarray) -> np.ndarray:
    """How high the eyebrows stand: the mean height of their upper edges above the eye corners,
    over the interocular distance (dimensionless, about 0.4; it rises as the brows are raised).
    Read it from canonical-frame landmarks (pose taken out) to compare frames.

    Args:
        lm: ``(..., 478, 2+)`` landmarks, y down.

    Returns:
        ``(...,)`` float.
    """
    corners = lm[..., [33, 133, 362, 263], 1].mean(-1)
    brows = lm[..., RIGHT_BROW + LEFT_BROW, 1].mean(-1)
    return (corners - brows) / interocular(lm)


def mouth_width(lm: np.ndarray) -> np.ndarray:
    """Mouth-corner distance |p61 - p291| over the interocular distance (dimensionless)."""
    return np.linalg.norm(lm[..., MOUTH_RIGHT, :] - lm[..., MOUTH_LEFT, :], axis=-1) / interocular(lm)


def face_box(
    lm: np.ndarray, shape: tuple[int, ...], pads: tuple[int, int, int, int] = (0, 0, 0, 0)
) -> tuple[int, int, int, int]:
    """The box around all 478 landmarks plus ``pads``, clipped to the frame: the face crop of
    Wav2Lip (its ``--pads``) for inference, training data and the SyncNet evaluator alike.

    Args:
        lm: ``(478, 2)`` pixel coordinates (x, y).
        shape: the frame's shape ``(height, width, ...)``.
        pads: ``(top, bottom, left, right)`` pixels added around the landmarks.

    Returns:
        ``(x0, y0, x1, y1)`` integer pixels, ``x1``/``y1`` exclusive (may be empty at a frame edge).
    """
    h, w = shape[:2]
    top, bottom, left, right = pads
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    return max(0, int(x0) - left), max(0, int(y0) - top), min(w, int(x1) + right), min(h, int(y1) + bottom)


def skin_colour(frame: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """The face's skin colour: the mean of ``frame`` (``(H, W, 3)`` uint8) at the pixels nearest the
    :data:`SKIN_POINTS` of its ``(478, 2)`` pixel landmarks ``lm`` (clipped to the frame).

    Returns:
        ``(3,)`` float32, in ``frame``'s channel order.
    """
    h, w = frame.shape[:2]
    xy = np.clip(np.round(lm[SKIN_POINTS]).astype(int), 0, [w - 1, h - 1])
    return frame[xy[:, 1], xy[:, 0]].astype(np.float32).mean(0)
