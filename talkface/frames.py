"""The frame-iterator core: decoded and tracked frames in, rendered frames out.

:func:`rendered_frames` is the per-frame loop of every job, whatever consumes it (the MP4 writer
of :func:`talkface.sync`, a live stream, a preview, a test). A background thread decodes and
tracks the face in each frame (up to :data:`PREFETCH_BYTES` of frames ahead), a window of
:data:`LOOKAHEAD` frames waits so that gaps can be bridged and landmarks smoothed with future
frames, then each frame goes to the engine, which hands back finished frames in order. Frames stay
in I420 (:class:`~talkface.media.frame.I420Frame`) from decoder to consumer; only the regions the
tracker and the renderer read are converted to RGB. Only those queues of frames are in memory: the
smoothed landmarks of every frame (3.8 KB each), which a replay needs, go to an anonymous
temporary file. A video shorter than the speech must be replayed (:func:`frame_schedule`): its
frames are then spilled to such a file too.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from talkface.engines import Engine, Rendered
from talkface.errors import TalkfaceError
from talkface.face.landmarks import LIPS
from talkface.face.smooth import MAX_BRIDGE, bridge_gaps, smooth_frame
from talkface.face.track import FaceTracker, FrameFace
from talkface.media.audio import Speech
from talkface.media.frame import I420Frame
from talkface.media.spill import FrameStore, LandmarkStore
from talkface.media.video import FaceMedia

if TYPE_CHECKING:
    from talkface.animation import HeadAnimation

ANIMATION_AHEAD = 4  # photo frames whose head is being moved while the engine renders the next
LOOKAHEAD = MAX_BRIDGE + 4  # frames held back for gap bridging and smoothing
# Decoded and tracked frames queued ahead of the renderer: while the speech is analysed at the
# start, the tracker runs ahead, and later it absorbs uneven per-frame costs (48 frames at 720p).
PREFETCH_BYTES = 96 << 20
PREFETCH_FRAMES = (6, 48)  # at least, at most


def output_frames(speech: Speech, fps: float) -> int:
    """Number of output frames: the speech's length at ``fps`` frames/s (at least 1)."""
    return max(1, int(round(speech.duration * fps)))


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


def _finished(entry: tuple[concurrent.futures.Future | None, Rendered]) -> Rendered:
    """A frame handed to the head animation's worker, once the worker is done with it (its error
    raised here)."""
    job, item = entry
    if job is not None:
        job.result()
    return item


def rendered_frames(
    media: FaceMedia,
    speech: Speech,
    build_engine: Callable[[], Engine],
    *,
    box: tuple[int, int, int, int] | None = None,
    nosmooth: bool = False,
    loop: bool = False,
    head: HeadAnimation | None = None,
) -> Iterator[Rendered]:
    """The output frames of ``media`` speaking ``speech``, in order, as the engine renders them.

    Args:
        media: the face video or photo.
        speech: the speech; there are :func:`output_frames` of it at ``media.fps``.
        build_engine: makes the engine; called once the decoder thread runs, so that its imports
            and weights load while mediapipe starts.
        box: fixed face box ``(top, bottom, left, right)`` in pixels (no detection).
        nosmooth: do not smooth landmarks over time.
        loop: cycle a video shorter than the speech instead of ping-ponging it.
        head: for a photo, the head motion and blinks laid over each rendered frame
            (:class:`~talkface.animation.HeadAnimation`); ignored for a video.

    Yields:
        ``(frame, rendered)``: an :class:`~talkface.media.frame.I420Frame` (or ``(H, W, 3)`` uint8
        RGB array) of ``media``'s size, and whether a face was rendered in it (else it passed
        through unchanged). Close the generator (``contextlib.closing``) to stop early: the
        decoder thread, the tracker and the spill files are released.

    Raises:
        TalkfaceError: no face in any frame (after the forward pass), or the engine's errors.
    """
    n_out = output_frames(speech, media.fps)
    trackers: list[FaceTracker] = []  # closed at the end

    first: list[FrameFace] = []  # the photo's tracking, depth included, for the head animation

    def tracked(frames: Iterator[I420Frame]) -> Iterator[tuple[I420Frame, FrameFace]]:
        # Built on the thread that uses it: mediapipe's start-up overlaps the speech analysis.
        trackers.append(FaceTracker(box=box, static=media.is_photo))
        for frame in frames:
            found = trackers[0](frame)
            if not first:
                first.append(found)
            yield frame, found

    track = _Track(smooth=not nosmooth and not media.is_photo)
    store: FrameStore | None = None
    spill = not media.is_photo and (media.n_frames_hint == 0 or media.n_frames_hint < n_out)
    photo = next(media.i420_frames()) if media.is_photo else None  # kept pristine for every frame
    # Decode and track on a background thread (mediapipe releases the GIL), starting now; a photo
    # is tracked at once, here, so that its head animation can be prepared beside the engine.
    if media.is_photo:
        frames = (item for item in list(tracked(iter([photo.copy()]))))
    else:
        frame_bytes = media.width * media.height * 3 // 2
        ahead = int(np.clip(PREFETCH_BYTES // max(frame_bytes, 1), *PREFETCH_FRAMES))
        frames = _Prefetch(tracked(media.i420_frames()), size=ahead)
    done = [0]  # output frames handed out so far: the engine hands them back in order
    # The head is moved on a worker thread while the engine renders the next frames (OpenCV and
    # numpy release the GIL): frames come out in order, at most ANIMATION_AHEAD in flight.
    pending: deque[tuple[concurrent.futures.Future | None, Rendered]] = deque()
    animates = head is not None and media.is_photo and first[0].landmarks is not None
    worker = preparing = None
    if animates:
        # The worker first prepares the motion and the renderer (the PoseVAE, the segmentation, the
        # plate) while this thread prepares the engine, then moves the head of each frame in turn.
        worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="talkface-head")
        face = first[0]
        mesh = np.concatenate([face.landmarks, face.depth[:, None]], axis=1)
        preparing = worker.submit(head.prepare, speech, n_out, media.fps, photo.rgb()[0], mesh)

    def move(index: int, frame: I420Frame) -> None:
        preparing.result()  # done before (one worker, jobs in order); its error is raised here
        head.apply(index, frame)

    def animated(frames: list[Rendered], last: bool = False) -> Iterator[Rendered]:
        if not animates:
            yield from frames
            return
        for item in frames:
            job = None
            if item[1]:
                job = worker.submit(move, done[0], item[0])
            done[0] += 1
            pending.append((job, item))
            while len(pending) > ANIMATION_AHEAD:
                yield _finished(pending.popleft())
        while last and pending:
            yield _finished(pending.popleft())

    try:
        engine = build_engine()
        engine.prepare(speech, n_out, media.fps)
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
                yield from animated(engine.submit(k, ready, track.finalise(k)))
            if j + 1 >= n_out:
                break
        while window:
            k, ready = window.popleft()
            yield from animated(engine.submit(k, ready, track.finalise(k)))
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
                yield from animated(
                    engine.submit(i, photo.copy() if media.is_photo else store[k].copy(), track.final[k])
                )
        yield from animated(engine.flush(), last=True)
    finally:
        if worker is not None:
            worker.shutdown(cancel_futures=True)
        frames.close()  # stops and joins the decode/track thread before the tracker closes
        for tracker in trackers:
            tracker.close()
        track.final.close()
        if store is not None:
            store.close()
