"""The talking video out: H.264 + AAC MP4, encoded on threads and written atomically."""

from __future__ import annotations

import os
import queue
import tempfile
import threading
from collections.abc import Iterator
from fractions import Fraction
from itertools import chain
from pathlib import Path

import av
import numpy as np

from talkface.errors import TalkfaceError
from talkface.media import VIDEO_PRESET
from talkface.media.atomic import publish
from talkface.media.audio import Speech, resampled
from talkface.media.frame import I420Frame

VIDEO_CRF = 18  # libx264 constant rate factor: visually lossless for the untouched pixels
# One x264 thread: the encoder runs on its own Python thread beside decoding, tracking and rendering,
# and x264's frame threads only added CPU (total per 20 s of 720p: 19.3-19.6 CPU-s vs 20.0).
X264_EXTRA = {"threads": "1"}
AUDIO_BITRATE = 192_000  # bit/s, AAC
AAC_FRAME = 1024  # samples per AAC frame (the encoder takes a shorter last one)
# FFmpeg's AAC coding method. On 60 s of shared speech (16 kHz mono) "fast" took 0.29 CPU-s against
# 1.0 for the default "twoloop", at the same fidelity (SNR of the decoded audio 35.7 vs 35.9 dB).
AAC_CODER = "fast"
VIDEO_QUEUE = 12  # frames waiting for the encoder thread (evens out uneven render times)
AUDIO_QUEUE = 256  # AAC packets (AAC_FRAME samples each, ~6 s at 44.1 kHz) encoded ahead of the video


def yuv420p_frame(frame: I420Frame) -> av.VideoFrame:
    """A PyAV ``yuv420p`` frame holding a copy of ``frame``'s planes (a quarter of the time of
    ``VideoFrame.from_ndarray`` at 720p: 0.12 vs 0.45 ms)."""
    out = av.VideoFrame(frame.width, frame.height, "yuv420p")
    for plane, src in zip(out.planes, frame.planes(), strict=True):
        if plane.line_size == src.shape[1]:
            plane.update(src.reshape(-1))
        else:  # rows padded for alignment
            rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
            rows[: src.shape[0], : src.shape[1]] = src
    return out


