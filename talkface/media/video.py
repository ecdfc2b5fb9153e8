"""Face media in: a video or photo decoded frame by frame (the writer is :mod:`talkface.media.writer`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from talkface.errors import TalkfaceError
from talkface.media import DEFAULT_FPS, FPS_RANGE
from talkface.media.files import check_input_file, media_error
from talkface.media.frame import ROTATE_CCW, I420Frame, i420_planes

VIDEO_SUFFIXES = (".mp4", ".mpg", ".mpeg", ".mov", ".mkv", ".avi", ".webm")  # what a folder of clips holds
_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif")


class FaceMedia:
    """A face video or photo, decoded frame by frame (nothing holds the whole video).

    Attributes:
        path: the file.
        is_photo: ``True`` for a single still image (png, jpg, webp, ...).
        fps: frame rate in frames/s (for a photo: ``DEFAULT_FPS`` unless given).
        width, height: frame size in pixels after ``resize_factor`` (and :meth:`reframe`).
        n_frames_hint: frame count from the container header (0 when unknown; may be wrong).
        turns: counterclockwise quarter turns (0-3) applied to every frame, from the video's
            display matrix (a phone's rotation metadata): frames come out upright, in the
            orientation a player shows, and ``width``/``height`` are those of the turned frames.

    Raises:
        TalkfaceError: missing file, a folder, an empty file, not media, no video stream, or no
            decodable frame.
    """

    def __init__(self, path: str | Path, fps: float | None = None, resize_factor: int = 1) -> None:
        self.path = check_input_file(path)
        if resize_factor < 1:
            raise TalkfaceError(f"resize factor must be >= 1, got {resize_factor}")
        self.resize_factor = int(resize_factor)
        try:
            with av.open(str(self.path)) as container:
                if not container.streams.video:
                    raise TalkfaceError("no video stream or image", self.path)
                stream = container.streams.video[0]
                fmt = container.format.name
                self.is_photo = any(name in fmt.split(",") for name in _IMAGE_FORMATS) or (stream.frames == 1)
                rate = stream.average_rate or stream.guessed_rate
                first = next(container.decode(stream), None)
                # Quarter turns counterclockwise that the display matrix asks for (a phone's video)
                self.turns = round((first.rotation if first is not None else 0) / 90) % 4
                self.n_frames_hint = int(stream.frames or 0)
                if not self.n_frames_hint and stream.duration and stream.time_base and rate:
                    self.n_frames_hint = int(float(stream.duration * stream.time_base * rate))
        except av.error.FFmpegError as exc:
            raise media_error(exc, self.path) from None
        if self.is_photo:
            self.fps = float(DEFAULT_FPS if fps is None else fps)
        else:
            trusted = rate and FPS_RANGE[0] <= float(rate) <= FPS_RANGE[1]
            self.fps = float(rate) if trusted else DEFAULT_FPS
        if first is None:
            raise TalkfaceError("no decodable frame", self.path)
        self.view: tuple[int, int, int, int] | None = None  # see reframe
        self.view_size: tuple[int, int] | None = None
        self.height, self.width = next(self.frames()).shape[:2]
        if self.is_photo:
            self.n_frames_hint = 1

    def reframe(self, box: tuple[int, int, int, int], size: tuple[int, int]) -> None:
        """Show only ``box`` of a photo, scaled to ``size``, from now on (``--preprocess``).

        Args:
            box: ``(left, top, right, bottom)`` pixels of the (resized) photo, inside it.
            size: ``(width, height)`` of the frames then given, in pixels (even).

        Raises:
            TalkfaceError: the media is a video, or the box is not inside the photo.
        """
        left, top, right, bottom = box
        if not self.is_photo:
            raise TalkfaceError("only a photo can be reframed; this is a video", self.path)
        if not (0 <= left < right <= self.width and 0 <= top < bottom <= self.height):
            size_text = f"{self.width}x{self.height}"
            raise TalkfaceError(f"the box {box} is not inside the {size_text} photo", self.path)
        self.view, self.view_size = (left, top, right, bottom), (_even(size[0]), _even(size[1]))
        self.width, self.height = self.view_size

    def _viewed(self, rgb: np.ndarray) -> np.ndarray:
        """A decoded photo's :meth:`reframe` view."""
        left, top, right, bottom = self.view
        part = rgb[top:bottom, left:right]
        shrink = self.view_size[0] < part.shape[1]
        return cv2.resize(part, self.view_size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)

    def frames_at(self, fps: float) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(k, frame)`` resampled to ``fps``: for output frame ``k``, the source frame nearest
        in time (repeated or dropped as needed), as ``ffmpeg -r`` does. Frames as :meth:`frames`."""
        ratio = self.fps / fps
        k = 0
        for i, rgb in enumerate(self.frames()):
            while int(round(k * ratio)) == i:
                yield k, rgb
                k += 1

    def frames(self) -> Iterator[np.ndarray]:
        """Yield frames in display order as ``(height, width, 3)`` uint8 RGB arrays.

        Raises:
            TalkfaceError: the stream is corrupt beyond the first frames.
        """
        # One reformatter per pass, single-threaded: frame.to_ndarray() would build a new swscale
        # context, with a new pool of worker threads, for every frame.
        reformatter = VideoReformatter()
        for frame in self._decoded():
            if self.resize_factor == 1 and _is_bt601_i420(frame):
                rgb = cv2.cvtColor(i420_array(frame), cv2.COLOR_YUV2RGB_I420)
            else:
                rgb = self._reformat_rgb(frame, reformatter)
            rgb = cv2.rotate(rgb, ROTATE_CCW[self.turns]) if self.turns else rgb
            yield rgb if self.view is None else self._viewed(rgb)

    def i420_frames(self) -> Iterator[I420Frame]:
        """Yield frames in display order as :class:`~talkface.media.frame.I420Frame` (what the
        encoder takes): BT.601 4:2:0 of even size is copied as decoded, anything else goes through
        RGB (an odd last row or column is dropped, as the encoder would).

        Raises:
            TalkfaceError: the stream is corrupt beyond the first frames.
        """
        if self.view is not None:  # a reframed photo: its one frame goes through RGB
            yield from (I420Frame.from_rgb(rgb) for rgb in self.frames())
            return
        reformatter = VideoReformatter()
        for frame in self._decoded():
            if self.resize_factor == 1 and _is_bt601_i420(frame):
                yield I420Frame(i420_array(frame)).rotated(self.turns)
            else:
                yield I420Frame.from_rgb(self._reformat_rgb(frame, reformatter)).rotated(self.turns)

    def _decoded(self) -> Iterator[av.VideoFrame]:
        """Decoded PyAV frames (only the first for a photo)."""
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                # Single-threaded: the pipeline's own threads (tracking, rendering, encoding) already
                # fill the cores, and libavcodec's frame threads cost a third more CPU per frame here.
                stream.thread_count = 1
                for frame in container.decode(stream):
                    yield frame
                    if self.is_photo:
                        return
        except av.error.FFmpegError as exc:
            raise media_error(exc, self.path, "decode video") from None

    def _reformat_rgb(self, frame: av.VideoFrame, reformatter: VideoReformatter) -> np.ndarray:
        """``frame`` in RGB via swscale, divided by the resize factor."""
        size = {}
        if self.resize_factor > 1:
            size = {
                "width": _even(frame.width // self.resize_factor),
                "height": _even(frame.height // self.resize_factor),
            }
        return reformatter.reformat(frame, format="rgb24", threads=1, **size).to_ndarray()


def _even(n: int) -> int:
    return max(2, n - n % 2)


# AVColorSpace values that mean BT.601 (or nothing, which swscale and players treat as BT.601)
_BT601_SPACES = (2, 5, 6)  # unspecified, BT470BG, SMPTE170M
_JPEG_RANGE = 2  # AVCOL_RANGE_JPEG: full-range luma 0-255


def _is_bt601_i420(frame: av.VideoFrame) -> bool:
    """Whether ``frame`` is limited-range BT.601 4:2:0 of even size, for OpenCV's I420 -> RGB.

    OpenCV converts such a frame in 40% of swscale's time (0.9 vs 2.2 ms at 720p) and is the exact
    inverse of the encoder's RGB -> I420: an untouched pixel comes back with a mean luma error of
    0.01 (swscale's bilinear chroma and rounding: 1.1). Other formats and colour spaces use swscale.
    """
    return (
        frame.format.name == "yuv420p"
        and frame.width % 2 == 0
        and frame.height % 2 == 0
        and int(frame.colorspace) in _BT601_SPACES
        and int(frame.color_range) != _JPEG_RANGE
    )


def i420_array(frame: av.VideoFrame) -> np.ndarray:
    """The planes of a ``yuv420p`` frame of even size as one ``(height * 3 // 2, width)`` uint8 I420
    array (Y, then U, then V), as OpenCV's ``COLOR_YUV2RGB_I420`` takes."""
    out = np.empty((frame.height * 3 // 2, frame.width), np.uint8)
    for plane, dst in zip(frame.planes, i420_planes(out, frame.height, frame.width), strict=True):
        dst[:] = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: dst.shape[0], : dst.shape[1]]
    return out
