"""Mouth appearance without time: how close each generated mouth is to *some* real mouth of the clip.

Time-aligned PSNR/SSIM cannot tell appearance from motion (a frozen real mouth scores like a good
one), so appearance is measured with time, pose, shape and light taken out:

1. **Pose**: each mouth is sampled in the face's own frame (the eye line as x axis, the
   interocular distance as unit; :func:`mouth_strip`).
2. **Shape**: the lips and the interior between the outer lip contours are resampled into a fixed
   :data:`STRIP` of columns (corner to corner) by rows (upper outer lip to lower outer lip), so an
   open and a closed mouth fill the same strip.
3. **Light**: the face's skin colour (the mean at :data:`~talkface.face.landmarks.SKIN_POINTS`)
   is subtracted.

Then (:func:`appearance_score`) each generated strip's RMS distance to the *nearest* real strip of
the same clip, averaged, is divided by the typical distance between the real mouths themselves:
the median over real frames of the distance to the nearest real frame at least
:data:`MIN_GAP_FRAMES` away. About 1 means "as close to a real mouth of this person as the
person's own other moments are"; drawn teeth and squeezed lips score well above it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkface.face import landmarks as L
from talkface.face.canonical import face_frame
from talkface.face.landmarks import skin_colour

STRIP = (48, 24)  # (columns across the mouth, rows from the upper to the lower outer lip)
MIN_GAP_FRAMES = 10  # real mouths compared with each other are at least this far apart in time
MAX_STRIPS = 600  # strips kept per video; beyond it every other one is dropped (memory stays flat)


def mouth_strip(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The mouth of one frame with pose, shape and lighting removed.

    Args:
        rgb: ``(H, W, 3)`` uint8 frame.
        landmarks: ``(478, 2)`` float pixel landmarks of the face in it.

    Returns:
        ``(STRIP[1], STRIP[0], 3)`` float32: colours sampled between the outer lip contours
        (bilinear), minus the skin colour.
    """
    lm = landmarks.astype(np.float64)
    origin, ex, ey, iod = face_frame(lm)

    def canonical(points: np.ndarray) -> np.ndarray:
        d = points - origin
        return np.stack([d @ ex, d @ ey], 1) / iod

    upper, lower = canonical(lm[L.UPPER_OUTER]), canonical(lm[L.LOWER_OUTER])
    cols, rows = STRIP
    x = np.linspace(
        min(upper[:, 0].min(), lower[:, 0].min()), max(upper[:, 0].max(), lower[:, 0].max()), cols
    )
    top = np.interp(x, *upper[np.argsort(upper[:, 0])].T)
    bottom = np.interp(x, *lower[np.argsort(lower[:, 0])].T)
    v = np.linspace(0, 1, rows)[:, None]
    cy = top[None, :] + v * (bottom - top)[None, :]  # (rows, cols) canonical y
    cx = np.broadcast_to(x[None, :], cy.shape)
    px = origin[0] + iod * (cx * ex[0] + cy * ey[0])
    py = origin[1] + iod * (cx * ex[1] + cy * ey[1])
    strip = cv2.remap(
        rgb, px.astype(np.float32), py.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    ).astype(np.float32)
    return strip - skin_colour(rgb, landmarks)


class StripSample:
    """The mouth strips of a video, at most :data:`MAX_STRIPS` of them: once full, every other one is
    dropped and from then on only every 2nd (4th, ...) frame is kept, so they stay spread over the
    whole video. ``frames`` holds each kept strip's frame number."""

    def __init__(self) -> None:
        self.strips: list[np.ndarray] = []
        self.frames: list[int] = []
        self.stride = 1
        self._seen = 0

    def add(self, strip: np.ndarray | None) -> None:
        """Offer the strip of the next frame (``None``: no face in it)."""
        frame = self._seen
        self._seen += 1
        if strip is None or frame % self.stride:
            return
        self.strips.append(strip.astype(np.float16))
        self.frames.append(frame)
        if len(self.strips) >= MAX_STRIPS:
            self.strips, self.frames = self.strips[::2], self.frames[::2]
            self.stride *= 2

    def array(self) -> np.ndarray:
        """``(n, STRIP[1] * STRIP[0] * 3)`` float32."""
        if not self.strips:
            return np.zeros((0, STRIP[0] * STRIP[1] * 3), np.float32)
        return np.stack(self.strips).reshape(len(self.strips), -1).astype(np.float32)


@dataclass
class AppearanceScore:
    """Attributes:
    ratio: mean distance of a generated mouth to its nearest real one, over the typical distance
        between the clip's real mouths (about 1: as real as the person's own other moments).
    sharpness_ratio: mean variance of the Laplacian of the generated strips over the real ones'.
    """

    ratio: float
    sharpness_ratio: float


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` RMS distances between rows (per strip value)."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(sq, 0) / a.shape[1])


def _sharpness(strips: np.ndarray) -> float:
    grey = strips.reshape(len(strips), STRIP[1], STRIP[0], 3).mean(3)
    return float(np.mean([cv2.Laplacian(g, cv2.CV_32F).var() for g in grey]))


def appearance_score(generated: StripSample, real: StripSample) -> AppearanceScore | None:
    """Mouth appearance of a generated video against the real one (see the module docstring).

    Returns:
        :class:`AppearanceScore`, or ``None`` when either has no strips or the real video has no
        two frames :data:`MIN_GAP_FRAMES` apart.
    """
    g, r = generated.array(), real.array()
    if not len(g) or len(r) < 2:
        return None
    frames = np.array(real.frames)
    apart = np.abs(frames[:, None] - frames[None, :]) >= MIN_GAP_FRAMES
    if not apart.any(1).any():
        return None
    within = np.where(apart, _distances(r, r), np.inf).min(1)
    typical = float(np.median(within[np.isfinite(within)]))
    nearest = _distances(g, r).min(1)
    return AppearanceScore(
        ratio=float(nearest.mean() / max(typical, 1e-6)),
        sharpness_ratio=_sharpness(g) / max(_sharpness(r), 1e-6),
    )
