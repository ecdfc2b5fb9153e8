"""The mouth bank: this person's real mouths, taken from the input video, put onto target lip contours.

A talking video already holds the speaker's real teeth, tongue and lips under this light, in many
shapes. As frames stream past, :meth:`MouthBank.capture` keeps each frame's mouth region sampled
in the face's own frame (:func:`~talkface.face.canonical.face_frame`: the eye line as x axis,
:data:`BANK_PX_PER_IOD` pixels per interocular distance, IOD) together with its lip contours.
Entries are indexed by mouth shape: a grid of inner-lip aperture x mouth width bins, each holding at
most :data:`PER_BIN` entries (the sharpest ones), :data:`MAX_ENTRIES` in all, so the bank's memory
is bounded whatever the video's length (:data:`BANK_BYTES`).

For an output frame, :meth:`MouthBank.choose` picks the entry whose lip contours best match the
target ones (a :func:`shape_descriptor` distance) with temporal coherence: an entry that continues
the previous frame's choice (the same entry, or the source frame after it) is preferred over a
switch by :data:`SWITCH_COST`, so the choice does not flicker between near-equal entries (the
transition cost of Video Rewrite, Bregler et al. 1997; Schoedl et al.'s video textures, 2000).
Beyond :data:`MAX_DISTANCE`, or further than :data:`APERTURE_TOLERANCE` from the target's opening,
the bank gives nothing (the engine falls back to the learned renderer), and once it has, an entry
must come within :data:`REENTRY` of that distance to take over again. :meth:`MouthBank.paste` then
warps the entry's lips, interior and a ring of skin around them onto the target contours (a
piecewise-affine mesh of the lip bands, the interior and the ring), matches its colour to the
frame's skin around the mouth, and blends it in through a feathered mask that ends inside the ring.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkface.face import landmarks as L
from talkface.face.canonical import face_frame, face_region_affine, pushed_out
from talkface.face.crop import cut_region
from talkface.face.paste import feathered_mask

BANK_PX_PER_IOD = 128  # resolution of the stored mouths (a 1080p face has an IOD of ~250 px)
# Stored region in the face frame, IOD units about the mouth centre (v towards the chin):
# (u0, v0, u1, v1). It holds the lips of a wide-open mouth and the ring of skin around them (and
# the learned mouth renderer's region: the engine reads one box of the frame for both).
BANK_REGION = (-0.75, -0.45, 0.75, 0.725)
BANK_SIZE = (
    int(round((BANK_REGION[2] - BANK_REGION[0]) * BANK_PX_PER_IOD)),
    int(round((BANK_REGION[3] - BANK_REGION[1]) * BANK_PX_PER_IOD)),
)  # (width, height) pixels of one stored mouth
APERTURE_BIN = 0.015  # IOD: bin width of the inner-lip aperture
WIDTH_BIN = 0.03  # IOD: bin width of the mouth width
PER_BIN = 3  # entries kept per shape bin
MAX_ENTRIES = 240  # entries in all
BANK_BYTES = MAX_ENTRIES * BANK_SIZE[0] * BANK_SIZE[1] * 3  # bound on the stored pixels (~20 MB)
MIN_IOD = 24.0  # pixels: smaller faces are not captured (their mouths hold too few pixels)
MAX_YAW = 0.22  # nose-tip offset from the eye midpoint / IOD: more turned faces are not captured
RING = 0.1  # IOD: the ring of skin warped with the mouth, beyond the outer lip contour
BLEND_EDGE = 0.07  # IOD beyond the outer lips where the blend mask reaches 0 (inside the ring)
BLEND_FEATHER = 0.05  # IOD: soft edge of the blend mask
SWITCH_COST = 0.012  # shape-distance units (IOD, RMS) a switch to a non-continuing entry costs
MAX_DISTANCE = 0.035  # IOD (RMS): beyond it the bank does not have the target shape
# IOD: an entry's mean inner-lip gap must be this close to the target's. The RMS distance alone lets a
# closed mouth stand in for one open by 0.07 IOD, and a closed mouth warped open stays closed (its
# interior has no pixels to stretch), so the output would not open.
APERTURE_TOLERANCE = 0.02
REENTRY = 0.8  # x MAX_DISTANCE: after a frame the bank could not give, the next one needs this close
MAX_GAIN = 1.25  # colour match: per-channel gain limits (and 1 / MAX_GAIN)
# IOD: a real mouth put onto lips closer than this gets the painted closed-mouth seam, fading in
# (the warp squeezes its own seam into a sliver).
BANK_SEAM_APERTURE = 0.015
MIN_TRIANGLE_AREA = 1.5  # square pixels: smaller destination triangles are slivers
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)

# Mesh of a mouth: the four lip contours (right corner to left corner) and a ring outside each
# outer contour. Rows of :func:`mesh_points`.
_UO, _LO, _UI, _LI = (np.array(c) for c in (L.UPPER_OUTER, L.LOWER_OUTER, L.UPPER_INNER, L.LOWER_INNER))
_N = len(L.UPPER_OUTER)
_ROW_UO, _ROW_LO, _ROW_UI, _ROW_LI = (np.arange(_N) + k * _N for k in range(4))
_ROW_RU, _ROW_RL = np.arange(_N) + 4 * _N, np.arange(_N) + 5 * _N


def _strip(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int, int]]:
    """Triangles of the band between two polylines of equal length (rows ``a`` and ``b``)."""
    tris = []
    for i in range(len(a) - 1):
        tris += [(a[i], a[i + 1], b[i + 1]), (a[i], b[i + 1], b[i])]
    return tris


# Fixed connectivity (it never flips, whatever the shape): lip bands, interior, skin ring.
TRIANGLES = np.array(
    _strip(_ROW_UO, _ROW_UI)
    + _strip(_ROW_LO, _ROW_LI)
    + _strip(_ROW_UI, _ROW_LI)
    + _strip(_ROW_RU, _ROW_UO)
    + _strip(_ROW_RL, _ROW_LO),
    np.int32,
)
assert len(TRIANGLES) < 256, "triangle ids must fit the uint8 map cv2.LUT reads"


def mesh_points(lm: np.ndarray, iod: float) -> np.ndarray:
    """The mouth mesh's ``(66, 2)`` float32 points from landmarks (any unit; ``iod`` in that unit).

    Rows: upper outer, lower outer, upper inner, lower inner lip contours (11 each, corner to corner),
    then the ring outside the upper and the lower outer contour (each outer point pushed
    :data:`RING` IOD away from the centre of the inner lips).
    """
    contours = [lm[c] for c in (_UO, _LO, _UI, _LI)]
    centre = np.concatenate(contours[2:]).mean(0)
    rings = [pushed_out(outer, centre, RING, iod) for outer in contours[:2]]
    return np.concatenate(contours + rings).astype(np.float32)


def to_face(points: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Pixel points ``(k, 2)`` in the face frame of ``lm`` (IOD units about the mouth centre, v to
    the chin), float32."""
    origin, ex, ey, iod = face_frame(lm)
    d = points - origin
    return (np.stack([d @ ex, d @ ey], 1) / iod).astype(np.float32)


