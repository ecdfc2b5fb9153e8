"""The main job: face media + speech -> lip-synced MP4, streamed frame by frame.

Pass 1 decodes the face video once and tracks the face (landmarks are kept, frames are not, unless
the video is shorter than the speech and must be replayed: then frames go to a temporary file on
disk). Pass 2 decodes again (or reads the file), renders each frame's mouth and encodes it. Peak
memory is therefore flat in the video's length.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from talkface.errors import TalkfaceError
from talkface.face.landmarks import mouth_aperture, mouth_width
from talkface.face.quiet import native_stderr_silenced
from talkface.face.smooth import bridge_gaps, smooth_track
from talkface.face.track import FaceTracker
from talkface.media.audio import SAMPLE_RATE, Speech, load_audio, resample
from talkface.media.video import FaceMedia, VideoWriter, audio_format
from talkface.motion.heuristic import heuristic_motion
from talkface.render.warp import WarpRenderer

ENGINES = ("warp",)
MOTIONS = ("heuristic",)
PHOTO_APERTURE = (0.10, 0.065)  # mean, std of inner-lip aperture / IOD while speaking (real clips)
MIN_APERTURE_STD = 0.045
MAX_APERTURE = 0.32
WIDTH_GAIN = 0.05  # relative mouth-width change per unit of width drive
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


class _FrameStore:
    """Raw RGB frames spilled to a temporary file, for replaying a video shorter than the speech."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        self.shape = shape
        self.nbytes = int(np.prod(shape))
        fd, name = tempfile.mkstemp(prefix="talkface-frames-")
        os.unlink(name)  # anonymous: vanishes when closed
        self.fd = fd
        self.count = 0

    def append(self, frame: np.ndarray) -> None:
        os.pwrite(self.fd, np.ascontiguousarray(frame).tobytes(), self.count * self.nbytes)
        self.count += 1

    def __getitem__(self, i: int) -> np.ndarray:
        data = os.pread(self.fd, self.nbytes, i * self.nbytes)
        return np.frombuffer(data, np.uint8).reshape(self.shape)

    def close(self) -> None:
        os.close(self.fd)


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
    motion: str = "heuristic",
    fps: float | None = None,
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    box: tuple[int, int, int, int] | None = None,
    nosmooth: bool = False,
    resize_factor: int = 1,
    loop: bool = False,
    quiet: bool = False,
) -> SyncResult:
    """Make ``face`` speak ``audio`` (or ``text``) and write a lip-synced H.264/AAC MP4 to ``out``.

    Args:
        face: video or photo of a face.
        out: output ``.mp4`` path (written to a temporary name, renamed when complete).
        audio: speech file (any format PyAV reads, or a video's audio track).
        text: text to speak with espeak-ng instead of ``audio``.
        lang: language of ``text`` (``en``, ``zh``, any espeak-ng voice).
        engine: renderer; ``"warp"`` (training-free mesh warp).
        motion: audio -> mouth model; ``"heuristic"`` (formant-band acoustics).
        fps: frame rate for a photo (default 25); videos keep their own.
        pads: ``(top, bottom, left, right)`` pixels added around the warped lower face.
        box: fixed face box ``(top, bottom, left, right)`` in pixels; skips detection.
        nosmooth: do not smooth landmarks over time.
        resize_factor: divide the input resolution by this integer first.
        loop: cycle a video shorter than the speech instead of ping-ponging it.
        quiet: no progress bar.

    Returns:
        :class:`SyncResult`.

    Raises:
        TalkfaceError: bad input (missing/unreadable/empty media, no audio stream, no face in
            any frame, empty text, unknown language, unwritable output) or unknown option.
    """
    start = time.perf_counter()
    if engine not in ENGINES:
        raise TalkfaceError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    if motion not in MOTIONS:
        raise TalkfaceError(f"unknown motion model {motion!r} (choose from {', '.join(MOTIONS)})")
    media = FaceMedia(face, fps=fps, resize_factor=resize_factor)
    speech = load_speech(audio, text, lang)
    with native_stderr_silenced() as terminal:
        return _run(
            media,
            speech,
            Path(out),
            terminal,
            start,
            engine=engine,
            pads=pads,
            box=box,
            nosmooth=nosmooth,
            loop=loop,
            quiet=quiet,
        )


