"""The mouth interior the warp reveals where the lips part: a dark cavity and teeth, painted.

The cavity is the lip colour darkened; upper and lower teeth are shaded towards the corners and
under the upper lip, scaled to the face's own brightness, or coloured like the face's real teeth
once an open mouth in the input has shown them (:meth:`MouthInterior.learn_teeth_colour`). Where
the lips meet, a soft dark seam. This is the painter only; the mesh warp is :mod:`talkface.render.warp`.
"""

from __future__ import annotations

import cv2
import numpy as np

from talkface.face import landmarks as L
from talkface.face.landmarks import mouth_aperture, skin_colour

TEETH_SAMPLE_APERTURE = 0.08  # source mouths at least this open (/IOD) show their teeth
SEAM_APERTURE = 0.04  # IOD: below this target aperture the closed-mouth seam is drawn
TEETH_SAMPLE_EVERY = 10  # open-mouth frames between teeth-colour samples
# Synthesized teeth before any real ones were seen: the brightest fifth of a real open mouth's
# interior, as luma over the skin's (the median 6-14 pixels above the upper lip, at 85 px/IOD), by
# inner-lip aperture (IOD). Medians over every third of the 10,135 lower-face crops of the shared
# clips (results/mouth/crops.npz): a slightly parted mouth shows its teeth in the upper lip's shadow,
# a wide one in the light. (The constant before, 0.97, was the median over all openings of 16 clips.)
TEETH_LUMA_APERTURE = (0.03, 0.05, 0.07, 0.09, 0.115, 0.15, 0.2)
TEETH_LUMA_PER_SKIN = (0.69, 0.75, 0.86, 0.97, 1.06, 1.12, 1.16)
TEETH_TINT = np.array([1.12, 0.98, 0.86], np.float32)  # RGB over luma (luma 1.0)
TEETH_SKIN_CAST = 0.5  # share of the skin's own colour cast (the light's) in the teeth's tint
CAVITY_PER_LIP = 0.35  # the dark of the mouth behind the teeth, as a share of the lip colour
TONGUE_PER_LIP = 0.6  # the tongue towards the lower lip
TEETH_UNDER_LIP = 0.012  # IOD: the upper teeth start this far under the upper lip
TEETH_BLUR = 0.006  # IOD: soft edge of the teeth
INTERIOR_OVERLAP = 0.006  # IOD: how far the painted interior fades out over the inner lip line
LIP_ROLL = 0.02  # IOD: the lips' inner faces, seen inside the opening (a soft rim, not a black edge)
LIP_ROLL_SHADE = 0.6  # their colour, as a share of the lip colour
# (centre, depth) of the shadow between teeth, seen from the front, centres in IOD from the
# midline: central incisors (8.5 mm of the ~63 mm IOD), laterals, canines; faint, not drawn lines.
TOOTH_GAPS = ((0.0, 0.06), (0.135, 0.04), (0.22, 0.03))
TOOTH_GAP_WIDTH = 0.005  # IOD
_UP_OUT, _UP_IN_OF_OUT = np.array(L.UPPER_OUTER_MID), np.array(L.UPPER_INNER_OF_OUTER)
_LO_OUT, _LO_IN_OF_OUT = np.array(L.LOWER_OUTER_MID), np.array(L.LOWER_INNER_OF_OUTER)


def interior_margin(iod: float) -> int:
    """Pixels around the inner-lip polygon touched by the mouth interior: soft edges and the
    closed-mouth seam, which reaches 0.04 IOD past the corners."""
    return 3 + int(0.07 * iod)


