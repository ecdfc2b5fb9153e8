"""Stage B, the ``warp`` engine: move the real lips, chin and jaw with a piecewise-affine mesh warp.

Training-free and identity-preserving: every output pixel of the lower face is a real pixel of the
same frame, moved. A triangle mesh spans the lips, chin and jaw (mediapipe landmarks) plus a fixed
outer ring; handle points get displacements that realise the target inner-lip aperture and mouth
width (the upper lip takes :attr:`WarpConfig.upper_share` of an opening, the lower lip and the jaw
the rest, as the jaw hinges open), the ring stays put, and each output triangle samples its source
triangle (backward mapping, bilinear). Displacement falls to zero on the ring, so the warp is
continuous with the untouched frame. Where the lips part, the mouth interior is synthesised: a dark
cavity tinted by the lip colour, upper and lower teeth shaded towards the corners, all scaled to the
face's own brightness.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from talkface.face import landmarks as L
from talkface.face.paste import feathered_mask, paste_back


@dataclass(frozen=True)
class WarpConfig:
    """Hyper-parameters of the warp renderer (lengths in interocular distances, IOD)."""

    upper_share: float = 0.25  # share of an aperture change taken by the upper lip
    jaw_follow: float = 1.0  # chin displacement / lower-lip displacement
    ring_margin: float = 0.45  # distance of the fixed outer ring beyond the jaw line
    gap_exponent: float = 0.6  # inner-lip gap profile (1 - u^2)^e across the mouth
    upper_teeth: float = 0.085  # height of visible upper teeth at full size
    lower_teeth: float = 0.045
    feather: float = 0.06  # soft edge of the paste-back mask


_PAIRS = list(zip(L.UPPER_INNER, L.LOWER_INNER, strict=True))
_LIPS = sorted(set(L.UPPER_OUTER + L.LOWER_OUTER + L.UPPER_INNER + L.LOWER_INNER))
_BELOW = sorted(set(L.JAW + L.LOWER_FACE + L.CHIN) - set(_LIPS))
_HANDLES = _LIPS + _BELOW + sorted(set(L.NOSE_BASE) - set(_LIPS) - set(_BELOW))
_RING_FROM = L.JAW  # ring points are these jaw points pushed outwards
_INDEX = {p: i for i, p in enumerate(_HANDLES)}


def face_frame(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Face coordinate frame from landmarks.

    Args:
        lm: ``(478, 2)`` float32 pixel landmarks.

    Returns:
        ``(origin, ex, ey, iod)``: mouth centre (pixels), unit vector along the eye line, unit vector
        towards the chin, and the interocular distance in pixels.
    """
    ex = lm[L.LEFT_EYE_OUTER] - lm[L.RIGHT_EYE_OUTER]
    iod = float(np.linalg.norm(ex))
    ex = ex / iod
    ey = np.array([-ex[1], ex[0]], np.float32)
    origin = (lm[L.MOUTH_RIGHT] + lm[L.MOUTH_LEFT]) / 2
    return origin, ex, ey, iod


