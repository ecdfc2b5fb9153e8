"""What a file really holds, judged by its content (FFmpeg's probe), never by its name.

A web server stores uploads under names of its own, so FFmpeg sees no file extension and decides
the container from the bytes alone. Only the containers a face or speech can come in are accepted,
and a stream counts only once a frame of it has decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from talkface.errors import TalkfaceError
from talkface.media.files import NOT_MEDIA, check_input_file

# FFmpeg demuxer names (``container.format.name`` splits on commas) that a face or speech arrives in.
IMAGE_FORMATS = frozenset({"png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif", "image2"})
MEDIA_FORMATS = frozenset(
    {"mov", "mp4", "m4a", "3gp", "matroska", "webm", "avi", "mpeg", "mpegts", "flv", "ogg", "wav", "mp3"}
    | {"flac", "aac", "w64", "aiff", "caf"}
)
NO_PICTURE_OR_SOUND = "has no decodable picture or sound"
PROBE_PACKETS = 200  # packets read to find a decodable frame of each stream


@dataclass(frozen=True)
class MediaInfo:
    """Content of one media file.

    Attributes:
        kind: ``"image"`` (a still), ``"video"`` (moving pictures, maybe with sound) or ``"audio"``.
        format: FFmpeg's demuxer name, e.g. ``"png_pipe"`` or ``"mov,mp4,m4a,3gp,3g2,mj2"``.
        duration: length in seconds (0 for a still; ``None`` when the container does not say).
        has_video: a video (or image) stream decoded a frame.
        has_audio: an audio stream decoded a frame.
    """

    kind: str
    format: str
    duration: float | None
    has_video: bool
    has_audio: bool


def probe_media(path: str | Path) -> MediaInfo:
    """Sniff ``path``: which container it is and which streams decode.

    Args:
        path: any file.

    Returns:
        :class:`MediaInfo`.

    Raises:
        TalkfaceError: missing, a folder, an empty file, not a media container we accept (text,
            an archive, random bytes, ...), or no stream with a decodable frame.
    """
    path = check_input_file(path)
    try:
        with av.open(str(path)) as container:
            names = set(container.format.name.split(","))
            is_image = bool(names & IMAGE_FORMATS)
            if not is_image and not names & MEDIA_FORMATS:
                raise TalkfaceError(f"{NOT_MEDIA} ({container.format.name})", path)
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            duration = container.duration / av.time_base if container.duration else None
            decoded = _decodable(container, [s for s in (video, audio) if s is not None])
            has_video = video is not None and video.index in decoded
            has_audio = audio is not None and audio.index in decoded
            one_frame = has_video and video.frames == 1
            fmt = container.format.name
    except av.error.FFmpegError:
        raise TalkfaceError(NOT_MEDIA, path) from None
    if not has_video and not has_audio:
        raise TalkfaceError(NO_PICTURE_OR_SOUND, path)
    still = is_image or (one_frame and not has_audio)
    kind = "image" if still else "video" if has_video else "audio"
    return MediaInfo(kind, fmt, 0.0 if still else duration, has_video, has_audio)


def _decodable(container, streams: list) -> set[int]:
    """Indices of ``streams`` of which a frame decodes within :data:`PROBE_PACKETS` packets."""
    found: set[int] = set()
    if not streams:
        return found
    for n, packet in enumerate(container.demux(*streams)):
        if n >= PROBE_PACKETS or len(found) == len(streams):
            break
        if packet.stream.index in found or packet.size == 0:
            continue
        try:
            if packet.decode():
                found.add(packet.stream.index)
        except av.error.FFmpegError:
            continue
    return found