DESCRIPTOR_SIZE = 4 * _N * 2 + 2 * (_N - 2)  # contour coordinates, then the inner gaps twice


def shape_descriptor(lips: np.ndarray) -> np.ndarray:
    """What the bank matches on: ``(DESCRIPTOR_SIZE,)`` float32 from the ``(66, 2)``
    :func:`mesh_points` of a mouth in face-frame IOD units (only the lip rows are used).

    The 44 contour points relative to the inner lips' centre, plus the inner-lip gap at the 9
    points between the corners counted twice more: two mouths' RMS descriptor difference is their
    shape distance in IOD, with the opening weighing most.
    """
    contours = lips[: 4 * _N]
    rel = contours - contours[2 * _N :].mean(0)
    gap = lips[_ROW_LI[1:-1], 1] - lips[_ROW_UI[1:-1], 1]
    return np.concatenate([rel.ravel(), gap, gap]).astype(np.float32)


@dataclass
class BankEntry:
    """One stored mouth.

    Attributes:
        pixels: ``(BANK_SIZE[1], BANK_SIZE[0], 3)`` uint8 RGB, the mouth region in the face frame.
        mesh: ``(66, 2)`` float32 :func:`mesh_points` in ``pixels``' coordinates.
        descriptor: its :func:`shape_descriptor`.
        index: the output frame it was taken from.
        sharpness: variance of the Laplacian of its lips' luma (the sharpest entries are kept).
    """

    pixels: np.ndarray
    mesh: np.ndarray
    descriptor: np.ndarray
    index: int
    sharpness: float


