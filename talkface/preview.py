"""A look before rendering: the face box found in the first frame and the mouth mask the warp may change."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from talkface.engines.warp import MAX_APERTURE, TYPICAL_APERTURE
from talkface.errors import TalkfaceError
from talkface.face.landmarks import LIPS, mouth_width
from talkface.face.quiet import native_stderr_silenced
from talkface.face.track import FaceTracker
from talkface.media.video import FaceMedia
from talkface.render.warp import WarpRenderer

BOX_COLOUR = (0, 220, 0)  # RGB: the face box
MASK_COLOUR = (255, 64, 160)  # RGB: tint of the pixels the warp may change
LIP_COLOUR = (255, 255, 0)  # RGB: the lip landmarks
LARGE_SIDE = 1920  # pixels: a face larger than this on its long side renders slowly (RTF ~4 at 3511 px)
PREVIEW_APERTURE = min(TYPICAL_APERTURE[0] + 2 * TYPICAL_APERTURE[1], MAX_APERTURE)  # a wide opening


def face_preview(
    face: str | Path,
    *,
    box: tuple[int, int, int, int] | None = None,
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    resize_factor: int = 1,
) -> np.ndarray:
    """Draw what ``talkface sync`` will work on, on the first frame of ``face``.

    The face box is the bounding rectangle of the 478 mesh landmarks (green); the mouth mask is the
    set of pixels the ``warp`` engine may change when it opens the mouth wide (inner-lip aperture
    :data:`PREVIEW_APERTURE` x IOD), tinted magenta; the 40 lip landmarks are yellow dots. Every
    pixel outside that mask is left unchanged by rendering.

    Args:
        face: a photo or video (its first frame is used).
        box: a fixed face box ``(top, bottom, left, right)`` in pixels, as ``sync --box``.
        pads: ``(top, bottom, left, right)`` pixels, as ``sync --pads``.
        resize_factor: as ``sync --resize-factor``.

    Returns:
        ``(H, W, 3)`` uint8 RGB image.

    Raises:
        TalkfaceError: unreadable media, or no face in the first frame.
    """
    media = FaceMedia(face, resize_factor=resize_factor)
    frame = next(media.frames())
    with native_stderr_silenced():
        tracker = FaceTracker(box=box, static=True)
        try:
            lm = tracker(frame).landmarks
        finally:
            tracker.close()
    if lm is None:
        raise TalkfaceError("no face found in the first frame", media.path)
    _, mask = WarpRenderer(pads=pads).render(frame, lm, PREVIEW_APERTURE, float(mouth_width(lm)))
    out = frame.copy()
    tint = np.array(MASK_COLOUR, np.float32)
    out[mask] = (0.55 * out[mask] + 0.45 * tint).astype(np.uint8)
    thick = max(1, round(max(frame.shape[:2]) / 400))
    x, y, w, h = cv2.boundingRect(lm.astype(np.float32))
    cv2.rectangle(out, (x, y), (x + w, y + h), BOX_COLOUR, thick, cv2.LINE_AA)
    for px, py in lm[LIPS]:
        cv2.circle(out, (round(float(px)), round(float(py))), thick, LIP_COLOUR, -1, cv2.LINE_AA)
    return out


def resize_hint(width: int, height: int) -> str | None:
    """Advice for a face of ``width`` x ``height`` pixels (after any resize factor) whose long side
    exceeds :data:`LARGE_SIDE`: the resize factor that brings it within, or ``None`` if it fits."""
    import math

    side = max(width, height)
    if side <= LARGE_SIDE:
        return None
    k = math.ceil(side / LARGE_SIDE)
    return (
        f"a {width}x{height} picture renders slowly at this size (several times real time); "
        f"Resize factor {k} makes it {width // k}x{height // k}"
    )