class VideoWriter:
    """Encode RGB frames to H.264 (yuv420p) and the speech to AAC, into ``out`` atomically.

    Frames go to a temporary file beside ``out``; :meth:`close` renames it to ``out``. Three
    threads share the work: the caller renders, an encoder thread converts and encodes each frame
    (a short bounded queue), and an audio thread encodes the speech to AAC from the start (a
    bounded queue of packets, which the encoder thread interleaves with the video by time). On an
    exception inside a ``with`` block the temporary file is removed and ``out`` is never created or
    replaced.

    Args:
        out: output ``.mp4`` path.
        width, height: frame size in pixels (odd sizes are cropped by one pixel, as H.264
            4:2:0 needs even sizes).
        fps: frame rate in frames/s.
        speech: the speech to mux: ``speech.source`` re-encoded at its own sample rate and channel
            count (at most 2), else the synthesised ``speech.pcm`` at ``speech.pcm_rate``.
        preset: x264 preset (:data:`PRESETS`): slower ones make smaller files at the same quality.

    Raises:
        TalkfaceError: the output directory does not exist or is not writable.
    """

    def __init__(
        self,
        out: str | Path,
        width: int,
        height: int,
        fps: float,
        speech: Speech,
        preset: str = VIDEO_PRESET,
    ) -> None:
        self.out = Path(out)
        folder = self.out.parent if str(self.out.parent) else Path(".")
        if not folder.is_dir():
            raise TalkfaceError("output folder does not exist", self.out)
        try:
            fd, tmp = tempfile.mkstemp(suffix=".mp4", prefix=".talkface-", dir=folder)
        except OSError as exc:
            raise TalkfaceError(f"cannot write output ({exc.strerror})", self.out) from None
        os.close(fd)
        self.tmp = Path(tmp)
        try:
            self._open(width, height, fps, speech, preset)
        except BaseException:  # an unreadable speech file, or Ctrl-C/SIGTERM while opening
            self.abort()
            raise

    def _open(self, width: int, height: int, fps: float, speech: Speech, preset: str) -> None:
        """Open the container and its streams, and start the audio and encoder threads."""
        self.width, self.height = width - width % 2, height - height % 2
        self.rate = Fraction(fps).limit_denominator(1001)
        self.container = av.open(str(self.tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
        self.video = self.container.add_stream("libx264", rate=self.rate)
        self.video.width, self.video.height = self.width, self.height
        self.video.pix_fmt = "yuv420p"
        self.video.options = {"crf": str(VIDEO_CRF), "preset": preset, **X264_EXTRA}
        rate, channels = audio_format(speech.source) if speech.source else (speech.pcm_rate, 1)
        self.audio = self.container.add_stream("aac", rate=rate)
        self.audio.layout = "stereo" if channels >= 2 else "mono"
        self.audio.bit_rate = AUDIO_BITRATE
        self.audio.options = {"aac_coder": AAC_CODER}
        self.n_frames = 0
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._packets: queue.Queue = queue.Queue(maxsize=AUDIO_QUEUE)
        self._pending = None  # the next audio packet, not yet due
        self._audio_done = False
        self._audio_thread = threading.Thread(
            target=self._audio_loop, args=(speech,), name="talkface-audio", daemon=True
        )
        self._audio_thread.start()
        self._queue: queue.Queue = queue.Queue(maxsize=VIDEO_QUEUE)
        self._thread = threading.Thread(target=self._encode_loop, name="talkface-encoder", daemon=True)
        self._thread.start()

    def write(self, frame: np.ndarray | I420Frame) -> None:
        """Queue one frame for encoding: a ``(height, width, 3)`` uint8 RGB array or an
        :class:`~talkface.media.frame.I420Frame` of the writer's (even) size, which is encoded as it is."""
        if self._error is not None:
            raise self._error
        self._queue.put(frame)
        self.n_frames += 1

    def _audio_loop(self, speech: Speech) -> None:
        """Encode the speech to AAC packets for the encoder thread (``None`` marks the end)."""
        try:
            if speech.source is not None:
                frames = _audio_file_frames(speech.source, self.audio, speech.duration)
            else:
                frames = _pcm_frames(speech.pcm, self.audio.sample_rate)
            for frame in chain(frames, [None]):
                for packet in self.audio.encode(frame):
                    self._put_packet(packet)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self._error = exc
        self._put_packet(None)

    def _put_packet(self, packet) -> None:
        while not self._stop.is_set():
            try:
                self._packets.put(packet, timeout=0.1)
                return
            except queue.Full:
                continue

    def _mux_audio_until(self, seconds: float | None) -> None:
        """Mux the audio packets that start before ``seconds`` (all of them if ``None``)."""
        while not self._audio_done:
            if self._pending is None:
                try:
                    self._pending = self._packets.get(timeout=0.1)
                except queue.Empty:
                    if self._stop.is_set() or (not self._audio_thread.is_alive() and self._packets.empty()):
                        self._audio_done = True
                    continue
                if self._pending is None:  # end of the speech
                    self._audio_done = True
                    return
            packet = self._pending
            if seconds is not None and float(packet.pts * packet.time_base) > seconds:
                return
            self.container.mux(packet)
            self._pending = None

    def _encode_loop(self) -> None:
        pts = 0
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue
            try:
                if not isinstance(item, I420Frame):
                    item = I420Frame.from_rgb(item[: self.height, : self.width])  # BT.601 limited range
                frame = yuv420p_frame(item)
                frame.pts = pts
                frame.time_base = 1 / self.rate
                pts += 1
                for packet in self.video.encode(frame):
                    self.container.mux(packet)
                self._mux_audio_until(float(pts / self.rate))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                self._error = exc

    def _join(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def close(self) -> Path:
        """Flush video and audio and rename the file to ``out``.

        Returns:
            The final output path.
        """
        self._join()
        if self._error is not None:
            raise self._error
        for packet in self.video.encode(None):
            self.container.mux(packet)
        self._mux_audio_until(None)
        self._audio_thread.join()
        if self._error is not None:
            raise self._error
        self.container.close()
        publish(self.tmp, self.out)
        return self.out

    def abort(self) -> None:
        """Drop the partial output (the final path is left untouched); also after a failed open."""
        if hasattr(self, "_stop"):
            self._stop.set()
        if hasattr(self, "_thread"):
            self._join()
        if hasattr(self, "_audio_thread") and self._audio_thread.is_alive():
            self._audio_thread.join()
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - the file is deleted anyway (or was never opened)
            pass
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def audio_format(path: Path) -> tuple[int, int]:
    """Sample rate in Hz and channel count (at most 2) of the first audio stream of ``path``."""
    with av.open(str(path)) as inp:
        src = inp.streams.audio[0]
        return int(src.sample_rate or 48000), min(2, int(src.channels or 1))


def _audio_file_frames(source: Path, stream, duration: float) -> Iterator[av.AudioFrame]:
    """The first ``duration`` s of ``source``'s audio, resampled for ``stream``, in frames of
    :data:`AAC_FRAME` samples and a shorter last one (the resampler's own ``frame_size`` would
    drop that tail: up to 128 ms of speech at 8 kHz)."""
    rate = stream.sample_rate
    with av.open(str(source)) as inp:
        src = inp.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=rate)
        fifo = av.AudioFifo()
        limit = int(round(duration * rate))
        written = 0
        for out in chain(resampled(inp.decode(src), resampler), [None]):
            if out is not None:
                out.pts = None  # the FIFO checks timestamps for gaps; ours are set below
                fifo.write(out)
            # Whole frames while more may come; at the end (or the limit) what is left.
            while (n := min(AAC_FRAME, limit - written, fifo.samples)) and (
                n == AAC_FRAME or out is None or n == limit - written
            ):
                frame = fifo.read(n)
                frame.pts = written
                written += n
                yield frame
            if written >= limit:
                return


def _pcm_frames(pcm: np.ndarray, rate: int) -> Iterator[av.AudioFrame]:
    """Mono float ``pcm`` at ``rate`` Hz in 1024-sample frames."""
    step = AAC_FRAME
    for start in range(0, len(pcm), step):
        chunk = np.ascontiguousarray(pcm[start : start + step], dtype=np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        yield frame
