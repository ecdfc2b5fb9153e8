"""The whole-head renderer of photo animation: the head of a still photo turned in 3D by small
angles, with blinks, while the shoulders and the background stay put (SadTalker's face renderer
and paste-back, as a warp of the photo's own pixels).

Set up once per photo (:class:`HeadRenderer`):

- a **depth** for every pixel of the head: the mesh's own depth inside the face, an ellipsoid
  through the sides of the face for the hair and the rest of the skull (:func:`head_depth`);
- a **rigidity** weight: 1 on the head and hair, falling to 0 down the neck (the neck stretches,
  it does not tear), 0 on the shoulders (:func:`head_weight`);
- the person's **alpha** (:func:`~talkface.face.segment.person_mask`) and a **background plate**:
  the photo with the moving part inpainted, which shows where the moved head uncovers the
  background.

Each frame (:meth:`HeadRenderer.render`), the head's points move by the pose change, ``X' =
k dR (X - t0) + t0 + dt`` (:mod:`talkface.face.pose`; scaled-orthographic camera), weighted by the
rigidity; the warp is inverted on a coarse grid (fixed-point iteration), upsampled, composed with
the blink warp of each eye (:func:`blink_source`) and applied to the frame the lip-sync engine
rendered; the warped person is laid over the plate through its warped alpha.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkface.face.expression import ExpressionBasis
from talkface.face.landmarks import EYELIDS
from talkface.face.pose import HeadPose, fit_pose, rotation_matrix
from talkface.media.frame import I420Frame, i420_planes

GRID_STEP = 4  # pixels between the points where the head warp is solved
FIXED_POINT_ITERATIONS = 4
MAX_SHIFT = 0.35  # the largest displacement allowed for, as a fraction of the face width
LID_STRETCH = 0.45  # skin above the upper lid that covers the eye in a blink, in eye widths
EDGE_BAND = 0.15  # face widths from the image's edge over which the head's motion fades out
PLATE_HAZE = 0.03  # the background plate is inpainted where the person's alpha exceeds this ...
PLATE_WEIGHT = 0.2  # ... and the head weight exceeds this
PLATE_RIM = 0.03  # face widths inside the hole's edge over which the plate's fill fades in
PLATE_ALPHA = 0.3  # the least opacity of the matted soft edge that moves with the head
HEAD_SIDE = (1.0, 1.3)  # face widths from the face's centre over which the head's weight fades sideways
HEAD_TOP = (0.7, 1.1)  # face heights above the forehead (landmark 10) over which it fades upwards
EXPRESSION_SIGMA = 0.03  # face widths: reach of each landmark's pull in the expression field
EXPRESSION_FLOOR = 0.05  # Shepard weight of "no motion", so the field fades away from the face
HEAD_DEPTH = 0.8  # skull centre behind the eye corners, in face widths (measured: 0.7-0.8)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


@dataclass(frozen=True)
class FaceFrame:
    """Sizes of the photo's face in pixels: ``centre`` ``(2,)`` x, y between the face sides,
    ``width`` (face side to side, landmarks 234-454), ``chin`` and ``top`` (y of 152 and 10)."""

    centre: np.ndarray
    width: float
    chin: float
    top: float

    @classmethod
    def of(cls, mesh: np.ndarray) -> FaceFrame:
        """From a ``(478, 2+)`` mesh in pixels."""
        sides = mesh[[234, 454], :2]
        return cls(
            sides.mean(0), float(np.linalg.norm(sides[1] - sides[0])), float(mesh[152, 1]), float(mesh[10, 1])
        )

    @property
    def height(self) -> float:
        return self.chin - self.top


def head_weight(xs: np.ndarray, ys: np.ndarray, face: FaceFrame, shape: tuple[int, int]) -> np.ndarray:
    """How rigidly each point moves with the head, in [0, 1]: 1 on the head, falling down the
    neck to 0 at half a face height below the chin; from the jaw down also 0 sideways beyond 0.85
    face widths from the face's centre (collar, shoulders); above it 0 beyond :data:`HEAD_SIDE`
    face widths sideways and :data:`HEAD_TOP` face heights above the forehead (a raised hand,
    another person); and 0 at the image's top, left and right edges (what lies beyond them is
    unknown: the head stretches there rather than pulling in repeated edge pixels).

    Args:
        xs, ys: broadcastable pixel coordinates.
        face: the face's sizes.
        shape: the image's ``(height, width)``.

    Returns:
        float32 weights, the broadcast shape.
    """
    below = (ys - face.chin) / (0.5 * face.height)
    down = 1 - _smoothstep(below)
    side = 1 - _smoothstep((np.abs(xs - face.centre[0]) - 0.45 * face.width) / (0.4 * face.width))
    low = _smoothstep((ys - (face.chin - 0.3 * face.height)) / (0.3 * face.height))
    dx = np.abs(xs - face.centre[0]) / face.width
    head_side = 1 - _smoothstep((dx - HEAD_SIDE[0]) / (HEAD_SIDE[1] - HEAD_SIDE[0]))
    above = (face.top - ys) / face.height
    head_top = 1 - _smoothstep((above - HEAD_TOP[0]) / (HEAD_TOP[1] - HEAD_TOP[0]))
    band = EDGE_BAND * face.width
    h, w = shape
    edges = _smoothstep(ys / band) * _smoothstep(xs / band) * _smoothstep((w - 1 - xs) / band)
    return (down * (1 - (1 - side) * low) * head_side * head_top * edges).astype(np.float32)


def head_depth(xs: np.ndarray, ys: np.ndarray, mesh: np.ndarray, face: FaceFrame) -> np.ndarray:
    """Depth (pixels, mediapipe's z) of every grid point: the mesh's own inside the face; outside
    it, the depth of the nearest point of the face's outline (neck, hair beside the cheeks), bending
    back to the depth of the skull's centre over the top of the head (an ellipsoid), smoothed.

    Args:
        xs, ys: ``(h, w)`` pixel coordinates of the grid.
        mesh: ``(478, 3)`` pixel landmarks with depth.
        face: the face's sizes.
    """
    from scipy.interpolate import griddata

    from talkface.face.landmarks import FACE_OVAL

    front_z = float(mesh[[33, 263, 168], 2].mean())
    centre_z = front_z + HEAD_DEPTH * face.width
    oval = mesh[FACE_OVAL]
    outline = griddata(oval[:, :2], oval[:, 2], (xs, ys), method="nearest")
    # Over the top of the head the skull curves back: an ellipsoid through the face's sides.
    eye_y = float(mesh[[33, 263], 1].mean())
    a, b = 0.62 * face.width, 0.62 * face.width * 1.25
    r2 = ((xs - face.centre[0]) / a) ** 2 + ((ys - eye_y) / b) ** 2
    skull = centre_z - (centre_z - front_z) * np.sqrt(np.clip(1 - r2, 0, 1))
    above = _smoothstep((eye_y - ys) / (0.5 * face.height))
    outside = outline + above * (np.maximum(skull, outline) - outline)
    sigma = max(1.0, 0.08 * face.width / GRID_STEP)
    outside = cv2.GaussianBlur(outside.astype(np.float32), (0, 0), sigma)
    inside = griddata(mesh[:, :2], mesh[:, 2], (xs, ys), method="linear")
    depth = np.where(np.isnan(inside), outside, inside).astype(np.float32)
    return cv2.GaussianBlur(depth, (0, 0), 1.0)


def _eye_frames(mesh: np.ndarray) -> list[dict]:
    """Per eye: origin, unit axes along (image-right) and across (down) the eye, its width, and
    the upper and lower lid margins as functions of the along coordinate."""
    eyes = []
    for upper, lower in EYELIDS:
        a, b = mesh[upper[0], :2].astype(np.float64), mesh[upper[-1], :2].astype(np.float64)
        if a[0] > b[0]:
            a, b = b, a
        along = (b - a) / np.linalg.norm(b - a)
        across = np.array([-along[1], along[0]])
        length = float(np.linalg.norm(b - a))

        def coords(idx: list[int], a=a, along=along, across=across) -> tuple[np.ndarray, np.ndarray]:
            p = mesh[idx, :2] - a
            u, v = p @ along, p @ across
            order = np.argsort(u)
            return u[order], v[order]

        up, low = coords(upper), coords(lower)
        # What a blink may change: between the corners, from LID_STRETCH above the upper lid down
        # to the lower lid (the box of that band in the photo, in pixels).
        top, bottom = up[1].min() - LID_STRETCH * length, low[1].max()
        band = [a + u * along + v * across for u in (0.0, length) for v in (top, bottom)]
        lo, hi = np.min(band, 0) - 1, np.max(band, 0) + 2
        eye = {"origin": a, "along": along, "across": across, "length": length, "upper": up, "lower": low}
        eyes.append({**eye, "box": (*lo, *hi)})
    return eyes


def shift_at(shift: np.ndarray, x: float, y: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """The head shift ``(2,)`` in pixels at photo point ``(x, y)``, read from the grid of ``box``."""
    gh, gw = shift.shape[:2]
    i = int(np.clip((y - box[1]) / GRID_STEP, 0, gh - 1))
    j = int(np.clip((x - box[0]) / GRID_STEP, 0, gw - 1))
    return shift[i, j]


def blink_source(points: np.ndarray, eye: dict, closure: float) -> np.ndarray:
    """Where each point of an eye takes its pixel from while the eye is ``closure`` shut (0 open,
    1 shut): the skin above the upper lid is stretched down over the eye to the line
    ``upper + closure * (lower - upper)``, the lid margin leading; below that line the eye
    shows as it is. Identity outside the eye and at its corners.

    Args:
        points: ``(..., 2)`` float32 pixel coordinates in the photo.
        eye: one of :func:`_eye_frames`.
        closure: in [0, 1].

    Returns:
        The source coordinates, same shape.
    """
    p = points.astype(np.float64) - eye["origin"]
    u, v = p @ eye["along"], p @ eye["across"]
    length = eye["length"]
    inside = (u > 0) & (u < length)
    yu = np.interp(u, *eye["upper"])
    yl = np.interp(u, *eye["lower"])
    top = yu - LID_STRETCH * length
    line = yu + closure * np.maximum(yl - yu, 0)
    span = np.maximum(line - top, 1e-6)
    stretched = top + (v - top) * (yu - top) / span
    new_v = np.where(inside & (v >= top) & (v <= line), stretched, v)
    out = eye["origin"] + u[..., None] * eye["along"] + new_v[..., None] * eye["across"]
    return out.astype(np.float32)


class HeadRenderer:
    """Turns the head of one photo frame by frame (see the module docstring).

    Args:
        photo: ``(H, W, 3)`` uint8 RGB, the still image.
        mesh: ``(478, 3)`` float pixel landmarks with depth of the photo's face.
        canonical: ``(478, 3)`` canonical face shape (:mod:`talkface.face.pose`).
        alpha: ``(H, W)`` float32 person mask; default :func:`~talkface.face.segment.person_mask`.
    """

    def __init__(
        self, photo: np.ndarray, mesh: np.ndarray, canonical: np.ndarray, alpha: np.ndarray | None = None
    ) -> None:
        from talkface.face.segment import person_mask

        h, w = photo.shape[:2]
        self.shape = (h, w)
        self.face = face = FaceFrame.of(mesh)
        self.pose: HeadPose = fit_pose(mesh, canonical)
        # The region that may change: the moving part of the person, widened by the largest shift.
        margin = int(np.ceil(MAX_SHIFT * face.width))
        ys_full, xs_full = np.mgrid[0:h, 0:w].astype(np.float32)
        weight_full = head_weight(xs_full, ys_full, face, (h, w))
        alpha = person_mask(photo) if alpha is None else alpha
        alpha = own_alpha(alpha, mesh, face.width, weight_full > 0.01)
        moving = (weight_full > 0.01) & (alpha > 0.05)
        moving[np.clip(mesh[:, 1].astype(int), 0, h - 1), np.clip(mesh[:, 0].astype(int), 0, w - 1)] = True
        rows, cols = np.where(moving)
        step = GRID_STEP
        x0, y0 = max(0, cols.min() - margin) // step * step, max(0, rows.min() - margin) // step * step
        x1, y1 = min(w, cols.max() + margin + 1), min(h, rows.max() + margin + 1)
        x1, y1 = x0 + -(-(x1 - x0) // step) * step, y0 + -(-(y1 - y0) // step) * step  # whole grid cells
        self.box = (x0, y0, x1, y1)  # may reach past the frame by < step; clipped when used
        gh, gw = (y1 - y0) // step, (x1 - x0) // step
        # Grid points at the pixel positions cv2.resize(INTER_LINEAR) interpolates from.
        gy, gx = np.mgrid[0:gh, 0:gw].astype(np.float32)
        self.grid_x = x0 + (gx + 0.5) * step - 0.5
        self.grid_y = y0 + (gy + 0.5) * step - 0.5
        self.grid_z = head_depth(self.grid_x, self.grid_y, mesh, face)
        self.grid_w = head_weight(self.grid_x, self.grid_y, face, (h, w))
        # The layers, cut to the region (padded by edge pixels past the frame).
        cw, ch = min(x1, w) - x0, min(y1, h) - y0
        self.crop = (x0, y0, x0 + cw, y0 + ch)
        self.alpha = np.ascontiguousarray(alpha[y0 : y0 + ch, x0 : x0 + cw])
        # The plate is the photo with the moving head inpainted from what surrounds it; down the
        # neck, where the shift is small, the photo's own neck and collar show behind.
        # The faint haze where the mask barely sees the hair goes too, or it stays behind as a thin
        # dark outline when the head turns away from it.
        hole = (moving & (alpha > PLATE_HAZE) & (weight_full > PLATE_WEIGHT))[y0 : y0 + ch, x0 : x0 + cw]
        region = photo[y0 : y0 + ch, x0 : x0 + cw]
        self.plate = _inpaint(region, hole.astype(np.uint8), PLATE_RIM * face.width)
        plate_yuv = cv2.cvtColor(self.plate, cv2.COLOR_RGB2YUV_I420)
        self.plate_planes = tuple(p.copy() for p in i420_planes(plate_yuv, ch, cw))
        # At the soft edges (hair, a blurred outline) the photo mixes the person with the old
        # background: the person's own colour there, F = (I - (1 - a) B) / a over the plate B,
        # is what moves, so that the old outline does not stay behind as a ghost, and at rest
        # a F + (1 - a) B gives back the photo.
        # Where the mask's alpha is too low for any colour in range to give the photo, it is raised
        # to the least that does (per channel: F = B + (I - B) / a must stay in 0-255), and to at
        # least PLATE_ALPHA, so the faint haze's colour is not amplified beyond what it holds.
        self.edge = hole & (self.alpha < 0.995)
        i, b = region.astype(np.float32), self.plate.astype(np.float32)
        need = np.where(i > b, (i - b) / np.maximum(255 - b, 1), (b - i) / np.maximum(b, 1)).max(-1)
        raised = np.maximum(np.maximum(self.alpha, np.minimum(need, 1)), PLATE_ALPHA)
        self.alpha = np.where(self.edge, raised, self.alpha).astype(self.alpha.dtype)
        a = np.maximum(self.alpha, PLATE_ALPHA)[..., None]  # = alpha on the edge, where it is used
        fore = np.clip(b + (i - b) / a, 0, 255)
        self.fore = np.where(self.edge[..., None], np.rint(fore), region).astype(np.uint8)
        fore_yuv = cv2.cvtColor(self.fore, cv2.COLOR_RGB2YUV_I420)
        self.fore_planes = tuple(p.copy() for p in i420_planes(fore_yuv, ch, cw))
        edge_half = (
            cv2.resize(self.edge.astype(np.uint8), (cw // 2, ch // 2), interpolation=cv2.INTER_AREA) > 0
        )
        self.edge_planes = (self.edge, edge_half, edge_half)
        self.eyes = _eye_frames(mesh)
        self.mesh = np.asarray(mesh, np.float32)
        self.expression_fields: np.ndarray | None = None
        # Per-frame constants: the grid points relative to the pose's centre, each grid point's own
        # (column, row) index, and the pixel positions of the region at full and at half size.
        t0 = self.pose.translation.astype(np.float32)
        self._grid_points = np.stack([self.grid_x - t0[0], self.grid_y - t0[1], self.grid_z - t0[2]], -1)
        self._grid_index = np.stack([gx, gy], -1)
        self._grid_weight2 = np.repeat(self.grid_w[..., None], 2, -1)  # for both coordinates at once
        self._pixels = _pixel_grid(cw, ch)
        self._pixels_half = _pixel_grid(cw // 2, ch // 2)
        # The alpha as 8 bits at both sizes: the I420 planes are warped with it.
        self._alpha8 = np.rint(self.alpha * 255).astype(np.uint8)
        half_alpha = cv2.resize(self.alpha, (cw // 2, ch // 2), interpolation=cv2.INTER_AREA)
        self._alpha8_half = np.rint(half_alpha * 255).astype(np.uint8)

    def set_expression(self, basis: ExpressionBasis) -> None:
        """Prepare the expression field of each coefficient of ``basis``: its landmark motion
        turned into the photo's pose and size (``scale * R0 @ component``, x and y), zero on
        :data:`~talkface.face.expression.HELD_BY_OTHERS`, spread over the grid by normalised
        Gaussian weights (Shepard interpolation with a floor: ``sum_i w_i d_i / (sum_i w_i +
        EXPRESSION_FLOOR)``, ``w_i = exp(-|g - p_i|^2 / (2 sigma^2))``, sigma
        :data:`EXPRESSION_SIGMA` face widths), so it fades to zero away from the face, and cut to
        the inside of the face's outline (:data:`~talkface.face.landmarks.FACE_OVAL`, faded over a
        grid cell), so the outline stays where it is over the background.

        Args:
            basis: :class:`~talkface.face.expression.ExpressionBasis` (canonical units).
        """
        from talkface.face.expression import HELD_BY_OTHERS

        disp = self.pose.scale * basis.components @ self.pose.rotation.T  # (K, 478, 3) pixels
        disp = disp[..., :2].astype(np.float32)
        disp[:, HELD_BY_OTHERS] = 0
        flat = disp.transpose(1, 0, 2).reshape(len(self.mesh), -1)  # (478, K * 2)
        grid = np.stack([self.grid_x.ravel(), self.grid_y.ravel()], 1)
        sigma = EXPRESSION_SIGMA * self.face.width
        fields = np.empty((len(grid), flat.shape[1]), np.float32)
        pts = self.mesh[:, :2]
        for s in range(0, len(grid), 4096):
            d2 = ((grid[s : s + 4096, None, :] - pts[None]) ** 2).sum(-1)
            w = np.exp(-d2 / (2 * sigma * sigma)).astype(np.float32)
            fields[s : s + 4096] = (w @ flat) / (w.sum(1, keepdims=True) + EXPRESSION_FLOOR)
        gh, gw = self.grid_x.shape
        # Only inside the face's outline: the outline moving over the background would drag it along.
        fields *= _inside_outline(self.mesh, self.box, GRID_STEP, (gh, gw)).reshape(-1, 1)
        self.expression_fields = fields.reshape(gh, gw, basis.size, 2).transpose(2, 0, 1, 3).copy()

    def source_map(
        self,
        angles: np.ndarray,
        translation: np.ndarray,
        scale: float,
        blink: np.ndarray,
        expression: np.ndarray | None = None,
    ) -> np.ndarray:
        """Where each pixel of the changing region takes its colour from in the photo.

        Args:
            angles: ``(3,)`` pitch, yaw, roll change from the photo's pose, degrees.
            translation: ``(2,)`` x, y shift in pixels.
            scale: size ratio (1: unchanged).
            blink: ``(2,)`` closure of the person's right and left eye, in [0, 1].
            expression: ``(K,)`` expression coefficients (after :meth:`set_expression`), or None.

        Returns:
            ``(h, w, 2)`` float32 photo pixel coordinates of the region :attr:`crop`.
        """
        shift, back = self._grid_maps(angles, translation, scale, expression)
        return self._pixel_map(shift, back, blink, 1) + np.array(self.crop[:2], np.float32)

    def _grid_maps(
        self, angles: np.ndarray, translation: np.ndarray, scale: float, expression: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The forward shift of each grid point and the backward one, ``(gh, gw, 2)`` float32 pixels:
        a grid point g takes its colour from ``g - back(g)``, where ``back(g) = shift(g - back(g))``."""
        d_rot = rotation_matrix(*(self.pose.angles + np.asarray(angles, float))) @ self.pose.rotation.T
        # X' - X for the points relative to the pose's centre: (k dR - I) X, plus the translation.
        change = (scale * d_rot - np.eye(3))[:2].T.astype(np.float32)
        shift = self._grid_points.reshape(-1, 3) @ change
        shift += np.asarray(translation, np.float32)
        shift = shift.reshape(self._grid_weight2.shape)
        shift *= self._grid_weight2
        if expression is not None and self.expression_fields is not None:
            # The face's own motion, moved along with the head (small angles: the field is not turned).
            shift += np.tensordot(np.asarray(expression, np.float32), self.expression_fields, 1)
        # Backward map by fixed-point iteration: the shift read at the current estimate of the source
        # (in grid units, g's index minus the shift over the step).
        back = shift
        for _ in range(FIXED_POINT_ITERATIONS):
            at = cv2.scaleAdd(back, -1.0 / GRID_STEP, self._grid_index)
            back = cv2.remap(shift, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return shift, back

    def _pixel_map(self, shift: np.ndarray, back: np.ndarray, blink: np.ndarray, factor: int) -> np.ndarray:
        """The source of each pixel of the region at full (``factor`` 1) or half (2) size, in that
        size's pixels from the region's corner, ``(h, w, 2)`` float32, blinks included.

        The backward shift is upsampled, not the coordinates: at the region's edges resize holds
        the last value, which for a displacement is the (zero) shift there. A half-size pixel ``v``
        lies at full-size ``2 v + 0.5``.
        """
        x0, y0, x1, y1 = self.box
        cx0, cy0, cx1, cy1 = self.crop
        pixels = self._pixels if factor == 1 else self._pixels_half
        h, w = pixels.shape[:2]
        up = cv2.resize(back, ((x1 - x0) // factor, (y1 - y0) // factor), interpolation=cv2.INTER_LINEAR)
        out = cv2.scaleAdd(up[:h, :w], -1.0 / factor, pixels)
        offset = np.array([cx0, cy0], np.float32)
        for eye, closure in zip(self.eyes, blink, strict=True):
            if closure > 1e-3:
                # Only the pixels near the eye (its box, widened by the head's shift there).
                bx0, by0, bx1, by1 = eye["box"]
                near = shift_at(shift, (bx0 + bx1) / 2, (by0 + by1) / 2, self.box)
                pad = 2
                wx0 = int(max(bx0 + min(near[0], 0) - pad, cx0)) - cx0
                wy0 = int(max(by0 + min(near[1], 0) - pad, cy0)) - cy0
                wx1 = int(min(bx1 + max(near[0], 0) + pad, cx1)) - cx0
                wy1 = int(min(by1 + max(near[1], 0) + pad, cy1)) - cy0
                wx0, wy0, wx1, wy1 = wx0 // factor, wy0 // factor, -(-wx1 // factor), -(-wy1 // factor)
                if wx1 > wx0 and wy1 > wy0:
                    window = out[wy0:wy1, wx0:wx1]
                    photo = window * factor + (0.5 * (factor - 1)) + offset
                    source = blink_source(photo, eye, float(closure))
                    out[wy0:wy1, wx0:wx1] = (source - offset - 0.5 * (factor - 1)) / factor
        return out

    def render(
        self,
        frame: np.ndarray | I420Frame,
        angles: np.ndarray,
        translation: np.ndarray,
        scale: float,
        blink: np.ndarray,
        expression: np.ndarray | None = None,
    ) -> None:
        """Move the head in ``frame`` (the photo, as the lip-sync engine rendered it) in place.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB or an :class:`~talkface.media.frame.I420Frame` of the photo's size.
            angles, translation, scale, blink, expression: as :meth:`source_map`.
        """
        x0, y0, x1, y1 = self.crop
        shift, back = self._grid_maps(angles, translation, scale, expression)
        src = self._pixel_map(shift, back, blink, 1)
        if not isinstance(frame, I420Frame):
            alpha = cv2.remap(self.alpha, src, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            region = frame[y0:y1, x0:x1]
            np.copyto(region, self.fore, where=self.edge[..., None])  # the whole region is redrawn
            warped = cv2.remap(region, src, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            frame[y0:y1, x0:x1] = cv2.blendLinear(warped, self.plate, alpha, 1.0 - alpha)
            return
        # I420: each plane warped at its own resolution (chroma by the half-size map), the alpha with
        # it in 8 bits; each map made fixed-point once for the planes it warps.
        sizes = []  # per size (full, half): the fixed-point map, the alpha and 1 - alpha
        for factor, alpha8 in ((1, self._alpha8), (2, self._alpha8_half)):
            pixel_map = src if factor == 1 else self._pixel_map(shift, back, blink, 2)
            m1, m2 = cv2.convertMaps(pixel_map, None, cv2.CV_16SC2)
            a = cv2.remap(alpha8, m1, m2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            a = a.astype(np.float32)
            a *= 1.0 / 255
            sizes.append((m1, m2, a, 1.0 - a))
        layers = zip(frame.planes(), self.plate_planes, self.fore_planes, self.edge_planes, strict=True)
        for k, (plane, plate, fore, edge) in enumerate(layers):
            f = 1 if k == 0 else 2
            m1, m2, a, rest = sizes[k > 0]
            region = plane[y0 // f : y1 // f, x0 // f : x1 // f]
            np.copyto(region, fore, where=edge)
            warped = cv2.remap(region, m1, m2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            region[...] = cv2.blendLinear(warped, plate, a, rest)


def _pixel_grid(width: int, height: int) -> np.ndarray:
    """``(height, width, 2)`` float32 (x, y) of each pixel."""
    return np.stack(np.meshgrid(np.arange(width), np.arange(height)), -1).astype(np.float32)


def _inside_outline(
    mesh: np.ndarray, box: tuple[int, int, int, int], step: int, shape: tuple[int, int]
) -> np.ndarray:
    """``shape`` float32 weight of the warp grid (cells of ``step`` pixels from ``box``'s corner):
    1 inside the face oval shrunk by one cell, fading to 0 at the outline."""
    from talkface.face.landmarks import FACE_OVAL

    outline = (mesh[FACE_OVAL, :2] - np.array(box[:2], np.float32)) / step - 0.5
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(outline * 16).astype(np.int32)], 1, shift=4)
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8)).astype(np.float32)
    return cv2.GaussianBlur(mask, (5, 5), 1.0) * mask.astype(bool)


def own_alpha(alpha: np.ndarray, mesh: np.ndarray, face_width: float, zone: np.ndarray) -> np.ndarray:
    """The person mask cut to the person whose face ``mesh`` is: the connected parts of the solid
    mask (alpha > 0.5) inside ``zone`` (where the head may move: bodies side by side often join
    lower down) that the mesh's points fall in, widened by a tenth of a face width for their soft
    edges. Another person in the photo stays where they are.

    Args:
        alpha: ``(H, W)`` float32 person mask in [0, 1].
        mesh: ``(478, 2+)`` pixel landmarks.
        face_width: pixels.
        zone: ``(H, W)`` bool, where the head's weight is not 0.

    Returns:
        ``(H, W)`` float32; ``alpha`` unchanged when the mask misses the face.
    """
    h, w = alpha.shape
    _, labels = cv2.connectedComponents(((alpha > 0.5) & zone).astype(np.uint8), connectivity=8)
    xs = np.clip(mesh[:, 0].astype(int), 0, w - 1)
    ys = np.clip(mesh[:, 1].astype(int), 0, h - 1)
    ids = np.unique(labels[ys, xs])
    ids = ids[ids > 0]
    if ids.size == 0:
        return alpha.astype(np.float32)
    r = max(1, round(0.1 * face_width))
    keep = cv2.dilate(
        np.isin(labels, ids).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)
    )
    keep = cv2.GaussianBlur(keep.astype(np.float32), (0, 0), r / 2)
    return (alpha * keep).astype(np.float32)


def _inpaint(region: np.ndarray, hole: np.ndarray, rim: float = 0.0) -> np.ndarray:
    """``region`` with ``hole`` (uint8 0/1) filled from around it (Telea), solved at half size, the
    fill faded in over ``rim`` pixels inside the hole's edge."""
    if not hole.any():
        return region.copy()
    small = cv2.resize(region, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA) > 0
    # Grown by a pixel at half size (and the blur's reach), so that no pixel of the hole's rim is
    # blurred from the person's colours: they would show as a dark outline when the head moves off.
    small_hole = cv2.dilate(small_hole.astype(np.uint8), np.ones((5, 5), np.uint8))
    filled = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA)
    filled = cv2.GaussianBlur(filled, (0, 0), 2)
    up = cv2.resize(filled, (region.shape[1], region.shape[0]), interpolation=cv2.INTER_LINEAR)
    # Faded in from the hole's rim over PLATE_RIM pixels: a hard switch from the photo's grain and
    # stray hairs to the smooth fill shows as a thin line wherever the head moves off it.
    inside = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    w = _smoothstep(inside / rim)[..., None] if rim > 0 else (hole[..., None] > 0).astype(np.float32)
    return np.rint(w * up + (1 - w) * region).astype(np.uint8)