def _run(
    media: FaceMedia,
    speech: Speech,
    out: Path,
    terminal,
    start: float,
    *,
    engine: str,
    pads: tuple[int, int, int, int],
    box: tuple[int, int, int, int] | None,
    nosmooth: bool,
    loop: bool,
    quiet: bool,
) -> SyncResult:
    n_out = max(1, int(round(speech.duration * media.fps)))
    progress = tqdm(
        total=n_out + (1 if media.is_photo else min(media.n_frames_hint or n_out, n_out)),
        disable=quiet,
        delay=PROGRESS_DELAY,
        unit="frame",
        file=terminal,
        leave=False,
    )

    # Pass 1: track (keep landmarks, spill frames to disk only if they must be replayed).
    tracker = FaceTracker(box=box, static=media.is_photo)
    landmarks: list[np.ndarray | None] = []
    present: list[bool] = []
    store: _FrameStore | None = None
    photo: np.ndarray | None = None
    spill = not media.is_photo and (media.n_frames_hint == 0 or media.n_frames_hint < n_out + 2)
    try:
        for rgb in media.frames():
            found = tracker(rgb)
            landmarks.append(found.landmarks)
            present.append(found.present)
            if media.is_photo:
                photo = rgb
            elif spill:
                store = store or _FrameStore(rgb.shape)
                store.append(rgb)
            progress.update()
            if len(landmarks) >= n_out:
                break
    finally:
        tracker.close()
    if not any(lm is not None for lm in landmarks):
        if store:
            store.close()
        raise TalkfaceError("no face found in any frame", media.path)
    landmarks = bridge_gaps(landmarks, np.array(present))
    if not nosmooth and not media.is_photo:
        landmarks = smooth_track(landmarks)
    n_source = len(landmarks)
    if not media.is_photo and n_source < n_out and store is None:  # header lied about the length
        store = _FrameStore((media.height, media.width, 3))
        for rgb in media.frames():
            store.append(rgb)

    # Stage A: audio -> target mouth shape per output frame, scaled to this face.
    drive = heuristic_motion(speech.samples, n_out, media.fps)
    valid = [lm for lm in landmarks if lm is not None]
    apertures = mouth_aperture(np.stack(valid))
    widths = mouth_width(np.stack(valid))
    if media.is_photo or len(valid) < 25:
        mean_ap, std_ap = PHOTO_APERTURE
    else:
        mean_ap, std_ap = max(float(apertures.mean()), 0.06), max(float(apertures.std()), MIN_APERTURE_STD)
    target_ap = np.clip(mean_ap + std_ap * drive.opening, 0.0, MAX_APERTURE)
    target_w = float(np.median(widths)) * (1 + WIDTH_GAIN * np.clip(drive.width, -2.5, 2.5))

    # Pass 2: render + encode.
    renderer = WarpRenderer(pads=pads)
    schedule = frame_schedule(n_source, n_out, loop)
    faces = 0
    rate, channels = audio_format(speech.source) if speech.source else (speech.pcm_rate, 1)
    with VideoWriter(out, media.width, media.height, media.fps, rate, channels) as writer:
        try:
            source = iter(media.frames()) if store is None and not media.is_photo else None
            for i, src_index in enumerate(schedule):
                if media.is_photo:
                    rgb = photo
                elif store is not None:
                    rgb = store[int(src_index)]
                else:
                    rgb = next(source)
                lm = landmarks[int(src_index)]
                if lm is not None:
                    rgb, _ = renderer.render(rgb, lm, float(target_ap[i]), float(target_w[i]))
                    faces += 1
                writer.write(rgb)
                progress.update()
        finally:
            if store is not None:
                store.close()
            progress.close()
        writer.close(speech.source, speech.pcm, speech.pcm_rate, speech.duration)
    return SyncResult(out, n_out, faces, speech.duration, time.perf_counter() - start)