class WarpRenderer:
    """Render target mouth shapes onto real frames by warping a landmark mesh.

    Args:
        config: :class:`WarpConfig`.
        pads: ``(top, bottom, left, right)`` pixels by which the fixed outer ring is pushed out
            (Wav2Lip's ``--pads``: a larger bottom pad lets the chin move further before the
            neck is stretched).

    Use :meth:`render` per frame. The mesh connectivity is fixed on the first face seen (so it does
    not flip from frame to frame).
    """

    def __init__(
        self, config: WarpConfig | None = None, pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    ) -> None:
        self.config = config or WarpConfig()
        self.pads = pads
        self._triangles: np.ndarray | None = None

    # -- geometry ---------------------------------------------------------------------------------
    def _points(self, lm: np.ndarray, iod: float) -> np.ndarray:
        """Handle points followed by the fixed ring, ``(n, 2)`` pixels."""
        centre = lm[4]  # nose tip
        jaw = lm[_RING_FROM]
        out = jaw - centre
        out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-6
        ring = jaw + out * self.config.ring_margin * iod
        top, bottom, left, right = self.pads
        ring[:, 0] += np.where(out[:, 0] < 0, -left, right) * np.abs(out[:, 0])
        ring[:, 1] += np.where(out[:, 1] < 0, -top, bottom) * np.abs(out[:, 1])
        return np.concatenate([lm[_HANDLES], ring]).astype(np.float32)

    def _ensure_topology(self, lm: np.ndarray) -> None:
        """Triangulate once, on the face with its mouth artificially opened (interior triangles)."""
        if self._triangles is not None:
            return
        origin, ex, ey, iod = face_frame(lm)
        opened = lm.copy()
        for p in L.LOWER_INNER + L.LOWER_OUTER + _BELOW:
            if (lm[p] - origin) @ ey > -0.02 * iod:
                opened[p] = lm[p] + ey * 0.12 * iod
        for p in L.UPPER_INNER:
            opened[p] = lm[p] - ey * 0.03 * iod
        pts = self._points(opened, iod)
        self._triangles = Delaunay(pts).simplices.astype(np.int32)

    def target_points(self, lm: np.ndarray, aperture: float, width: float) -> tuple[np.ndarray, np.ndarray]:
        """Source and destination mesh points for a target mouth shape.

        Args:
            lm: ``(478, 2)`` float32 pixel landmarks of the frame.
            aperture: target inner-lip aperture |p13 - p14| / IOD (>= 0).
            width: target mouth width |p61 - p291| / IOD.

        Returns:
            ``(src, dst)``: ``(n, 2)`` float32 pixel points before and after the move.
        """
        cfg = self.config
        origin, ex, ey, iod = face_frame(lm)
        rel = lm - origin
        fx, fy = rel @ ex, rel @ ey  # face-frame coordinates, pixels
        dx = np.zeros(len(lm), np.float32)
        dy = np.zeros(len(lm), np.float32)

        # Inner-lip gap profile: widest in the middle, closed at the corners.
        half_inner = max(abs(fx[308] - fx[78]) / 2, 1e-3)
        lower_centre_dy = 0.0
        for up, lo in _PAIRS:
            u = np.clip((fx[up] + fx[lo]) / 2 / half_inner, -1, 1)
            prof = (1 - u * u) ** cfg.gap_exponent
            gap_now = fy[lo] - fy[up]
            delta = aperture * iod * prof - gap_now
            dy[up] = -cfg.upper_share * delta
            dy[lo] = (1 - cfg.upper_share) * delta
            if lo == L.LOWER_LIP_INNER:
                lower_centre_dy = dy[lo]
        for up_in, up_out, lo_in, lo_out in zip(
            L.UPPER_INNER, L.UPPER_OUTER, L.LOWER_INNER, L.LOWER_OUTER, strict=True
        ):
            if up_out not in (L.MOUTH_RIGHT, L.MOUTH_LEFT):
                dy[up_out] = 0.8 * dy[up_in]
                dy[lo_out] = dy[lo_in]
        # Jaw and chin hinge: full lower-lip motion at and below the lower lip, none at corner height.
        lo_y = fy[17]
        for p in _BELOW:
            t = np.clip(fy[p] / max(lo_y, 1e-3), 0, 1)
            side = np.clip((0.8 * iod - abs(fx[p])) / (0.4 * iod), 0, 1)
            dy[p] = cfg.jaw_follow * lower_centre_dy * (t * t * (3 - 2 * t)) * side
        # Width: scale lip x about the mouth centre; the skin beside the mouth follows partly.
        width_now = max(fx[L.MOUTH_LEFT] - fx[L.MOUTH_RIGHT], 1e-3)
        scale = width * iod / width_now - 1
        for p in _LIPS:
            dx[p] = scale * fx[p]
        for p in _BELOW:
            near = np.clip(1 - (abs(fy[p]) / (0.5 * iod)), 0, 1) * np.clip(1 - abs(fx[p]) / (0.6 * iod), 0, 1)
            dx[p] = 0.5 * scale * fx[p] * near

        disp = dx[:, None] * ex[None, :] + dy[:, None] * ey[None, :]
        src = self._points(lm, iod)
        dst = src.copy()
        dst[: len(_HANDLES)] += disp[_HANDLES]
        return src, dst

    # -- pixels -----------------------------------------------------------------------------------
    def render(
        self, frame: np.ndarray, lm: np.ndarray, aperture: float, width: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Render one frame.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB frame (not modified).
            lm: ``(478, 2)`` float32 pixel landmarks of the face in ``frame``.
            aperture: target inner-lip aperture over IOD.
            width: target mouth width over IOD.

        Returns:
            ``(out, mask)``: the ``(H, W, 3)`` uint8 frame and the ``(H, W)`` bool mask of pixels
            that may differ from ``frame`` (everything else is bit-identical).
        """
        self._ensure_topology(lm)
        h, w = frame.shape[:2]
        src, dst = self.target_points(lm, max(aperture, 0.0), width)
        _, _, ey, iod = face_frame(lm)
        both = np.concatenate([src, dst])
        x0, y0 = np.floor(both.min(0)).astype(int)
        x1, y1 = np.ceil(both.max(0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        mask = np.zeros((h, w), bool)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return frame.copy(), mask
        off = np.array([x0, y0], np.float32)
        pw, ph = x1 - x0, y1 - y0

        # Backward map: for each destination pixel, the source pixel via its triangle's affine map.
        tri_id = np.zeros((ph, pw), np.int32)
        tris = self._triangles
        d_tri, s_tri = dst[tris] - off, src[tris] - off
        affines = np.zeros((len(tris) + 1, 2, 3), np.float32)
        affines[0] = [[1, 0, 0], [0, 1, 0]]
        for k in range(len(tris)):
            a = d_tri[k]
            area = (a[1, 0] - a[0, 0]) * (a[2, 1] - a[0, 1]) - (a[2, 0] - a[0, 0]) * (a[1, 1] - a[0, 1])
            if abs(area) < 1e-3:
                continue
            affines[k + 1] = cv2.getAffineTransform(a.astype(np.float32), s_tri[k].astype(np.float32))
            cv2.fillConvexPoly(tri_id, np.round(a * 16).astype(np.int32), k + 1, lineType=cv2.LINE_8, shift=4)
        ys, xs = np.mgrid[0:ph, 0:pw].astype(np.float32)
        m = affines[tri_id]
        map_x = m[..., 0, 0] * xs + m[..., 0, 1] * ys + m[..., 0, 2] + x0
        map_y = m[..., 1, 0] * xs + m[..., 1, 1] * ys + m[..., 1, 2] + y0
        warped = cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(
            np.float32
        )

        inner = (
            np.concatenate(
                [dst[[_INDEX[p] for p in L.UPPER_INNER]], dst[[_INDEX[p] for p in L.LOWER_INNER[::-1]]]]
            )
            - off
        )
        self._paint_mouth_interior(warped, frame, lm, inner, ey, iod, aperture)

        hull = cv2.convexHull(src - off)
        alpha = feathered_mask(hull.reshape(-1, 2), (ph, pw), self.config.feather * iod)
        out = paste_back(frame, warped, alpha, (x0, y0))
        mask[y0:y1, x0:x1] = alpha > 0
        return out, mask

    def _paint_mouth_interior(
        self,
        patch: np.ndarray,
        frame: np.ndarray,
        lm: np.ndarray,
        inner: np.ndarray,
        ey: np.ndarray,
        iod: float,
        aperture: float,
    ) -> None:
        """Synthesize cavity and teeth inside the destination inner-lip polygon (in place)."""
        if aperture * iod < 1.0:
            return
        cfg = self.config
        ph, pw = patch.shape[:2]
        h, w = frame.shape[:2]

        def sample(points: list[int]) -> np.ndarray:
            xy = np.clip(np.round(lm[points]).astype(int), 0, [w - 1, h - 1])
            return frame[xy[:, 1], xy[:, 0]].astype(np.float32).mean(0)

        lip = sample([17, 84, 314, 0, 37, 267])
        skin = sample([4, 5, 195, 123, 352])
        luma = float(skin @ np.array([0.299, 0.587, 0.114], np.float32))
        light = np.clip(luma / 170.0, 0.35, 1.3)
        cavity = lip * 0.22 + np.array([8, 2, 2], np.float32)
        teeth = np.array([228, 222, 208], np.float32) * light

        def poly_mask(poly: np.ndarray) -> np.ndarray:
            m = np.zeros((ph, pw), np.uint8)
            cv2.fillPoly(m, [np.round(poly * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
            return m.astype(np.float32) / 255.0

        n = len(L.UPPER_INNER)
        upper, lower = inner[:n], inner[n:][::-1]
        u = np.linspace(-1, 1, n)[:, None]
        prof = (1 - u * u) ** 0.5
        size = np.clip(aperture / 0.12, 0.0, 1.0)  # teeth show more as the mouth opens
        upper_teeth = np.concatenate(
            [upper, (upper + ey * cfg.upper_teeth * iod * prof * (0.4 + 0.6 * size))[::-1]]
        )
        lower_teeth = np.concatenate([lower, (lower - ey * cfg.lower_teeth * iod * prof * size)[::-1]])
        m_in = poly_mask(inner)
        m_up = poly_mask(upper_teeth) * m_in
        m_lo = poly_mask(lower_teeth) * m_in
        # Shading: teeth darken towards the mouth corners and away from the lips.
        ys, xs = np.mgrid[0:ph, 0:pw].astype(np.float32)
        centre = inner.mean(0)
        half_w = max(float(np.ptp(inner[:, 0])) / 2, 1.0)
        corner = np.clip(1 - ((xs - centre[0]) / half_w) ** 2, 0, 1)
        shade = (0.45 + 0.55 * corner)[..., None]
        interior = np.empty_like(patch)
        interior[:] = cavity
        interior = interior * (0.7 + 0.3 * corner[..., None])
        interior += (teeth * shade - interior) * m_up[..., None]
        interior += (teeth * 0.8 * shade - interior) * (0.85 * m_lo[..., None])
        m_soft = cv2.GaussianBlur(m_in, (0, 0), sigmaX=max(0.6, 0.004 * iod))
        patch += (interior - patch) * np.minimum(m_in, m_soft)[..., None]