class MouthInterior:
    """Paints cavity and teeth inside a target inner-lip polygon, for one face (it learns the colour
    of that face's teeth as frames go by).

    Args:
        upper_teeth, lower_teeth: height of the visible upper and lower teeth at full opening, in
            interocular distances (IOD).
    """

    def __init__(self, upper_teeth: float, lower_teeth: float) -> None:
        self.upper_teeth = upper_teeth
        self.lower_teeth = lower_teeth
        self._teeth: np.ndarray | None = None  # running estimate of this face's teeth colour (RGB)
        self._open_frames = 0

    def learn_teeth_colour(self, frame: np.ndarray, lm: np.ndarray) -> None:
        """Where the source mouth is open, average its brightest interior pixels (the real teeth).

        ``lm``: the frame's ``(478, 2)`` pixel landmarks. A slow running average: every
        :data:`TEETH_SAMPLE_EVERY`-th open-mouth frame is enough.
        """
        if mouth_aperture(lm) < TEETH_SAMPLE_APERTURE:
            return
        self._open_frames += 1
        if self._open_frames % TEETH_SAMPLE_EVERY != 1:
            return
        poly = np.concatenate([lm[L.UPPER_INNER], lm[L.LOWER_INNER[::-1]]])
        x0, y0 = np.maximum(np.floor(poly.min(0)).astype(int), 0)
        x1, y1 = np.ceil(poly.max(0)).astype(int) + 1
        box = frame[y0:y1, x0:x1]
        if box.size == 0:
            return
        mask = np.zeros(box.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round((poly - [x0, y0]) * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
        pixels = box[mask.astype(bool)].astype(np.float32)
        if len(pixels) < 20:
            return
        luma = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
        bright = pixels[luma >= np.percentile(luma, 80)].mean(0)
        if bright @ np.array([0.299, 0.587, 0.114], np.float32) < 90:  # no teeth showing, just the cavity
            return
        self._teeth = bright if self._teeth is None else self._teeth + 0.3 * (bright - self._teeth)

    def paint(
        self,
        patch: np.ndarray,
        frame: np.ndarray,
        lm: np.ndarray,
        inner: np.ndarray,
        ey: np.ndarray,
        iod: float,
        aperture: float,
        reads: float | None = None,
    ) -> None:
        """Synthesize cavity and teeth inside the destination inner-lip polygon (in place, uint8 patch).

        Only the polygon's bounding box is touched. Colours come from the frame itself: the cavity is
        the lip colour darkened, the teeth a warm off-white as bright as a real mouth's teeth next to
        the skin when that mouth reads ``reads`` open (IOD; default ``aperture``, the lips' parting).
        """
        shown = aperture if reads is None else reads
        region = _interior_region(patch, inner, iod)
        if region is None:
            return
        (bx0, by0, bx1, by1), sub, inner = region
        sh = sub.shape[:2]

        lip = lip_colour(frame, lm)
        skin = skin_colour(frame, lm)
        cavity = lip * CAVITY_PER_LIP
        tongue = lip * TONGUE_PER_LIP
        teeth = self._teeth
        if teeth is None:  # an off-white as bright as real teeth are next to skin, in this light
            skin_luma = float(skin @ np.array([0.299, 0.587, 0.114], np.float32))
            cast = skin / max(skin_luma, 1.0)  # RGB over luma: the light's colour on this face
            tint = TEETH_TINT + TEETH_SKIN_CAST * (cast - TEETH_TINT)
            luma = np.interp(shown, TEETH_LUMA_APERTURE, TEETH_LUMA_PER_SKIN) * skin_luma
            teeth = np.minimum(tint * luma, 235.0)
        else:  # this face's teeth, seen at least TEETH_SAMPLE_APERTURE open: as much darker when less
            seen = np.interp(TEETH_SAMPLE_APERTURE, TEETH_LUMA_APERTURE, TEETH_LUMA_PER_SKIN)
            teeth = teeth * min(1.0, np.interp(shown, TEETH_LUMA_APERTURE, TEETH_LUMA_PER_SKIN) / seen)

        def poly_mask(poly: np.ndarray) -> np.ndarray:
            m = np.zeros(sh, np.uint8)
            cv2.fillPoly(m, [np.round(poly * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
            return m.astype(np.float32) / 255.0

        n = len(L.UPPER_INNER)
        upper, lower = inner[:n], inner[n:][::-1]
        u = np.linspace(-1, 1, n)[:, None]
        prof = (1 - u * u) ** 0.5
        size = np.clip(aperture / 0.12, 0.0, 1.0)  # teeth show more as the mouth opens
        tooth_h = self.upper_teeth * iod * (0.4 + 0.6 * size)
        # The upper teeth start under the upper lip (no cavity line between lip and teeth).
        tucked = upper - ey * TEETH_UNDER_LIP * iod
        upper_teeth = np.concatenate([tucked, (upper + ey * tooth_h * prof)[::-1]])
        size_lo = np.clip((aperture - 0.12) / 0.12, 0.0, 1.0)  # lower teeth only when well open
        lower_teeth = np.concatenate([lower, (lower - ey * self.lower_teeth * iod * prof * size_lo)[::-1]])
        m_in = poly_mask(inner)
        xs = np.arange(sh[1], dtype=np.float32)[None, :]
        ys = np.arange(sh[0], dtype=np.float32)[:, None]
        mid_x = float(inner[[0, n - 1], 0].mean())
        half_w = max(float(np.ptp(inner[:, 0])) / 2, 1.0)
        x_rel = (xs - mid_x) / half_w  # -1 .. 1 across the mouth
        x_face = np.abs(xs - mid_x) / iod
        # Teeth fill the front of the mouth only; the corners stay dark (buccal corridor), the
        # teeth turning away into it are darker (canines) than the front ones.
        front = np.clip((0.97 - np.abs(x_rel)) / 0.25, 0, 1) * np.clip((0.34 - x_face) / 0.08, 0, 1)
        blur = max(0.7, TEETH_BLUR * iod)
        m_up = cv2.GaussianBlur(poly_mask(upper_teeth), (0, 0), blur) * front
        lower_front = np.clip((0.65 - np.abs(x_rel)) / 0.3, 0, 1)
        m_lo = cv2.GaussianBlur(poly_mask(lower_teeth), (0, 0), blur) * lower_front
        # Upper-lip shadow at the top of the teeth; the biting edge a little darker (translucent).
        order = np.argsort(upper[:, 0])
        lip_y = np.interp(xs[0], upper[order, 0], upper[order, 1]).astype(np.float32)
        depth = np.clip((ys - lip_y[None, :]) / max(tooth_h, 1.0), 0, 1)
        edge = np.clip((depth - 0.7) / 0.3, 0, 1)
        shade = (0.82 + 0.18 * np.clip(depth / 0.3, 0, 1)) * (1 - 0.12 * edge) * (1 - 0.35 * x_rel**2)
        # Teeth by width seen from the front (IOD): central incisors, laterals set back, canines.
        tooth = 1 - 0.08 * np.clip((x_face - 0.12) / 0.02, 0, 1) - 0.1 * np.clip((x_face - 0.2) / 0.03, 0, 1)
        gaps = np.zeros_like(xs)
        for centre, strength in TOOTH_GAPS:
            gaps = np.maximum(gaps, strength * np.exp(-(((x_face - centre) / TOOTH_GAP_WIDTH) ** 2)))
        shade = shade * tooth * (1 - gaps)
        # Behind the teeth: dark at the top, the tongue's red towards the lower lip.
        order = np.argsort(lower[:, 0])
        low_y = np.interp(xs[0], lower[order, 0], lower[order, 1]).astype(np.float32)
        t = np.clip((ys - lip_y[None, :]) / np.maximum(low_y - lip_y, 1.0)[None, :], 0, 1) ** 2
        corner = (0.7 + 0.3 * np.clip(1 - x_rel**2, 0, 1))[..., None]
        base = (cavity + (tongue - cavity) * t[..., None]) * corner  # (h, w, 3)
        # The lips roll inwards into the mouth in their own shadow: next to the inner lip line the
        # cavity is the lip colour darkened, not black (else a dark outline rings the opening).
        inside = cv2.distanceTransform((m_in > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
        rim = np.exp(-inside / max(0.5, LIP_ROLL * iod))[..., None]
        base += (lip * LIP_ROLL_SHADE - base) * rim
        # The interior reaches a little over the inner lip line, where the warp stretched the closed
        # lips' seam (a dark rim otherwise), fading out within INTERIOR_OVERLAP.
        m = np.clip(2 * cv2.GaussianBlur(m_in, (0, 0), sigmaX=max(0.6, INTERIOR_OVERLAP * iod)), 0, 1)
        # Upper teeth (teeth * shade) over the cavity (base) with weight m_up, lower teeth (at 0.8)
        # over the result with 0.35 m_lo, the interior over the warped lips with m.
        lo = 0.35 * m_lo
        w_base = (1 - m_up) * (1 - lo) * m
        w_teeth = (m_up * (1 - lo) + 0.8 * lo) * shade * m
        sub *= (1 - m)[..., None]
        sub += base * w_base[..., None]
        sub += w_teeth[..., None] * teeth
        _seam(sub, upper, lower, lip, x_rel, iod, aperture)
        patch[by0:by1, bx0:bx1] = np.clip(sub + 0.5, 0, 255).astype(np.uint8)


def _interior_region(
    patch: np.ndarray, inner: np.ndarray, iod: float
) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None:
    """The part of ``patch`` around the inner-lip polygon plus :func:`interior_margin` (clipped):
    ``((x0, y0, x1, y1), float32 copy of its pixels, the polygon in its pixels)``, or ``None`` if
    under 2 pixels wide or high."""
    margin = interior_margin(iod)
    bx0, by0 = np.maximum(np.floor(inner.min(0)).astype(int) - margin, 0)
    bx1, by1 = np.minimum(np.ceil(inner.max(0)).astype(int) + margin, patch.shape[1::-1])
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return None
    sub = patch[by0:by1, bx0:bx1].astype(np.float32)
    return (int(bx0), int(by0), int(bx1), int(by1)), sub, inner - np.array([bx0, by0], np.float32)


def lip_colour(frame: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """The red of the lips: the per-channel median of ``frame`` (``(H, W, 3)`` uint8) midway between
    the inner and outer lip contours of its ``(478, 2)`` pixel landmarks, away from the corners.

    Returns:
        ``(3,)`` float32 RGB.
    """
    h, w = frame.shape[:2]
    mid_lip = np.concatenate([(lm[_UP_OUT] + lm[_UP_IN_OF_OUT]) / 2, (lm[_LO_OUT] + lm[_LO_IN_OF_OUT]) / 2])
    xy = np.clip(np.round(mid_lip).astype(int), 0, [w - 1, h - 1])
    samples = np.sort(frame[xy[:, 1], xy[:, 0]].astype(np.float32), axis=0)  # per channel
    k = len(samples) // 2
    return (samples[k] + samples[(len(samples) - 1) // 2]) / 2  # the median (np.median: 4x the time)


def paint_seam(
    patch: np.ndarray,
    frame: np.ndarray,
    lm: np.ndarray,
    inner: np.ndarray,
    iod: float,
    aperture: float,
    closed_below: float = SEAM_APERTURE,
) -> None:
    """Only the closed-mouth seam of :meth:`MouthInterior.paint` (in place; arguments as there):
    for a real mouth put onto lips that (nearly) meet, whose own seam the warp squeezed away.
    The seam fades in as ``aperture`` falls below ``closed_below`` (IOD)."""
    if aperture >= closed_below:
        return
    region = _interior_region(patch, inner, iod)
    if region is None:
        return
    (bx0, by0, bx1, by1), sub, inner = region
    n = len(L.UPPER_INNER)
    mid_x = float(inner[[0, n - 1], 0].mean())
    half_w = max(float(np.ptp(inner[:, 0])) / 2, 1.0)
    x_rel = (np.arange(sub.shape[1], dtype=np.float32)[None, :] - mid_x) / half_w
    _seam(sub, inner[:n], inner[n:][::-1], lip_colour(frame, lm), x_rel, iod, aperture, closed_below)
    patch[by0:by1, bx0:bx1] = np.clip(sub + 0.5, 0, 255).astype(np.uint8)


def _seam(
    sub: np.ndarray,
    upper: np.ndarray,
    lower: np.ndarray,
    lip: np.ndarray,
    x_rel: np.ndarray,
    iod: float,
    aperture: float,
    closed_below: float = SEAM_APERTURE,
) -> None:
    """Draw the closed-mouth seam into the float32 ``(h, w, 3)`` region ``sub`` in place.

    ``upper``, ``lower``: ``(11, 2)`` inner-lip contours in ``sub``'s pixels (corner to corner);
    ``lip``: the lip colour; ``x_rel``: ``(1, w)`` position across the mouth (-1 .. 1).
    """
    sh = sub.shape[:2]
    # Where the lips (nearly) meet, a soft dark seam: the shadow line of a closed mouth, which also
    # hides source pixels (teeth) that the inner-lip landmarks did not quite enclose.
    closed = float(np.clip(1 - aperture / closed_below, 0, 1))
    if closed > 0:
        mid = (upper + lower) / 2
        # Extend past the corners, where a smile's dark corridor lies outside the landmarks.
        reach = 0.04 * iod
        head = mid[0] + reach * (mid[0] - mid[1]) / (np.linalg.norm(mid[0] - mid[1]) + 1e-6)
        tail = mid[-1] + reach * (mid[-1] - mid[-2]) / (np.linalg.norm(mid[-1] - mid[-2]) + 1e-6)
        mid = np.round(np.concatenate([head[None], mid, tail[None]]) * 16).astype(np.int32)
        ends = np.clip(1 - (np.abs(x_rel) / 1.2) ** 8, 0, 1) * closed

        def band(thickness: float, blur: float) -> np.ndarray:
            m = np.zeros(sh, np.uint8)
            t = max(1, int(round(thickness)))
            cv2.polylines(m, [mid], False, 255, thickness=t, lineType=cv2.LINE_AA, shift=4)
            return cv2.GaussianBlur(m.astype(np.float32) / 255.0, (0, 0), sigmaX=max(0.5, blur)) * ends

        sub += (lip - sub) * band(0.03 * iod, 0.008 * iod)[..., None]  # lip colour over stray pixels
        sub += (lip * 0.45 - sub) * (0.85 * band(0.012 * iod, 0.006 * iod))[..., None]  # the seam line
