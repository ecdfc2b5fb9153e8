"""HyperLips' facial-landmark sketch and lip box (``semchan/HyperLips``: ``preprocess.py``
``get_sketch`` / ``get_mask``, ``models/model_hyperlips.py`` ``ROI``).

The sketch is the mesh's contours of the lips, eyes, brows, jaw line and nose (mediapipe's
connection sets, as HyperLips cuts them; not the irises) drawn in white on black; the HR decoder
reads it beside the base face to know where the sharp edges belong. The published preprocessing
draws 6-pixel lines on the face box at its own resolution and resizes the picture to 128 px, then
blurs it (5x5 Gaussian at 128 px, 7 at 256, 11 at 512), so the lines' thickness at 128 px depends
on the source video's resolution (about 8 px for LRS2's faces, 2 for HDTF's); here they are drawn
at the target size, :data:`SKETCH_THICKNESS` pixels per 128, for training and inference alike, and
blurred the same way.

The lip box is the bounding box of the published lip mask (20 mesh points round the mouth, from
below the nose to the chin's crease), where the HR stage's lip loss is taken.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from talkface.face.landmarks import N_LANDMARKS

# The published ROI (``models/model_hyperlips.py``): mediapipe's FACEMESH_LIPS, _LEFT_EYE,
# _LEFT_EYEBROW, _RIGHT_EYE and _RIGHT_EYEBROW, and HyperLips' own shorter face oval (no forehead)
# and nose sets, as point sequences drawn as polylines (the same 125 edges).
SKETCH_POLYLINES: tuple[tuple[int, ...], ...] = (
    (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291),  # lips, outer lower
    (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291),  # lips, outer upper
    (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308),  # lips, inner lower
    (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308),  # lips, inner upper
    (263, 249, 390, 373, 374, 380, 381, 382, 362),  # left eye, lower
    (263, 466, 388, 387, 386, 385, 384, 398, 362),  # left eye, upper
    (276, 283, 282, 295, 285),  # left brow, lower
    (300, 293, 334, 296, 336),  # left brow, upper
    (33, 7, 163, 144, 145, 153, 154, 155, 133),  # right eye, lower
    (33, 246, 161, 160, 159, 158, 157, 173, 133),  # right eye, upper
    (46, 53, 52, 65, 55),  # right brow, lower
    (70, 63, 105, 66, 107),  # right brow, upper
    # the face oval from temple to temple round the jaw (not over the forehead)
    (389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152),
    (152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162),
    (168, 6, 197, 195, 5, 4),  # nose ridge
    (4, 45, 220, 115, 48),  # nose, right wing
    (4, 275, 440, 344, 278),  # nose, left wing
)
# preprocess.py's lip_index: the region round the mouth whose filled polygon is the published lip mask.
LIP_MASK_POINTS = (
    164,
    167,
    165,
    92,
    186,
    57,
    43,
    106,
    182,
    83,
    18,
    313,
    406,
    335,
    273,
    287,
    410,
    322,
    391,
    393,
)
SKETCH_THICKNESS = 3  # line thickness in pixels at 128 px (scaled with the sketch's size)
BLUR_KERNEL = {128: 5, 256: 7, 512: 11}  # Gaussian kernel of the published loader per sketch size


def landmark_sketch(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Draw HyperLips' landmark sketch.

    Args:
        landmarks: ``(478, 2)`` float32 pixel coordinates in the sketch's own frame (0..``size``).
        size: the sketch's side in pixels (128, 256 or 512 for the published networks).

    Returns:
        ``(size, size, 3)`` uint8, white lines on black, blurred as the published loader blurs.

    Raises:
        ValueError: not a ``(478, 2)`` array.
    """
    landmarks = np.asarray(landmarks)
    if landmarks.shape != (N_LANDMARKS, 2):
        raise ValueError(f"landmarks must be ({N_LANDMARKS}, 2), not {landmarks.shape}")
    thickness = max(1, int(round(SKETCH_THICKNESS * size / 128)))
    canvas = np.zeros((size, size, 3), np.uint8)
    shift = 4  # sub-pixel vertices (1/16 pixel)
    pts = np.round(landmarks * (1 << shift)).astype(np.int32)
    lines = [pts[list(line)].reshape(-1, 1, 2) for line in SKETCH_POLYLINES]
    cv2.polylines(canvas, lines, False, (255, 255, 255), thickness, cv2.LINE_AA, shift)
    k = BLUR_KERNEL.get(size, 2 * (size // 50) + 1)
    return cv2.GaussianBlur(canvas, (k, k), 0)


def face_sketch(
    mesh: Callable[[np.ndarray], np.ndarray | None], face_bgr: np.ndarray, fallback: np.ndarray | None = None
) -> np.ndarray:
    """The sketch of the face in a crop, as the HR decoder reads it (training and inference alike).

    Args:
        mesh: landmarks of an RGB uint8 face crop (:class:`~talkface.face.track.CropMesh`).
        face_bgr: ``(S, S, 3)`` BGR float in [0, 1], as the networks give it (a generated face).
        fallback: ``(478, 2)`` landmarks in the crop's pixels to draw where ``mesh`` finds no face;
            ``None``: an empty sketch then.

    Returns:
        ``(S, S, 3)`` float32 in [0, 1].
    """
    size = face_bgr.shape[0]
    lm = mesh(np.ascontiguousarray((face_bgr[..., ::-1] * 255.0 + 0.5).astype(np.uint8)))
    if lm is None:
        lm = fallback
    if lm is None or not np.isfinite(lm).all():
        return np.zeros((size, size, 3), np.float32)
    return landmark_sketch(lm, size).astype(np.float32) / 255.0


def lip_box(landmarks: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` pixels of the lip mask's bounding box, clipped to ``size`` and at least
    4 pixels on a side: where the HR stage's lip loss is taken (the published ``coords``)."""
    polygon = np.asarray(landmarks)[list(LIP_MASK_POINTS)]
    x0, y0 = np.clip(np.floor(polygon.min(0)), 0, size - 4).astype(int)
    x1, y1 = np.clip(np.ceil(polygon.max(0)), 0, size).astype(int)
    return int(x0), int(y0), int(max(x1, x0 + 4)), int(max(y1, y0 + 4))