class MouthBank:
    """A bounded store of one face's real mouths, chosen by shape and pasted onto target contours.

    Memory: at most :data:`MAX_ENTRIES` entries of ``BANK_SIZE`` pixels (:data:`BANK_BYTES`, about
    20 MB), whatever the length of the video.
    """

    def __init__(self) -> None:
        self.bins: dict[tuple[int, int], list[BankEntry]] = {}
        self.count = 0
        self._previous: tuple[int, int | None] | None = None  # (output frame, entry index) last chosen
        self._descriptors: np.ndarray | None = None  # cache of all entries' descriptors
        self._entries: list[BankEntry] = []

    # -- capture ----------------------------------------------------------------------------------
    @staticmethod
    def region_box(lm: np.ndarray) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` pixel box of the frame that :meth:`capture` reads for landmarks ``lm``."""
        origin, ex, ey, iod = face_frame(lm)
        u0, v0, u1, v1 = BANK_REGION
        corners = np.array([origin + iod * (u * ex + v * ey) for u in (u0, u1) for v in (v0, v1)])
        (x0, y0), (x1, y1) = np.floor(corners.min(0)) - 1, np.ceil(corners.max(0)) + 2
        return int(x0), int(y0), int(x1), int(y1)

    @staticmethod
    def capturable(lm: np.ndarray) -> bool:
        """Whether a frame with these ``(478, 2)`` pixel landmarks is worth keeping: a large enough,
        near-frontal face (:data:`MIN_IOD`, :data:`MAX_YAW`)."""
        origin, ex, ey, iod = face_frame(lm)
        eyes = (lm[L.RIGHT_EYE_OUTER] + lm[L.LEFT_EYE_OUTER]) / 2
        yaw = float((lm[4] - eyes) @ ex) / iod
        return iod >= MIN_IOD and abs(yaw) <= MAX_YAW

    def capture(self, rgb: np.ndarray, lm: np.ndarray, index: int) -> bool:
        """Keep the mouth of one frame if its shape bin has room or it is sharper than the bin's worst.

        Args:
            rgb: ``(h, w, 3)`` uint8 RGB pixels holding at least :meth:`region_box` (clipped at the
                frame's edge is fine: the border is replicated).
            lm: ``(478, 2)`` float32 landmarks in ``rgb``'s pixels.
            index: the output frame's index (for temporal coherence).

        Returns:
            Whether the mouth was stored.
        """
        if not self.capturable(lm):
            return False
        to_frame = face_region_affine(lm, BANK_REGION, BANK_PX_PER_IOD)
        u0, v0 = BANK_REGION[:2]
        pixels = cut_region(rgb, to_frame, BANK_SIZE)
        face = to_face(lm, lm)
        lips = mesh_points(face, 1.0)
        mesh = (lips - np.array([u0, v0], np.float32)) * BANK_PX_PER_IOD
        poly = np.round(mesh[np.concatenate([_ROW_UO, _ROW_LO[::-1]])] * 16).astype(np.int32)
        inside = np.zeros(pixels.shape[:2], np.uint8)
        cv2.fillPoly(inside, [poly], 1, cv2.LINE_8, shift=4)
        grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
        sharp = float(cv2.Laplacian(grey, cv2.CV_32F)[inside.astype(bool)].var())
        entry = BankEntry(pixels, mesh, shape_descriptor(lips), index, sharp)
        aperture = float(np.linalg.norm(face[L.UPPER_LIP_INNER] - face[L.LOWER_LIP_INNER]))
        width = float(np.linalg.norm(face[L.MOUTH_RIGHT] - face[L.MOUTH_LEFT]))
        key = (int(aperture / APERTURE_BIN), int(width / WIDTH_BIN))
        members = self.bins.setdefault(key, [])
        if len(members) < PER_BIN and self.count < MAX_ENTRIES:
            members.append(entry)
            self.count += 1
        else:
            if not members:
                return False  # the bank is full and this shape has no bin yet
            worst = min(range(len(members)), key=lambda k: members[k].sharpness)
            if members[worst].sharpness >= sharp:
                return False
            members[worst] = entry
        self._descriptors = None
        return True

    # -- choice -----------------------------------------------------------------------------------
    def entries(self) -> list[BankEntry]:
        """All stored entries (a stable order until the next capture)."""
        if self._descriptors is None:
            self._entries = [e for members in self.bins.values() for e in members]
            self._descriptors = (
                np.stack([e.descriptor for e in self._entries])
                if self._entries
                else np.zeros((0, DESCRIPTOR_SIZE), np.float32)
            )
        return self._entries

    @staticmethod
    def opening(descriptors: np.ndarray) -> np.ndarray:
        """Mean inner-lip gap (IOD) of :func:`shape_descriptor` rows ``(..., DESCRIPTOR_SIZE)``."""
        return descriptors[..., -(_N - 2) :].mean(-1)

    def distances(self, descriptor: np.ndarray) -> np.ndarray:
        """``(n,)`` float32 shape distances (IOD, RMS) of every entry (:meth:`entries` order) to a
        :func:`shape_descriptor`."""
        self.entries()
        return np.sqrt(((self._descriptors - descriptor) ** 2).mean(1))

    def choose(
        self,
        target: np.ndarray,
        index: int,
        own: np.ndarray | None = None,
        max_distance: float = MAX_DISTANCE,
    ) -> BankEntry | None | str:
        """The entry to paste for output frame ``index``.

        Args:
            target: the target mouth's :func:`shape_descriptor`.
            index: the output frame.
            own: the descriptor of the frame's own (unwarped) mouth, a candidate too: choosing it means
                the frame's own warped mouth is kept.
            max_distance: beyond this shape distance no entry is taken (``inf``: always the nearest).
                A finite one also rules out entries further than :data:`APERTURE_TOLERANCE` from
                the target's opening.

        Returns:
            A :class:`BankEntry`, ``"own"`` for the frame's own mouth, or ``None``: nothing close enough.
        """
        entries = self.entries()
        cost = self.distances(target).astype(np.float64)
        own_cost = float(np.sqrt(((own - target) ** 2).mean())) if own is not None else np.inf
        dist = np.append(cost, own_cost)
        if np.isfinite(max_distance):
            gaps = self.opening(np.vstack([self._descriptors, own if own is not None else target]))
            dist[np.abs(gaps - self.opening(target)) > APERTURE_TOLERANCE] = np.inf
        previous = self._previous
        switch = np.full(len(dist), SWITCH_COST)
        if previous is not None and previous[0] == index - 1:
            _, prev_source = previous
            if prev_source is not None:  # continuing: the same source frame or the next one
                sources = np.array([e.index for e in entries] + [index])
                switch[np.abs(sources - (prev_source + 1)) <= 1] = 0.0
        total = dist + switch
        best = int(np.argmin(total)) if len(total) else -1
        limit = max_distance
        if previous is not None and previous[0] == index - 1 and previous[1] is None:
            limit *= REENTRY  # hysteresis: no flicker between the bank and the fallback
        if best < 0 or dist[best] > limit:
            self._previous = (index, None)
            return None
        if best == len(entries):
            self._previous = (index, index)
            return "own"
        self._previous = (index, entries[best].index)
        return entries[best]

    # -- pixels -----------------------------------------------------------------------------------
    @staticmethod
    def paste(entry: BankEntry, patch: np.ndarray, dst_lm: np.ndarray, iod: float) -> None:
        """Warp ``entry``'s mouth onto target lip contours and blend it into ``patch`` in place.

        Args:
            entry: the stored mouth.
            patch: ``(h, w, 3)`` uint8 RGB pixels around the mouth (the warped frame).
            dst_lm: ``(478, 2)`` float32 landmarks in ``patch``'s pixels with the lips at their target.
            iod: interocular distance in pixels.

        The colour is matched per channel to the patch's skin in the ring around the lips (a gain
        within :data:`MAX_GAIN`); the blend mask is 1 up to the outer lips, 0 from :data:`BLEND_EDGE`.
        """
        dst = mesh_points(dst_lm, iod)
        h, w = patch.shape[:2]
        x0, y0 = np.maximum(np.floor(dst.min(0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(dst.max(0)).astype(int) + 2, [w, h])
        if x1 - x0 < 4 or y1 - y0 < 4:
            return
        d = dst - np.array([x0, y0], np.float32)
        map_x, map_y, covered = piecewise_affine_map(entry.mesh, d, TRIANGLES, (y1 - y0, x1 - x0))
        bank = cv2.remap(entry.pixels, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        region = patch[y0:y1, x0:x1]
        outer = np.concatenate([d[_ROW_UO], d[_ROW_LO[::-1]]])
        centre = d[np.concatenate([_ROW_UI, _ROW_LI])].mean(0)
        edge = pushed_out(outer, centre, BLEND_EDGE, iod)
        alpha = feathered_mask(edge, region.shape[:2], BLEND_FEATHER * iod)
        alpha *= covered
        lips = np.zeros(region.shape[:2], np.uint8)
        cv2.fillPoly(lips, [np.round(outer * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
        skin = covered.astype(bool) & ~lips.astype(bool)
        if skin.sum() >= 20:
            gain = region[skin].astype(np.float32).mean(0) / (bank[skin].astype(np.float32).mean(0) + 1.0)
            gain = np.clip(gain, 1 / MAX_GAIN, MAX_GAIN)
            bank = np.clip(bank.astype(np.float32) * gain + 0.5, 0, 255).astype(np.uint8)
        region[...] = cv2.blendLinear(bank, region, alpha, 1.0 - alpha)


def piecewise_affine_map(
    src: np.ndarray, dst: np.ndarray, triangles: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward map of a triangle mesh: for each destination pixel, the source point of its triangle.

    Args:
        src, dst: ``(n, 2)`` float32 mesh points (pixels) in the source and the destination image.
        triangles: ``(t, 3)`` int32 rows into the points (``t < 256``).
        shape: ``(h, w)`` of the destination in pixels.

    Returns:
        ``(map_x, map_y, covered)``: ``(h, w)`` float32 source coordinates for ``cv2.remap`` and a
        ``(h, w)`` float32 0/1 map of the pixels inside a (non-degenerate) destination triangle or
        within 2 pixels of one.
    """
    h, w = shape
    d_tri, s_tri = dst[triangles], src[triangles]  # (t, 3, 2)
    dd = np.stack([d_tri[:, 1] - d_tri[:, 0], d_tri[:, 2] - d_tri[:, 0]], axis=2)
    ss = np.stack([s_tri[:, 1] - s_tri[:, 0], s_tri[:, 2] - s_tri[:, 0]], axis=2)
    det = dd[:, 0, 0] * dd[:, 1, 1] - dd[:, 0, 1] * dd[:, 1, 0]
    # Slivers (a closed mouth's interior) have ill-conditioned maps that sample far-off pixels:
    # their pixels take a neighbour's map instead.
    ok = np.abs(det) > 2 * MIN_TRIANGLE_AREA
    inv = np.stack([dd[:, 1, 1], -dd[:, 0, 1], -dd[:, 1, 0], dd[:, 0, 0]], axis=1).reshape(-1, 2, 2)
    inv /= np.where(ok, det, 1.0)[:, None, None]
    lin = ss @ inv  # s = lin (d - d0) + s0
    bias = s_tri[:, 0] - (lin @ d_tri[:, 0, :, None])[..., 0]
    table = np.zeros((6, 256), np.float32)
    table[:, 1 : len(triangles) + 1] = np.stack(
        [lin[:, 0, 0], lin[:, 0, 1], bias[:, 0], lin[:, 1, 0], lin[:, 1, 1], bias[:, 1]]
    )
    tri_id = np.zeros((h, w), np.uint8)
    nodes = np.round(d_tri * 16).astype(np.int32)
    for k in np.flatnonzero(ok):
        cv2.fillConvexPoly(tri_id, nodes[k], int(k) + 1, lineType=cv2.LINE_8, shift=4)
    # Pixels between triangles (a closed mouth's collapsed interior is a line of them) take a
    # neighbouring triangle's map, extrapolated over a pixel or two.
    for _ in range(2):
        grown = cv2.dilate(tri_id, np.ones((3, 3), np.uint8))
        np.copyto(tri_id, grown, where=tri_id == 0)
    c = [cv2.LUT(tri_id, row) for row in table]
    gx = np.arange(w, dtype=np.float32)[None, :]
    gy = np.arange(h, dtype=np.float32)[:, None]
    map_x = c[0] * gx + c[1] * gy + c[2]
    map_y = c[3] * gx + c[4] * gy + c[5]
    return map_x, map_y, (tri_id > 0).astype(np.float32)
