"""What of a photo is animated (SadTalker's ``--preprocess``): the whole image, a square around the
face, or the whole image scaled to the size a renderer works at.

SadTalker renders faces at 256 pixels: ``crop`` animates and writes the face's crop, ``resize``
the whole image scaled to that size (for passport-like photos), ``full`` the crop pasted back into
the whole image. Here every mode renders at the image's own pixels, so ``full`` is the default and
costs nothing extra; ``crop`` and ``resize`` make a smaller, faster video.
"""

from __future__ import annotations

import numpy as np

from talkface.errors import TalkfaceError

RESIZE_SIDE = 512  # pixels on the longer side for "resize"
CROP_SCALE = 2.0  # side of the "crop" square, in sizes of the face mesh's box (room for hair and neck)
CROP_LIFT = 0.1  # the square's centre above the mesh box's, in sizes of that box (the hair)


def photo_view(rgb: np.ndarray, mode: str) -> tuple[tuple[int, int, int, int], tuple[int, int]] | None:
    """The part of a photo to animate and its output size, for :meth:`~talkface.media.video.
    FaceMedia.reframe`.

    Args:
        rgb: ``(H, W, 3)`` uint8 photo.
        mode: ``full`` (``None``: the photo as it is), ``crop`` (the square of :data:`CROP_SCALE`
            times the face mesh's box around the face, moved inside the image, scaled to
            :data:`RESIZE_SIDE` pixels)
            or ``resize`` (the whole image, :data:`RESIZE_SIDE` pixels on its longer side).

    Returns:
        ``((left, top, right, bottom), (width, height))`` in pixels, or ``None`` for ``full``.

    Raises:
        TalkfaceError: ``crop`` on a photo where no face is found (the caller adds the file), or
            an unknown mode.
    """
    h, w = rgb.shape[:2]
    if mode == "full":
        return None
    if mode == "resize":
        scale = RESIZE_SIDE / max(h, w)  # up or down, as SadTalker's
        return (0, 0, w, h), (max(2, round(w * scale)), max(2, round(h * scale)))
    if mode != "crop":
        raise TalkfaceError(f"unknown preprocess {mode!r}")
    from talkface.face.track import photo_landmarks

    landmarks = photo_landmarks(rgb)
    if landmarks is None:
        raise TalkfaceError("no face found to crop around")
    (x0, y0), (x1, y1) = landmarks.min(0), landmarks.max(0)
    size = max(x1 - x0, y1 - y0)
    side = int(min(round(CROP_SCALE * size), w, h))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - CROP_LIFT * size
    left = int(np.clip(round(cx - side / 2), 0, w - side))
    top = int(np.clip(round(cy - side / 2), 0, h - side))
    return (left, top, left + side, top + side), (RESIZE_SIDE, RESIZE_SIDE)
