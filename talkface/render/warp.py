"""Stage B, the ``warp`` engine: move the real lips, chin and jaw with a piecewise-affine mesh warp.

Training-free and identity-preserving: every output pixel of the lower face is a real pixel of the
same frame, moved. A triangle mesh spans the lips, chin and jaw (mediapipe landmarks) plus a fixed
outer ring; handle points get displacements that realise the target inner-lip aperture and mouth
width (the upper lip takes :attr:`WarpConfig.upper_share` of an opening, the lower lip and the jaw
the rest, as the jaw hinges open), the ring stays put, and each output triangle samples its source
triangle (backward mapping, bilinear). Displacement falls to zero on the ring, so the warp is
continuous with the untouched frame. Where the lips part, the mouth interior is painted by
:class:`~talkface.render.mouth_interior.MouthInterior`; the mesh and the rasteriser here are
independent of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from talkface.face import landmarks as L
from talkface.face.canonical import face_frame
from talkface.face.landmarks import SKIN_POINTS, mouth_aperture, mouth_width
from talkface.face.paste import feathered_mask, paste_back
from talkface.media.frame import Box, I420Frame
from talkface.render.mouth_bank import (
    BANK_SEAM_APERTURE,
    BankEntry,
    MouthBank,
    mesh_points,
    shape_descriptor,
    to_face,
)
from talkface.render.mouth_interior import MouthInterior, interior_margin, paint_seam
from talkface.render.mouth_learned import OPENING_REFERENCE, LearnedMouth


def delaunay(points: np.ndarray) -> np.ndarray:
    """Delaunay triangulation of ``(n, 2)`` float points (pixels) with OpenCV's ``Subdiv2D``.

    Returns:
        ``(t, 3)`` int32 indices into ``points``, one row per triangle. Points must be distinct.

    (scipy.spatial's Qhull gives the same triangles up to degenerate slivers on the hull, at
    0.13 s of import time.)
    """
    lo, hi = np.floor(points.min(0)).astype(int) - 1, np.ceil(points.max(0)).astype(int) + 2
    subdiv = cv2.Subdiv2D((int(lo[0]), int(lo[1]), int(hi[0] - lo[0]), int(hi[1] - lo[1])))
    vertex = {subdiv.insert((float(x), float(y))): i for i, (x, y) in enumerate(points)}
    triangles = []
    for tri in subdiv.getTriangleList():
        corners = [subdiv.findNearest((float(tri[2 * k]), float(tri[2 * k + 1])))[0] for k in range(3)]
        if all(c in vertex for c in corners):  # not one of the four virtual outer vertices
            triangles.append([vertex[c] for c in corners])
    return np.array(triangles, np.int32).reshape(-1, 3)


@dataclass(frozen=True)
class WarpConfig:
    """Hyper-parameters of the warp renderer (lengths in interocular distances, IOD)."""

    upper_share: float = 0.25  # share of an aperture change taken by the upper lip
    jaw_follow: float = 1.0  # chin displacement / lower-lip displacement
    ring_margin: float = 0.45  # distance of the fixed outer ring beyond the jaw line
    gap_exponent: float = 0.6  # inner-lip gap profile (1 - u^2)^e across the mouth
    upper_teeth: float = 0.055  # height of visible upper teeth at full size
    lower_teeth: float = 0.045
    feather: float = 0.06  # soft edge of the paste-back mask
    pout: float = 0.02  # outer-lip outward shift at full rounding
    lip_inset: float = 0.03  # how far outside the inner-lip landmarks the lips are sampled
    seam_inset: float = 0.015  # ... when parting (nearly) closed lips: half their dark seam
    smooth: float = 0.06  # blur of the displacement field outside the lips (no creases)


# Learned-renderer fallback: a target at most CLOSING_MARGIN (IOD) less open than the frame's own
# mouth is an opening (its lips are kept); a frame at least OWN_INTERIOR_APERTURE open keeps its own
# interior, stretched, when opening further.
CLOSING_MARGIN = 0.01
OWN_INTERIOR_APERTURE = 0.06
# Painted teeth and cavity between lips parted from a closed mouth read, to a landmark tracker (and
# to the eye), wider than the lips part: by a median 0.035 IOD over the first frames of the 27
# shared clips that start closed, 0.01-0.04 on the shared portraits. So the painted mouth is
# calibrated for each face (:class:`PaintedCalibration`): rendered with the lips parted by each of
# CALIBRATION_PARTED (IOD) and read back by the tracker, whose units the motion targets are in.
CALIBRATION_PARTED = (0.0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.13, 0.16, 0.2, 0.25)
CALIBRATION_READ_SIZE = 640  # pixels: larger renders are shrunk to this before they are read
FACE_BOX_MARGIN = 0.5  # the face crop a tracker reads the calibration renders in (share of its size)
MAP_NODES_PER_IOD = 100  # warp-map grid resolution: one node per IOD / 100 pixels (at most 3)
_UP, _LO = np.array(L.UPPER_INNER), np.array(L.LOWER_INNER)
# Outer-lip points (corners excluded) and the inner-lip point each one follows.
_UP_OUT, _UP_IN_OF_OUT = np.array(L.UPPER_OUTER_MID), np.array(L.UPPER_INNER_OF_OUTER)
_LO_OUT, _LO_IN_OF_OUT = np.array(L.LOWER_OUTER_MID), np.array(L.LOWER_INNER_OF_OUTER)
_LIPS = L.LIPS
_BELOW = sorted(set(L.JAW + L.LOWER_FACE + L.CHIN) - set(_LIPS))
_HANDLES = _LIPS + _BELOW + sorted(set(L.NOSE_BASE) - set(_LIPS) - set(_BELOW))
_RING_FROM = L.JAW  # ring points are these jaw points pushed outwards
# A Delaunay triangulation of n points has at most 2n - 5 triangles: mesh ids (and 0) fit a byte.
_MAX_TRIANGLES = 2 * (len(_HANDLES) + len(_RING_FROM)) - 5
assert _MAX_TRIANGLES < 256, "triangle ids must fit the uint8 map cv2.LUT reads"
_INDEX = {p: i for i, p in enumerate(_HANDLES)}
# Inner-lip pairs without the corners (shared by both lips), and their rows in the mesh.
_MID = [k for k, p in enumerate(L.UPPER_INNER) if p not in (L.UPPER_INNER[0], L.UPPER_INNER[-1])]
_INNER_UP_ROWS = np.array([_INDEX[L.UPPER_INNER[k]] for k in _MID])
_INNER_LO_ROWS = np.array([_INDEX[L.LOWER_INNER[k]] for k in _MID])
# Mesh rows of the inner and outer lip contours as closed polygons (upper lip, then lower lip back).
_INNER_POLY_ROWS = np.array([_INDEX[p] for p in L.UPPER_INNER + L.LOWER_INNER[::-1]])
_OUTER_POLY_ROWS = np.array([_INDEX[p] for p in L.UPPER_OUTER + L.LOWER_OUTER[::-1]])


def face_box(lm: np.ndarray, shape: tuple[int, ...]) -> Box:
    """``(x0, y0, x1, y1)`` pixel box around the face of ``(478, 2)`` landmarks ``lm``, grown by
    :data:`FACE_BOX_MARGIN` of its size on each side (a tracker finds the face in it), clipped to
    a frame of ``shape`` ``(H, W, ...)``."""
    lo, hi = lm.min(0), lm.max(0)
    grow = FACE_BOX_MARGIN * (hi - lo)
    (x0, y0), (x1, y1) = np.floor(lo - grow).astype(int), np.ceil(hi + grow).astype(int)
    return max(int(x0), 0), max(int(y0), 0), min(int(x1), shape[1]), min(int(y1), shape[0])


class PaintedCalibration:
    """How far to part a face's lips (IOD) for its painted mouth to read a target aperture.

    Args:
        parted: ``(k,)`` float lip partings (IOD) the face was rendered at, increasing.
        reads: ``(k,)`` float inner-lip apertures (IOD) a tracker read on those renders
            (made non-decreasing here).

    :meth:`parting` inverts the reading by interpolation, and beyond the last point keeps its offset.
    The identity map (``PaintedCalibration.identity()``) parts the lips by the target.
    """

    def __init__(self, parted: np.ndarray, reads: np.ndarray) -> None:
        self.parted = np.asarray(parted, np.float64)
        self.reads = np.maximum.accumulate(np.asarray(reads, np.float64))

    @classmethod
    def identity(cls) -> PaintedCalibration:
        """No correction."""
        return cls(np.array([0.0, 1.0]), np.array([0.0, 1.0]))

    @classmethod
    def measure(
        cls,
        renderer: WarpRenderer,
        rgb: np.ndarray,
        lm: np.ndarray,
        read: Callable[[np.ndarray], np.ndarray | None],
    ) -> PaintedCalibration:
        """Render ``rgb`` (``(H, W, 3)`` uint8, the whole face; ``(478, 2)`` pixel landmarks ``lm``)
        with a painted mouth parted by each of :data:`CALIBRATION_PARTED` (``renderer``'s mesh
        settings, no bank or learned renderer) and read each back with ``read`` (an RGB image ->
        ``(478, 2)`` landmarks, or ``None`` when it finds no face). Identity if under three reads."""
        painter = WarpRenderer(renderer.config, renderer.pads)
        width = float(mouth_width(lm))
        parted, reads = [], []
        for p in CALIBRATION_PARTED:
            out, _ = painter.render(rgb, lm, p, width, want_mask=False)
            scale = CALIBRATION_READ_SIZE / max(out.shape[:2])
            if scale < 1:  # the tracker reads a face at under 256 pixels anyway; apertures are in IOD
                out = cv2.resize(out, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            found = read(out)
            if found is not None:
                parted.append(p)
                reads.append(float(mouth_aperture(found)))
        if len(parted) < 3:
            return cls.identity()
        return cls(np.array(parted), np.array(reads))

    def parting(self, aperture: float, source: float) -> float:
        """The lip parting (IOD) at which the painted mouth reads ``aperture``, for a frame whose own
        mouth is ``source`` open: fully corrected for a closed mouth, not at all from
        :data:`~talkface.render.mouth_learned.OPENING_REFERENCE` on (its own interior shows)."""
        closed = float(np.clip(1 - source / OPENING_REFERENCE, 0, 1))
        if aperture <= self.reads[-1]:
            parted = float(np.interp(aperture, self.reads, self.parted))
        else:
            parted = aperture - float(self.reads[-1] - self.parted[-1])
        return max(0.0, aperture + closed * (parted - aperture))


class WarpRenderer:
    """Render target mouth shapes onto real frames by warping a landmark mesh.

    Args:
        config: :class:`WarpConfig`.
        pads: ``(top, bottom, left, right)`` pixels by which the fixed outer ring is pushed out
            (Wav2Lip's ``--pads``: a larger bottom pad lets the chin move further before the
            neck is stretched).
        bank: real mouths of this face (:class:`~talkface.render.mouth_bank.MouthBank`) to put
            where the lips part, instead of the painted :class:`MouthInterior`; ``None``: always paint.
        bank_distance: the largest shape distance (IOD) at which a bank entry is taken (``inf``:
            always the nearest entry); beyond it ``learned`` fills the mouth, or it is painted.
        learned: the learned mouth renderer
            (:class:`~talkface.render.mouth_learned.LearnedMouth`) for shapes the bank lacks.
        read_landmarks: a landmark tracker (an RGB image -> ``(478, 2)`` pixel landmarks, or
            ``None``) to calibrate painted openings with (:class:`PaintedCalibration`), on the first
            frame that needs one; ``None``: painted mouths part the lips by the target.

    Use :meth:`render` per frame. The mesh connectivity is fixed on the first face seen (so it does
    not flip from frame to frame).
    """

    def __init__(
        self,
        config: WarpConfig | None = None,
        pads: tuple[int, int, int, int] = (0, 0, 0, 0),
        bank: MouthBank | None = None,
        bank_distance: float = float("inf"),
        learned: LearnedMouth | None = None,
        read_landmarks: Callable[[np.ndarray], np.ndarray | None] | None = None,
    ) -> None:
        self.config = config or WarpConfig()
        self.read_landmarks = read_landmarks
        self.calibration: PaintedCalibration | None = None  # measured on the first painted opening
        self.pads = pads
        self.bank = bank
        self.bank_distance = bank_distance
        self.learned = learned
        self.choices: dict[str, int] = {
            "bank": 0,
            "own": 0,
            "learned": 0,
            "painted": 0,
        }  # mouths rendered, by source
        self._triangles: np.ndarray | None = None
        self.interior = MouthInterior(self.config.upper_teeth, self.config.lower_teeth)

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
        self._triangles = delaunay(pts)

    def target_points(
        self, lm: np.ndarray, aperture: float, width: float, rounding: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Source and destination mesh points for a target mouth shape.

        Args:
            lm: ``(478, 2)`` float32 pixel landmarks of the frame.
            aperture: target inner-lip aperture |p13 - p14| / IOD (>= 0).
            width: target mouth width |p61 - p291| / IOD.
            rounding: lip rounding in [0, 1]: the opening becomes rounder (evenly open across a
                narrower mouth) and the protruding lips look fuller.

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
        u = np.clip((fx[_UP] + fx[_LO]) / 2 / half_inner, -1, 1)
        exponent = cfg.gap_exponent * (1 - 0.6 * rounding)
        delta = aperture * iod * (1 - u * u) ** exponent - (fy[_LO] - fy[_UP])
        dy[_UP] = -cfg.upper_share * delta
        dy[_LO] = (1 - cfg.upper_share) * delta
        pout = cfg.pout * iod * rounding  # protruding lips show more of their red
        dy[_UP_OUT] = 0.8 * dy[_UP_IN_OF_OUT] - pout
        dy[_LO_OUT] = dy[_LO_IN_OF_OUT] + pout
        lower_centre_dy = dy[L.LOWER_LIP_INNER]
        # Jaw and chin hinge: full lower-lip motion at and below the lower lip, none at corner height.
        t = np.clip(fy[_BELOW] / max(fy[17], 1e-3), 0, 1)
        side = np.clip((0.8 * iod - np.abs(fx[_BELOW])) / (0.4 * iod), 0, 1)
        dy[_BELOW] = cfg.jaw_follow * lower_centre_dy * (t * t * (3 - 2 * t)) * side
        # Width: scale lip x about the mouth centre; the skin beside the mouth follows partly.
        scale = width * iod / max(fx[L.MOUTH_LEFT] - fx[L.MOUTH_RIGHT], 1e-3) - 1
        dx[_LIPS] = scale * fx[_LIPS]
        bx, by = fx[_BELOW], fy[_BELOW]
        near = np.clip(1 - np.abs(by) / (0.5 * iod), 0, 1) * np.clip(1 - np.abs(bx) / (0.6 * iod), 0, 1)
        dx[_BELOW] = 0.5 * scale * bx * near

        disp = dx[:, None] * ex[None, :] + dy[:, None] * ey[None, :]
        src = self._points(lm, iod)
        dst = src.copy()
        dst[: len(_HANDLES)] += disp[_HANDLES]
        # Sample the lips from slightly outside the detected inner contour where the source mouth is
        # open: the landmarks sit a pixel or two inside the teeth, and those edge pixels would
        # otherwise stay on the lip line when a mouth is closed. They fall in the interior instead.
        # Where (nearly) closed lips part, the dark seam between them would likewise stay on both
        # lips' edges, a dark rim around the opening that reads (to a viewer and to a landmark
        # tracker) as a mouth twice as open: sample the lips from outside it, by as much as they part.
        gap = fy[_LO[_MID]] - fy[_UP[_MID]]
        seam = np.minimum(cfg.seam_inset * iod, np.clip(delta[_MID], 0, None))
        inset = np.minimum(cfg.lip_inset * iod, np.maximum(0.5 * np.clip(gap, 0, None), seam))
        src[_INNER_UP_ROWS] -= inset[:, None] * ey
        src[_INNER_LO_ROWS] += inset[:, None] * ey
        return src, dst

    # -- pixels -----------------------------------------------------------------------------------
    def render(
        self,
        frame: np.ndarray,
        lm: np.ndarray,
        aperture: float,
        width: float,
        rounding: float = 0.0,
        inplace: bool = False,
        want_mask: bool = True,
        index: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Render one frame.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB frame (modified only if ``inplace``).
            lm: ``(478, 2)`` float32 pixel landmarks of the face in ``frame``.
            aperture: target inner-lip aperture over IOD.
            width: target mouth width over IOD.
            rounding: lip rounding in [0, 1] (see :meth:`target_points`).
            inplace: draw into ``frame`` instead of a copy (saves a frame copy).
            want_mask: also return the mask (a full-frame array; skip it when not needed).
            index: the output frame's index, for the bank's temporal coherence (``None``: no bank).

        Returns:
            ``(out, mask)``: the ``(H, W, 3)`` uint8 frame and the ``(H, W)`` bool mask of pixels
            that may differ from ``frame`` (everything else is bit-identical), or ``None``.
        """
        out = frame if inplace else frame.copy()

        def face() -> tuple[np.ndarray, np.ndarray]:
            x0, y0, x1, y1 = face_box(lm, frame.shape)
            return frame[y0:y1, x0:x1], lm - np.array([x0, y0], np.float32)

        drawn = self._render(out, lm, aperture, width, rounding, index, face)
        mask = np.zeros(frame.shape[:2], bool) if want_mask else None
        if drawn is not None:
            x0, y0, patch, alpha = drawn
            paste_back(out, patch, alpha, (x0, y0), inplace=True)
            if mask is not None:
                mask[y0 : y0 + alpha.shape[0], x0 : x0 + alpha.shape[1]] = alpha > 0
        return out, mask

    def _render(
        self,
        frame: np.ndarray,
        lm: np.ndarray,
        aperture: float,
        width: float,
        rounding: float,
        index: int | None,
        face_image: Callable[[], tuple[np.ndarray, np.ndarray]],
    ) -> tuple[int, int, np.ndarray, np.ndarray] | None:
        """The rendered patch of ``frame`` for the target shape (arguments as :meth:`render`;
        ``face_image()`` gives the whole face, RGB with its landmarks, for :class:`PaintedCalibration`).

        Returns:
            ``(x0, y0, patch, alpha)``: the patch's top-left corner in pixels, its ``(h, w, 3)``
            uint8 RGB pixels and its ``(h, w)`` float32 paste-back weights (0 where the frame must
            stay untouched), or ``None`` if nothing moved.
        """
        self._ensure_topology(lm)
        h, w = frame.shape[:2]
        aperture, rounding = max(aperture, 0.0), float(np.clip(rounding, 0, 1))
        src, dst = self.target_points(lm, aperture, width, rounding)
        own = float(mouth_aperture(lm))  # the frame's own mouth
        source = self._mouth_source(lm, dst, aperture, own, index)
        drawn = aperture
        if source == "painted" and own < OPENING_REFERENCE and self.read_landmarks is not None:
            if self.calibration is None:
                rgb, face_lm = face_image()
                self.calibration = PaintedCalibration.measure(self, rgb, face_lm, self.read_landmarks)
            drawn = self.calibration.parting(aperture, own)
            if drawn != aperture:
                src, dst = self.target_points(lm, drawn, width, rounding)
        _, _, ey, iod = face_frame(lm)
        inner = dst[_INNER_POLY_ROWS]
        # Only triangles with a moving corner change pixels (a still triangle maps each pixel onto
        # itself), and the mouth interior is painted inside the inner lips: work in their bounding box.
        moving = np.abs(dst - src).max(1) > 1e-3
        triangles = self._triangles[moving[self._triangles].any(1)]
        margin = interior_margin(iod)
        corners = np.concatenate([dst[triangles.ravel()], inner - margin, inner + margin])
        x0, y0 = np.floor(corners.min(0)).astype(int)
        x1, y1 = np.ceil(corners.max(0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        off = np.array([x0, y0], np.float32)
        pw, ph = x1 - x0, y1 - y0
        inner -= off

        # Backward map: for each destination pixel, the source pixel via its triangle's affine map.
        # The map is continuous (and smoothed away from the lips), so it is evaluated on a coarse grid,
        # one node per ``step`` pixels (about IOD / 100: the same work for most face sizes), and
        # upsampled bilinearly.
        step = int(np.clip(round(iod / MAP_NODES_PER_IOD), 1, 3))
        gh, gw = (ph + step - 1) // step, (pw + step - 1) // step
        # Triangle k + 1 on each grid node (0: none): ids fit a byte (see _MAX_TRIANGLES), so
        # cv2.LUT can look up their coefficients (6x np.take's speed).
        tri_id = np.zeros((gh, gw), np.uint8)
        d_tri, s_tri = dst[triangles] - off, src[triangles] - off  # (T, 3, 2)
        # Affine map of each destination triangle onto its source triangle: s = A (d - d0) + s0, with
        # A = [s1 - s0, s2 - s0] [d1 - d0, d2 - d0]^-1 (closed-form 2x2 inverse, all triangles at once).
        dd = np.stack([d_tri[:, 1] - d_tri[:, 0], d_tri[:, 2] - d_tri[:, 0]], axis=2)  # (T, 2, 2) columns
        ss = np.stack([s_tri[:, 1] - s_tri[:, 0], s_tri[:, 2] - s_tri[:, 0]], axis=2)
        det = dd[:, 0, 0] * dd[:, 1, 1] - dd[:, 0, 1] * dd[:, 1, 0]
        ok = np.abs(det) > 1e-3  # degenerate (collapsed) triangles cover no pixel
        inv = np.stack([dd[:, 1, 1], -dd[:, 0, 1], -dd[:, 1, 0], dd[:, 0, 0]], axis=1).reshape(-1, 2, 2)
        inv /= np.where(ok, det, 1.0)[:, None, None]
        lin = ss @ inv
        # Displacement s - d = (A - I) d + b per triangle, on the grid's own coordinates (node i sits at
        # pixel step * i + (step - 1) / 2); row 0 (outside every moving triangle) stays 0.
        coef = np.zeros((6, len(d_tri) + 1), np.float32)
        shift = (step - 1) / 2
        rel = lin - np.eye(2, dtype=np.float32)
        bias = s_tri[:, 0] - (lin @ d_tri[:, 0, :, None])[..., 0] + rel.sum(2) * shift
        coef[:, 1:] = np.stack(
            [
                rel[:, 0, 0] * step,
                rel[:, 0, 1] * step,
                bias[:, 0],
                rel[:, 1, 0] * step,
                rel[:, 1, 1] * step,
                bias[:, 1],
            ]
        )
        nodes = np.round((d_tri - shift) * (16 / step)).astype(np.int32)  # grid nodes, 4 fractional bits
        for k in np.flatnonzero(ok):
            cv2.fillConvexPoly(tri_id, nodes[k], int(k) + 1, lineType=cv2.LINE_8, shift=4)
        gx = np.arange(gw, dtype=np.float32)[None, :]
        gy = np.arange(gh, dtype=np.float32)[:, None]
        table = np.zeros((6, 256), np.float32)
        table[:, : coef.shape[1]] = coef
        c = [cv2.LUT(tri_id, row) for row in table]
        disp_x = c[0] * gx + c[1] * gy + c[2]
        disp_y = c[3] * gx + c[4] * gy + c[5]
        # Where target lips squash a triangle into a sliver, its affine map is extreme and draws a
        # thin streak (seen above the mouth corners); a median over a few nodes removes streaks up
        # to 2 pixels wide and leaves the piecewise-affine field elsewhere nearly unchanged.
        ksize = 5 if step == 1 else 3
        disp_x, disp_y = cv2.medianBlur(disp_x, ksize), cv2.medianBlur(disp_y, ksize)
        disp_x, disp_y = self._smooth_field(disp_x, disp_y, (dst - off - shift) / step, iod / step)
        full = (gw * step, gh * step)
        map_x = cv2.resize(disp_x, full, interpolation=cv2.INTER_LINEAR)[:ph, :pw]
        map_y = cv2.resize(disp_y, full, interpolation=cv2.INTER_LINEAR)[:ph, :pw]
        map_x += np.arange(x0, x1, dtype=np.float32)[None, :]
        map_y += np.arange(y0, y1, dtype=np.float32)[:, None]
        warped = cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

        self._fill_mouth(source, warped, frame, lm, dst, off, inner, ey, iod, drawn, aperture, own)

        hull = cv2.convexHull(src - off)
        alpha = feathered_mask(hull.reshape(-1, 2), (ph, pw), self.config.feather * iod)
        return x0, y0, warped, alpha

    def _mouth_source(
        self, lm: np.ndarray, dst: np.ndarray, aperture: float, own: float, index: int | None
    ) -> str | BankEntry:
        """What fills the mouth for this frame's target (mesh points ``dst``; ``own``: the frame's
        own inner-lip aperture, IOD): a real mouth from the bank (its
        :class:`~talkface.render.mouth_bank.BankEntry`), ``"own"`` (the frame's own mouth, warped),
        ``"learned"`` (the learned renderer) or ``"painted"``. Called once per frame: the bank's
        temporal coherence counts the choices."""
        dst_lm = lm.copy()
        dst_lm[_HANDLES] = dst[: len(_HANDLES)]
        if self.bank is not None and index is not None:
            target = shape_descriptor(mesh_points(to_face(dst_lm, lm), 1.0))
            present = shape_descriptor(mesh_points(to_face(lm, lm), 1.0))
            choice = self.bank.choose(target, index, present, self.bank_distance)
            if choice is not None:
                return choice
        if self.learned is not None:
            # Opening: the frame's own real lips (warped) stay. If its mouth is open already, its own
            # interior stretched beats an invented one; else the learned interior goes between them.
            # Closing: the learned renderer redraws the lips, which the warp squeezed.
            opening = aperture >= own - CLOSING_MARGIN
            if opening and own >= OWN_INTERIOR_APERTURE and self.bank is not None:
                return "own"
            # It declines with no reference yet, or an opening it has no interior for.
            if not self.learned.declines(interior_only=opening):
                return "learned"
        return "painted"

    def _fill_mouth(
        self,
        source: str | BankEntry,
        warped: np.ndarray,
        frame: np.ndarray,
        lm: np.ndarray,
        dst: np.ndarray,
        off: np.ndarray,
        inner: np.ndarray,
        ey: np.ndarray,
        iod: float,
        aperture: float,
        reads: float,
        own: float,
    ) -> None:
        """Fill the mouth where the lips part from ``source`` (:meth:`_mouth_source`): a real mouth from
        the bank, the frame's own (warped) mouth, the learned renderer's, or the painted interior.
        ``aperture``: the lips' target opening (IOD); ``reads``: the opening the mouth must look like
        (the painted interior's teeth are as bright as a real mouth's that open); ``own``: the
        frame's own aperture (IOD)."""
        self.interior.learn_teeth_colour(frame, lm)
        dst_lm = lm.copy()
        dst_lm[_HANDLES] = dst[: len(_HANDLES)]
        if isinstance(source, BankEntry):
            self.bank.paste(source, warped, dst_lm - off, iod)
            paint_seam(warped, frame, lm, inner, iod, aperture, BANK_SEAM_APERTURE)
            self.choices["bank"] += 1
            return
        if source == "own":
            self.choices["own"] += 1
            return
        opening = aperture >= own - CLOSING_MARGIN
        if source == "learned" and self.learned.fill(warped, dst_lm - off, iod, interior_only=opening):
            self.choices["learned"] += 1
            return
        self.choices["painted"] += 1
        self.interior.paint(warped, frame, lm, inner, ey, iod, aperture, reads)

    def footprint(self, lm: np.ndarray) -> Box:
        """``(x0, y0, x1, y1)`` pixel box holding every pixel :meth:`render` reads or writes for
        these landmarks, whatever the target shape: the mesh with its fixed ring, the skin samples,
        and a margin for the mouth interior's soft edge and bilinear sampling (not clipped)."""
        iod = face_frame(lm)[3]
        pts = np.concatenate([self._points(lm, iod), lm[SKIN_POINTS]])
        margin = interior_margin(iod) + 0.1 * iod + 2
        (x0, y0), (x1, y1) = np.floor(pts.min(0) - margin), np.ceil(pts.max(0) + margin)
        return int(x0), int(y0), int(x1), int(y1)

    def render_i420(
        self,
        frame: I420Frame,
        lm: np.ndarray,
        aperture: float,
        width: float,
        rounding: float = 0.0,
        index: int | None = None,
    ) -> None:
        """:meth:`render` on an I420 frame, in place, converting only :meth:`footprint` to RGB.

        The rendered patch is blended in YUV (:meth:`~talkface.media.frame.I420Frame.blend_rgb`):
        luma changes only where the mask is set, chroma only in 2x2 blocks holding a masked pixel,
        and the rest of the frame keeps its exact decoded values. Arguments as :meth:`render`.
        """
        rgb, (bx0, by0, _, _) = frame.rgb(self.footprint(lm))
        if rgb.size == 0:
            return

        def face() -> tuple[np.ndarray, np.ndarray]:
            crop, (fx0, fy0, _, _) = frame.rgb(face_box(lm, frame.shape))
            return crop, lm - np.array([fx0, fy0], np.float32)

        local = lm - np.array([bx0, by0], np.float32)
        drawn = self._render(rgb, local, aperture, width, rounding, index, face)
        if drawn is not None:
            x0, y0, patch, alpha = drawn  # in the footprint's pixels
            frame.blend_rgb(bx0 + x0, by0 + y0, patch, alpha)

    def _smooth_field(
        self, disp_x: np.ndarray, disp_y: np.ndarray, dst: np.ndarray, iod: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Blur the grid displacement field away from the lips.

        A piecewise-affine field bends along every mesh edge; where the chin is pulled far (a wide
        open mouth closing), those bends show as creases running from the mouth corners to the jaw.
        Blurring removes them; the lips themselves keep the exact field so that they land on target.

        Args:
            disp_x, disp_y: ``(gh, gw)`` float32 displacement in pixels on the grid.
            dst: ``(n, 2)`` destination mesh points in grid units.
            iod: interocular distance in grid units.
        """
        sigma = self.config.smooth * iod
        if sigma < 0.5:
            return disp_x, disp_y
        gh, gw = disp_x.shape
        field = np.dstack([disp_x, disp_y])
        # The blurred field and the blend weights are smooth on the scale of sigma: compute them on a
        # grid ``f`` times coarser (sigma about 2 nodes there), then upsample. Exact factor-f
        # block averages and bilinear upsampling keep the two grids aligned.
        f = max(1, int(sigma / 2))
        sh, sw = -(-gh // f), -(-gw // f)
        padded = cv2.copyMakeBorder(field, 0, sh * f - gh, 0, sw * f - gw, cv2.BORDER_REPLICATE)
        coarse = cv2.resize(padded, (sw, sh), interpolation=cv2.INTER_AREA) if f > 1 else padded
        soft = cv2.GaussianBlur(coarse, (0, 0), sigmaX=sigma / f, borderType=cv2.BORDER_REPLICATE)
        lips = dst[_OUTER_POLY_ROWS] / f + (1 / f - 1) / 2  # node centres on the coarse grid
        keep = np.zeros((sh, sw), np.uint8)
        cv2.fillPoly(keep, [np.round(lips * 16).astype(np.int32)], 255, cv2.LINE_8, shift=4)
        r = max(1, int(round(sigma / f)))  # the blend to the blurred field happens on the skin, not the lips
        keep = cv2.dilate(keep, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        keep = cv2.GaussianBlur(keep.astype(np.float32) / 255.0, (0, 0), sigmaX=sigma / (2 * f))
        if f > 1:
            soft = cv2.resize(soft, (sw * f, sh * f), interpolation=cv2.INTER_LINEAR)[:gh, :gw]
            keep = cv2.resize(keep, (sw * f, sh * f), interpolation=cv2.INTER_LINEAR)[:gh, :gw]
        field = cv2.blendLinear(field, soft, keep, 1.0 - keep)  # soft + (field - soft) * keep
        return field[..., 0], field[..., 1]
