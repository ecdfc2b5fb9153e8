"""The main job: face media + speech -> lip-synced MP4, streamed frame by frame.

One pass: a background thread decodes and tracks the face in each frame (up to
:data:`PREFETCH_BYTES` of frames ahead), a window of :data:`LOOKAHEAD` frames waits so that gaps
can be bridged and landmarks smoothed with future frames, then each frame is rendered and handed to
the encoder thread. Frames stay in I420 (:class:`~talkface.media.frame.I420Frame`) from decoder to
encoder; only the regions the tracker and the renderer read are converted to RGB. Only those
queues of frames are in memory: the smoothed landmarks of every frame (3.8 KB each), which a replay
needs, go to an anonymous temporary file. A video shorter than the speech must be replayed: its
frames are then spilled to such a file too.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from talkface.engines import Engine, Rendered
from talkface.errors import TalkfaceError, check_signals
from talkface.face.landmarks import LIPS
from talkface.face.quiet import native_stderr_silenced
from talkface.face.smooth import MAX_BRIDGE, bridge_gaps, smooth_frame
from talkface.face.track import FaceTracker, FrameFace
from talkface.media.audio import SAMPLE_RATE, Speech, load_audio, resample
from talkface.media.files import check_not_an_input
from talkface.media.frame import I420Frame
from talkface.media.spill import FrameStore, LandmarkStore
from talkface.media.video import FPS_RANGE, PRESETS, VIDEO_PRESET, FaceMedia, VideoWriter

ENGINES = ("warp", "wav2lip")
ACCELERATORS = ("bf16", "onnx", "none")  # how a neural engine runs
MOTIONS = ("learned", "heuristic")
LOOKAHEAD = MAX_BRIDGE + 4  # frames held back for gap bridging and smoothing
# Decoded and tracked frames queued ahead of the renderer: while the speech is analysed at the
# start, the tracker runs ahead, and later it absorbs uneven per-frame costs (48 frames at 720p).
PREFETCH_BYTES = 96 << 20
PREFETCH_FRAMES = (6, 48)  # at least, at most
PROGRESS_DELAY = 1.0  # seconds before a progress bar appears


@dataclass
class SyncResult:
    """Summary of one :func:`sync` run.

    Attributes:
        output: the MP4 written.
        frames: output frames.
        faces: output frames rendered with a face (the rest passed through unchanged).
        speech_seconds: speech length in seconds.
        wall_seconds: run time in seconds.
    """

    output: Path
    frames: int
    faces: int
    speech_seconds: float
    wall_seconds: float

    @property
    def rtf(self) -> float:
        """Real-time factor: wall seconds per second of speech."""
        return self.wall_seconds / max(self.speech_seconds, 1e-9)

    def summary(self) -> str:
        """One line for the terminal."""
        return (
            f"{self.output}: {self.frames} frames, face in {self.faces}, passed through "
            f"{self.frames - self.faces}; {self.speech_seconds:.2f} s of speech in {self.wall_seconds:.2f} s "
            f"(real-time factor {self.rtf:.2f})"
        )


def make_engine(
    name: str,
    pads: tuple[int, int, int, int],
    checkpoint: str | Path | None,
    accelerate: str = "bf16",
    motion: str = "learned",
    motion_model: str | Path | None = None,
) -> Engine:
    """Build the engine called ``name`` (see :data:`ENGINES`; ``motion`` one of :data:`MOTIONS`)."""
    if name == "wav2lip":
        from talkface.engines.wav2lip import Wav2LipEngine

        return Wav2LipEngine(checkpoint, pads=pads, accelerate=accelerate)
    from talkface.engines.warp import WarpEngine

    return WarpEngine(pads=pads, motion=motion, motion_model=motion_model)


def load_speech(audio: str | Path | None = None, text: str | None = None, lang: str = "en") -> Speech:
    """Speech from an audio/video file or from text spoken by espeak-ng.

    Raises:
        TalkfaceError: neither or both given, unreadable audio, empty text, unknown language.
    """
    if (audio is None) == (text is None):
        raise TalkfaceError("give exactly one of an audio file or a text")
    if audio is not None:
        return Speech(samples=load_audio(audio), source=Path(audio))
    from talkface.speech.tts import synthesize

    pcm, rate, phonemes = synthesize(text, lang)
    return Speech(samples=resample(pcm, rate, SAMPLE_RATE), pcm=pcm, pcm_rate=rate, phonemes=phonemes)


def frame_schedule(n_source: int, n_out: int, loop: bool = False) -> np.ndarray:
    """Source frame index for each output frame.

    A source shorter than the output is ping-ponged (0, 1, ..., n-1, n-2, ..., 1, 0, 1, ...) or,
    with ``loop``, cycled; a longer one is cut.

    Returns:
        ``(n_out,)`` int64 indices in ``[0, n_source)``.
    """
    i = np.arange(n_out)
    if n_source <= 1:
        return np.zeros(n_out, np.int64)
    if loop:
        return i % n_source
    period = 2 * (n_source - 1)
    k = i % period
    return np.where(k < n_source, k, period - k)


def sync(
    face: str | Path,
    out: str | Path,
    audio: str | Path | None = None,
    text: str | None = None,
    lang: str = "en",
    *,
    engine: str = "warp",
    motion: str = "learned",
    motion_model: str | Path | None = None,
    checkpoint: str | Path | None = None,
    accelerate: str = "bf16",
    fps: float | None = None,
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    box: tuple[int, int, int, int] | None = None,
    nosmooth: bool = False,
    resize_factor: int = 1,
    loop: bool = False,
    preset: str = VIDEO_PRESET,
    quiet: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SyncResult:
    """Make ``face`` speak ``audio`` (or ``text``) and write a lip-synced H.264/AAC MP4 to ``out``.

    Args:
        face: video or photo of a face.
        out: output ``.mp4`` path (written to a temporary name, renamed when complete).
        audio: speech file (any format PyAV reads, or a video's audio track).
        text: text to speak with espeak-ng instead of ``audio``.
        lang: language of ``text`` (``en``, ``zh``, any espeak-ng voice).
        engine: ``"warp"`` (training-free mesh warp, default) or ``"wav2lip"`` (the published
            generator; needs ``checkpoint``).
        motion: speech -> mouth model of the ``warp`` engine: ``"learned"`` (default; the model
            trained on real clips, :mod:`talkface.motion.learned`) or ``"heuristic"`` (formant-band
            acoustics for audio, and for ``text`` the visemes of espeak-ng's exact phoneme timing).
        motion_model: weights for ``motion="learned"`` (default: the shipped ``motion.npz``).
        checkpoint: weights for a neural engine (``wav2lip``: a published-format ``.pth``).
        accelerate: how a neural engine runs (:data:`ACCELERATORS`): ``bf16`` autocast (default),
            ``onnx`` (onnxruntime fp32) or ``none`` (PyTorch fp32).
        fps: frame rate for a photo (default 25); videos keep their own.
        pads: ``(top, bottom, left, right)`` pixels added around the warped lower face.
        box: fixed face box ``(top, bottom, left, right)`` in pixels; skips detection.
        nosmooth: do not smooth landmarks over time.
        resize_factor: divide the input resolution by this integer first.
        loop: cycle a video shorter than the speech instead of ping-ponging it.
        preset: x264 preset; slower presets give smaller files at the same quality (CRF 18).
        quiet: no progress bar.
        progress: called as ``progress(frames_done, frames_total)`` after each output frame is
            encoded (from the calling thread; keep it cheap), e.g. to drive a web progress bar.

    Returns:
        :class:`SyncResult`.

    Raises:
        TalkfaceError: bad input (missing, a folder, empty or not media, no audio stream, no face
            in any frame, empty text, unknown language, unwritable output, an output that would
            overwrite an input) or an option out of range (:func:`check_options`).
    """
    start = time.perf_counter()
    check_options(
        engine=engine,
        motion=motion,
        preset=preset,
        accelerate=accelerate,
        checkpoint=checkpoint,
        fps=fps,
        pads=pads,
        box=box,
        resize_factor=resize_factor,
    )
    check_not_an_input(out, {"face": face, "audio": audio})
    media = FaceMedia(face, fps=fps, resize_factor=resize_factor)
    speech = load_speech(audio, text, lang)
    # Built once the decoder thread runs, so that its imports overlap mediapipe's start-up.
    build_engine = partial(
        make_engine,
        engine,
        pads=pads,
        checkpoint=checkpoint,
        accelerate=accelerate,
        motion=motion,
        motion_model=motion_model,
    )
    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # decoder, tracker, renderer and encoder threads already fill the cores
    try:
        with native_stderr_silenced() as terminal:
            return _run(
                media,
                speech,
                Path(out),
                terminal,
                start,
                build_engine=build_engine,
                box=box,
                nosmooth=nosmooth,
                loop=loop,
                preset=preset,
                quiet=quiet,
                on_frame=progress,
            )
    finally:
        cv2.setNumThreads(cv_threads)


def check_options(
    *,
    engine: str,
    motion: str,
    preset: str,
    accelerate: str,
    checkpoint: str | Path | None,
    fps: float | None,
    pads: tuple[int, int, int, int],
    box: tuple[int, int, int, int] | None,
    resize_factor: int,
) -> None:
    """Check :func:`sync`'s options before any work starts (arguments as there).

    Raises:
        TalkfaceError: one line naming the option and what it must be.
    """
    for name, value, choices in (
        ("engine", engine, ENGINES),
        ("motion model", motion, MOTIONS),
        ("x264 preset", preset, PRESETS),
        ("accelerator", accelerate, ACCELERATORS),
    ):
        if value not in choices:
            raise TalkfaceError(f"unknown {name} {value!r} (choose from {', '.join(choices)})")
    if engine == "wav2lip" and checkpoint is None:
        raise TalkfaceError("the wav2lip engine needs --checkpoint (a wav2lip.pth / wav2lip_gan.pth file)")
    if fps is not None and not (isinstance(fps, int | float) and FPS_RANGE[0] <= fps <= FPS_RANGE[1]):
        raise TalkfaceError(
            f"fps must be a frame rate from {FPS_RANGE[0]:g} to {FPS_RANGE[1]:g}, got {fps!r}"
        )
    if isinstance(resize_factor, bool) or not isinstance(resize_factor, int) or resize_factor < 1:
        raise TalkfaceError(f"resize factor must be a whole number >= 1, got {resize_factor!r}")
    for name, value in (("pads", pads), ("box", (0, 0, 0, 0) if box is None else box)):
        if len(value) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise TalkfaceError(
                f"{name} must be 4 whole numbers of pixels (top bottom left right), got {value!r}"
            )
    if box is not None:
        top, bottom, left, right = box
        if min(box) < 0 or top >= bottom or left >= right:
            raise TalkfaceError(
                f"box must have 0 <= top < bottom and 0 <= left < right (pixels), got {box!r}"
            )


class _Track:
    """Per-source-frame tracking results, finalised once the window has passed.

    Finalised landmarks are bridged over short gaps and smoothed over time, except the lip
    contours of frames where the mesh succeeded: those keep their raw positions, since a renderer
    must know where the lips are in this very frame (smoothing lags behind fast lip motion).
    """

    def __init__(self, smooth: bool) -> None:
        self.smooth = smooth
        self.raw: list[np.ndarray | None] = []
        self.present: list[bool] = []
        self.final = LandmarkStore()  # frame j's landmarks once finalised, in order

    def append(self, found: FrameFace) -> None:
        self.raw.append(found.landmarks)
        self.present.append(found.present)

    def finalise(self, j: int) -> np.ndarray | None:
        """Landmarks of frame ``j`` using the frames up to ``j + LOOKAHEAD`` (or the track's end)."""
        lo, hi = max(0, j - LOOKAHEAD), min(len(self.raw), j + LOOKAHEAD + 1)
        window = bridge_gaps(self.raw[lo:hi], np.array(self.present[lo:hi]))
        lm = smooth_frame(window, j - lo) if self.smooth else window[j - lo]
        if lm is not None:
            lm = lm.copy()  # a view would pin the whole window array
            if self.raw[j] is not None:  # the warp needs where the lips are in this very frame
                lm[LIPS] = self.raw[j][LIPS]
        self.final.append(lm)  # frames are finalised in order
        if lo > 0:
            self.raw[lo - 1] = None  # no later window reaches back that far
        return lm


class _Prefetch:
    """Run ``items`` (decoding, tracking) on a background thread, ``size`` items ahead.

    The thread starts at once, so its start-up (mediapipe's graphs) overlaps the caller's own
    preparation. PyAV and mediapipe release the GIL, so the work overlaps with rendering on the
    caller's thread. Exceptions are re-raised in the caller; :meth:`close` stops and joins the thread.
    """

    _DONE = object()

    def __init__(self, items: Iterator, size: int) -> None:
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="talkface-decoder", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            for item in self._items:
                if self._stop.is_set():
                    return
                self._queue.put(item)
            self._queue.put(self._DONE)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            self._queue.put(exc)

    def __iter__(self) -> _Prefetch:
        return self

    def __next__(self):
        item = self._queue.get()
        if item is self._DONE:
            self._queue.put(item)  # later calls stop too
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                self._thread.join(0.01)


def _run(
    media: FaceMedia,
    speech: Speech,
    out: Path,
    terminal,
    start: float,
    *,
    build_engine: Callable[[], Engine],
    box: tuple[int, int, int, int] | None,
    nosmooth: bool,
    loop: bool,
    preset: str,
    quiet: bool,
    on_frame: Callable[[int, int], None] | None = None,
) -> SyncResult:
    n_out = max(1, int(round(speech.duration * media.fps)))
    progress = tqdm(  # only on a terminal: logs and captured stderr stay clean
        total=n_out,
        disable=quiet or not terminal.isatty(),
        delay=PROGRESS_DELAY,
        unit="frame",
        file=terminal,
        leave=False,
    )
    trackers: list[FaceTracker] = []  # closed at the end

    def tracked(frames: Iterator[I420Frame]) -> Iterator[tuple[I420Frame, FrameFace]]:
        # Built on the thread that uses it: mediapipe's start-up overlaps the speech analysis.
        trackers.append(FaceTracker(box=box, static=media.is_photo))
        for frame in frames:
            yield frame, trackers[0](frame)

    track = _Track(smooth=not nosmooth and not media.is_photo)
    store: FrameStore | None = None
    spill = not media.is_photo and (media.n_frames_hint == 0 or media.n_frames_hint < n_out)
    faces = 0
    # Frames stay in I420, as decoded and as encoded: only the regions read are converted to RGB.
    photo = next(media.i420_frames()) if media.is_photo else None  # kept pristine for every frame
    # Decode and track on a background thread (mediapipe releases the GIL), starting now.
    if media.is_photo:
        frames = tracked(iter([photo.copy()]))
    else:
        frame_bytes = media.width * media.height * 3 // 2
        ahead = int(np.clip(PREFETCH_BYTES // max(frame_bytes, 1), *PREFETCH_FRAMES))
        frames = _Prefetch(tracked(media.i420_frames()), size=ahead)
    try:
        engine = build_engine()
        engine.prepare(speech, n_out, media.fps)
        with VideoWriter(out, media.width, media.height, media.fps, speech, preset) as writer:

            def emit(i: int, frame: I420Frame, lm: np.ndarray | None) -> None:
                write(engine.submit(i, frame, lm))

            def write(done: list[Rendered]) -> None:
                nonlocal faces
                for frame, rendered in done:
                    check_signals()  # one swallowed by a native callback stops the job here
                    writer.write(frame)
                    faces += rendered
                    progress.update()
                    if on_frame is not None:
                        on_frame(writer.n_frames, n_out)

            # Forward run: output frame i is source frame i.
            window: deque[tuple[int, I420Frame]] = deque()
            for j, (frame, found) in enumerate(frames):
                track.append(found)
                if spill:
                    store = store or FrameStore()
                    store.append(frame)
                window.append((j, frame))
                while window and window[0][0] + LOOKAHEAD <= j:
                    k, ready = window.popleft()
                    emit(k, ready, track.finalise(k))
                if j + 1 >= n_out:
                    break
            while window:
                k, ready = window.popleft()
                emit(k, ready, track.finalise(k))
            if not track.final.faces:
                raise TalkfaceError("no face found in any frame", media.path)

            # Replay (photo, or a video shorter than the speech): ping-pong or loop the source.
            n_source = len(track.final)
            if n_source < n_out:
                # A video whose header overstated its length was not spilled: decode it again.
                if not media.is_photo and (store is None or store.count < n_source):
                    if store is not None:
                        store.close()
                    store = FrameStore()
                    for frame in media.i420_frames():
                        store.append(frame)
                schedule = frame_schedule(n_source, n_out, loop)
                for i in range(n_source, n_out):
                    k = int(schedule[i])
                    emit(i, photo.copy() if media.is_photo else store[k].copy(), track.final[k])
            write(engine.flush())
            check_signals()  # never publish the output of an interrupted job
            writer.close()
    finally:
        frames.close()  # stops and joins the decode/track thread before the tracker closes
        for tracker in trackers:
            tracker.close()
        track.final.close()
        if store is not None:
            store.close()
        progress.close()
    return SyncResult(out, n_out, faces, speech.duration, time.perf_counter() - start)
