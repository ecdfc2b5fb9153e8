"""Video frames kept as decoded, in I420 (YUV 4:2:0), and turned into RGB only where they are read.

libx264 encodes ``yuv420p`` and most videos decode to it, so a frame whose face is never touched
need not be converted at all, and a rendered frame needs RGB only around the lower face. At 720p a
full-frame conversion costs about 0.75 ms each way on one core; the regions the tracker and the warp
renderer read are a fraction of that. Conversions use OpenCV's BT.601 limited-range I420 <-> RGB,
whose round trip returns an untouched pixel unchanged but for rare off-by-one values.
"""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1) pixels, x1/y1 exclusive
# OpenCV's rotation for 1, 2, 3 counterclockwise quarter turns
ROTATE_CCW = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_CLOCKWISE}


class I420Frame:
    """One frame as a ``(height * 3 // 2, width)`` uint8 I420 array: the Y plane, then U, then V.

    This is the layout of OpenCV's ``COLOR_YUV2RGB_I420`` and of PyAV's ``yuv420p`` frames. Width
    and height are even. The frame owns ``data`` (:meth:`blend_rgb` changes it).

    Args:
        data: the I420 array.

    Raises:
        ValueError: ``data`` is not a 2-D uint8 array of even width and of 1.5 x an even height.
    """

    __slots__ = ("data", "height", "width")

    def __init__(self, data: np.ndarray) -> None:
        rows, width = data.shape if data.ndim == 2 else (0, 0)
        height = rows * 2 // 3
        if data.dtype != np.uint8 or width % 2 or height % 2 or height * 3 // 2 != rows or not width:
            raise ValueError(f"not an I420 array of even size: shape {data.shape}, dtype {data.dtype}")
        self.data = data
        self.height, self.width = height, width

    @classmethod
    def from_rgb(cls, rgb: np.ndarray) -> I420Frame:
        """Convert a ``(H, W, 3)`` uint8 RGB frame (an odd row or column at the end is dropped)."""
        h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
        return cls(cv2.cvtColor(np.ascontiguousarray(rgb[:h, :w]), cv2.COLOR_RGB2YUV_I420))

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(height, width, 3)``: the shape of the frame in RGB."""
        return self.height, self.width, 3

    def copy(self) -> I420Frame:
        """A frame with its own copy of the pixels."""
        return I420Frame(self.data.copy())

    def rotated(self, turns: int) -> I420Frame:
        """The frame turned counterclockwise by ``turns`` quarter turns (0-3), plane by plane, as a
        player applies a video's display matrix (:data:`ROTATE_CCW`)."""
        if turns % 4 == 0:
            return self
        code = ROTATE_CCW[turns % 4]
        y, u, v = (cv2.rotate(p, code) for p in self.planes())
        out = np.empty((y.shape[0] * 3 // 2, y.shape[1]), np.uint8)
        for dst, src in zip(i420_planes(out, *y.shape), (y, u, v), strict=True):
            dst[:] = src
        return I420Frame(out)

    def planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Views ``(Y, U, V)`` of shapes ``(H, W)``, ``(H/2, W/2)``, ``(H/2, W/2)``."""
        return i420_planes(self.data, self.height, self.width)

    def rgb(self, box: Box | None = None) -> tuple[np.ndarray, Box]:
        """RGB pixels of ``box`` (the whole frame if ``None``), widened to even coordinates.

        Args:
            box: ``(x0, y0, x1, y1)`` pixels; clipped to the frame.

        Returns:
            ``(rgb, box)``: the ``(y1 - y0, x1 - x0, 3)`` uint8 RGB array (a new array) and the
            even-aligned, clipped box it covers (empty box: a ``(0, 0, 3)`` array).
        """
        box = x0, y0, x1, y1 = self.align(box)
        if x1 <= x0 or y1 <= y0:
            return np.zeros((0, 0, 3), np.uint8), (x0, y0, x0, y0)
        if box == (0, 0, self.width, self.height):
            return cv2.cvtColor(self.data, cv2.COLOR_YUV2RGB_I420), box
        y, u, v = self.planes()
        return cv2.cvtColor(_pack(y[y0:y1, x0:x1], u, v, box), cv2.COLOR_YUV2RGB_I420), box

    def blend_rgb(self, x0: int, y0: int, patch: np.ndarray, alpha: np.ndarray) -> None:
        """Blend an RGB patch into the frame in place: ``alpha * patch + (1 - alpha) * frame``.

        The patch is converted to YUV and blended plane by plane (half the samples of an RGB
        blend): luma per pixel, chroma per 2x2 block with the block's mean ``alpha``. Where
        ``alpha`` is 0 (for chroma: in the whole block) the frame keeps its exact values.

        Args:
            x0, y0: top-left pixel of the patch in the frame (any parity).
            patch: ``(h, w, 3)`` uint8 RGB.
            alpha: ``(h, w)`` float32 weights in [0, 1].

        Raises:
            ValueError: the patch leaves the frame or the arrays do not match.
        """
        h, w = alpha.shape
        if x0 < 0 or y0 < 0 or x0 + w > self.width or y0 + h > self.height or patch.shape != (h, w, 3):
            raise ValueError(f"patch of shape {patch.shape} at ({x0}, {y0}) does not fit {self.shape}")
        # Widen to even pixels (the frame's own size is even), the new border weighing 0.
        left, top, right, bottom = x0 % 2, y0 % 2, (x0 + w) % 2, (y0 + h) % 2
        if left or top or right or bottom:
            patch = cv2.copyMakeBorder(patch, top, bottom, left, right, cv2.BORDER_REPLICATE)
            alpha = cv2.copyMakeBorder(alpha, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0)
        x0, y0, (h, w) = x0 - left, y0 - top, alpha.shape
        yuv = cv2.cvtColor(np.ascontiguousarray(patch), cv2.COLOR_RGB2YUV_I420)
        block = cv2.resize(alpha, (w // 2, h // 2), interpolation=cv2.INTER_AREA)  # mean of each 2x2
        for k, (plane, src) in enumerate(zip(self.planes(), i420_planes(yuv, h, w), strict=True)):
            a, f = (alpha, 1) if k == 0 else (block, 2)  # chroma planes are half size
            region = plane[y0 // f : y0 // f + a.shape[0], x0 // f : x0 // f + a.shape[1]]
            region[...] = cv2.blendLinear(src, region, a, 1.0 - a)  # a == 0 keeps region exactly

    def crop_rgb(self, x0: int, y0: int, side: int, size: int) -> tuple[np.ndarray, tuple[int, int, int]]:
        """The square ``[x0, x0 + side) x [y0, y0 + side)`` scaled to ``size`` x ``size`` RGB.

        Parts outside the frame repeat its edge pixels. Coordinates are rounded down to even values
        (a shift of at most one pixel) so that chroma lines up; the caller maps results back with
        the returned square, not the requested one.

        Args:
            x0, y0: top-left corner in pixels (may be negative).
            side: side of the square in pixels (> 0).
            size: output side in pixels (even).

        Returns:
            ``(rgb, (x0, y0, side))``: ``(size, size, 3)`` uint8 RGB, scaled bilinearly
            (``cv2.INTER_LINEAR``), and the square it shows.
        """
        x0, y0, side = x0 // 2 * 2, y0 // 2 * 2, max(2, side // 2 * 2)
        out = np.empty((size * 3 // 2, size), np.uint8)
        for k, (plane, target) in enumerate(zip(self.planes(), i420_planes(out, size, size), strict=True)):
            f = 1 if k == 0 else 2  # chroma planes are half size
            region = _square(plane, x0 // f, y0 // f, side // f)
            target[:] = cv2.resize(region, target.shape[::-1], interpolation=cv2.INTER_LINEAR)
        return cv2.cvtColor(out, cv2.COLOR_YUV2RGB_I420), (x0, y0, side)

    def align(self, box: Box | None) -> Box:
        """``box`` widened to even coordinates and clipped to the frame (``None``: the whole frame)."""
        if box is None:
            return 0, 0, self.width, self.height
        x0, y0, x1, y1 = (int(v) for v in box)
        x0, y0 = max(0, x0 // 2 * 2), max(0, y0 // 2 * 2)
        x1, y1 = min(self.width, -(-x1 // 2) * 2), min(self.height, -(-y1 // 2) * 2)
        return x0, y0, max(x0, x1), max(y0, y1)


def crop_square(
    frame: np.ndarray | I420Frame, x0: int, y0: int, side: int, size: int
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The square ``[x0, x0 + side) x [y0, y0 + side)`` of an RGB or I420 frame, scaled to ``size``.

    Edge pixels repeat outside the frame; bilinear scaling. For an :class:`I420Frame` the corner
    and side are first rounded down to even values (see :meth:`I420Frame.crop_rgb`).

    Returns:
        ``(rgb, (x0, y0, side))``: ``(size, size, 3)`` uint8 RGB and the square it shows, in pixels.
    """
    if isinstance(frame, I420Frame):
        return frame.crop_rgb(x0, y0, side, size)
    side = max(1, side)
    rgb = cv2.resize(_square(frame, x0, y0, side), (size, size), interpolation=cv2.INTER_LINEAR)
    return rgb, (x0, y0, side)


def _square(plane: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """``plane[y0:y0+side, x0:x0+side]``, edge-replicated where it leaves the plane (a view if inside)."""
    h, w = plane.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if cx1 <= cx0 or cy1 <= cy0:  # wholly outside: the nearest edge pixel everywhere
        edge = plane[min(max(y0, 0), h - 1), min(max(x0, 0), w - 1)]
        return np.full((side, side) + plane.shape[2:], edge, plane.dtype)
    inner = plane[cy0:cy1, cx0:cx1]
    if (cx0, cy0, cx1, cy1) == (x0, y0, x0 + side, y0 + side):
        return inner
    top, left = cy0 - y0, cx0 - x0
    return cv2.copyMakeBorder(
        inner, top, side - top - (cy1 - cy0), left, side - left - (cx1 - cx0), cv2.BORDER_REPLICATE
    )


def i420_planes(data: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views ``(Y, U, V)`` into a contiguous I420 buffer of an even ``height`` x ``width`` frame
    (``(height * 3 // 2, width)`` uint8, or flat): the one place the layout is spelled out."""
    flat = data.reshape(-1)
    n, q = height * width, height * width // 4
    return (
        flat[:n].reshape(height, width),
        flat[n : n + q].reshape(height // 2, width // 2),
        flat[n + q : n + 2 * q].reshape(height // 2, width // 2),
    )


def _pack(y: np.ndarray, u: np.ndarray, v: np.ndarray, box: Box) -> np.ndarray:
    """Contiguous ``(h * 3 // 2, w)`` I420 array of an even-aligned ``box`` (``y`` already cut)."""
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    out = np.empty((h * 3 // 2, w), np.uint8)
    oy, ou, ov = i420_planes(out, h, w)
    oy[:] = y
    ou[:] = u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2]
    ov[:] = v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2]
    return out
