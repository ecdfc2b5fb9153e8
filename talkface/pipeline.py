"""The main job: face media + speech -> lip-synced MP4, streamed frame by frame.

:func:`sync` opens the input and the speech, checks the options (:class:`~talkface.options.SyncOptions`
and the engine's options class from :mod:`talkface.engines.registry`), then pulls the frames of
:func:`talkface.frames.rendered_frames` into the MP4 writer and closes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import cv2
from tqdm import tqdm

from talkface.animation import AnimationSettings, HeadAnimation
from talkface.engines.registry import DEFAULT_ENGINE, build_engine, engine_options
from talkface.errors import TalkfaceError, check_signals
from talkface.face.quiet import native_stderr_silenced
from talkface.frames import frame_schedule, output_frames, rendered_frames
from talkface.media import VIDEO_PRESET
from talkface.media.audio import SAMPLE_RATE, Speech, load_audio, resample
from talkface.media.files import check_not_an_input
from talkface.media.video import FaceMedia
from talkface.media.writer import VideoWriter
from talkface.options import EngineOptions, SyncOptions
from talkface.speech import choose_voice

__all__ = ["SyncResult", "frame_schedule", "load_speech", "sync"]

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


def load_speech(
    audio: str | Path | None = None, text: str | None = None, lang: str = "en", voice: str = "auto"
) -> Speech:
    """Speech from an audio/video file or from text spoken by the Piper voice or espeak-ng.

    Args:
        audio: speech file.
        text: words to speak instead.
        lang: language of ``text``.
        voice: one of :data:`~talkface.speech.VOICES` (``auto``: Piper for English, else espeak-ng).

    Returns:
        :class:`~talkface.media.audio.Speech`; from text, with the exact phoneme timing
        (``[(start_s, end_s, espeak-ng mnemonic), ...]``) and the voice's own waveform to mux.

    Raises:
        TalkfaceError: neither or both given, unreadable audio, empty text, unknown language, the
            Piper voice asked for another language than English, or its model file not the pinned one.
    """
    if (audio is None) == (text is None):
        raise TalkfaceError("give exactly one of an audio file or a text")
    if audio is not None:
        return Speech(samples=load_audio(audio), source=Path(audio))
    chosen = choose_voice(voice, lang)
    if chosen == "piper":
        from talkface.speech.piper import espeak_sounds, shared_piper

        pcm, rate, sounds = shared_piper().synthesize(text)
        phonemes = espeak_sounds(sounds)
    else:
        from talkface.speech.tts import synthesize

        pcm, rate, phonemes = synthesize(text, lang)
    samples = resample(pcm, rate, SAMPLE_RATE)
    return Speech(samples=samples, pcm=pcm, pcm_rate=rate, phonemes=phonemes, voice=chosen)


PHOTO_CV_THREADS = 2  # OpenCV threads while a photo's head is animated (the cores of our machines)


def reframe_photo(media: FaceMedia, preprocess: str) -> None:
    """Apply ``--preprocess`` (:func:`talkface.face.preprocess.photo_view`) to a photo input.

    Raises:
        TalkfaceError: ``crop`` or ``resize`` asked of a video, or ``crop`` of a photo without a face.
    """
    if preprocess == "full":
        return
    if not media.is_photo:
        raise TalkfaceError(f"preprocess {preprocess} frames a photo; the face is a video", media.path)
    from talkface.face.preprocess import photo_view

    try:
        view = photo_view(next(media.frames()), preprocess)
    except TalkfaceError as exc:
        raise TalkfaceError(exc.problem, media.path) from None
    media.reframe(*view)


def photo_animation(options: SyncOptions, media: FaceMedia) -> HeadAnimation | None:
    """The head animation of a photo input (``None`` for a video, or when nothing moves).

    Raises:
        TalkfaceError: a reference video for a video input, a missing reference file, the
            head-motion model missing or invalid, or a pose style it does not have.
    """
    refs = {"ref_pose": options.ref_pose, "ref_eyeblink": options.ref_eyeblink}
    if not media.is_photo:
        for name, path in refs.items():
            if path is not None:
                raise TalkfaceError(f"{name} animates a photo; the face is a video, which keeps its own head")
        return None
    for path in refs.values():
        if path is not None and not Path(path).is_file():
            raise TalkfaceError("no such file", path)
    settings = AnimationSettings(
        still=options.still,
        pose_style=options.pose_style,
        seed=options.seed,
        ref_pose=options.ref_pose,
        ref_eyeblink=options.ref_eyeblink,
        no_blink=options.no_blink,
        expression_scale=options.expression_scale,
        input_angles=(options.input_pitch, options.input_yaw, options.input_roll),
    )
    return HeadAnimation(settings) if settings.moves else None


def sync(
    face: str | Path,
    out: str | Path,
    audio: str | Path | None = None,
    text: str | None = None,
    lang: str = "en",
    *,
    engine: str | EngineOptions = DEFAULT_ENGINE,
    fps: float | None = None,
    box: tuple[int, int, int, int] | None = None,
    nosmooth: bool = False,
    resize_factor: int = 1,
    loop: bool = False,
    still: bool = False,
    pose_style: int | None = None,
    seed: int = 0,
    no_blink: bool = False,
    expression_scale: float = 0.0,
    input_yaw: Sequence[float] | None = None,
    input_pitch: Sequence[float] | None = None,
    input_roll: Sequence[float] | None = None,
    preprocess: str = "full",
    ref_pose: str | Path | None = None,
    ref_eyeblink: str | Path | None = None,
    voice: str = "auto",
    preset: str = VIDEO_PRESET,
    quiet: bool = False,
    progress: Callable[[int, int], None] | None = None,
    **engine_keywords: Any,
) -> SyncResult:
    """Make ``face`` speak ``audio`` (or ``text``) and write a lip-synced H.264/AAC MP4 to ``out``.

    Args:
        face: video or photo of a face.
        out: output ``.mp4`` path (written to a temporary name, renamed when complete).
        audio: speech file (any format PyAV reads, or a video's audio track).
        text: text to speak instead of ``audio``.
        lang: language of ``text`` (``en``, ``zh``, any espeak-ng voice).
        still: photo: keep the head still (blinks go on).
        pose_style: photo: the training speaker whose head motion the PoseVAE imitates
            (``talkface/weights/head_motion.md``; ``None``: the speaker of median motion).
        seed: photo: seed of the head motion and blinks.
        no_blink: photo: no blinks.
        expression_scale: photo: times the expression ExpNet adds to brows, cheeks and eyes
            (0, the default: none).
        input_yaw: photo: yaw angles in degrees from the photo's pose that the head turns through
            at a constant speed over the video (SadTalker's ``--input_yaw``; positive: the face
            turns to the image's right); replaces the generated yaw.
        input_pitch: photo: the same for pitch (positive: the chin goes down).
        input_roll: photo: the same for roll (positive: the head tilts clockwise).
        preprocess: photo: ``full`` (the whole image), ``crop`` (a square around the face, 512 pixels) or
            ``resize`` (the whole image, 512 pixels on its longer side), as SadTalker's.
        ref_pose: photo: copy the head motion of this video instead.
        ref_eyeblink: photo: copy the blinks of this video instead.
        voice: who speaks ``text``: ``auto`` (the Piper neural voice for English, espeak-ng for
            other languages), ``piper`` or ``espeak``.
        engine: an engine's options object (``WarpOptions(motion="heuristic")``,
            ``Wav2LipOptions(checkpoint="wav2lip_gan.pth")``), or the name of a registered engine
            (``"warp"``, default, or ``"wav2lip"``) whose options are then given as keywords.
        fps: frame rate for a photo (default 25); videos keep their own.
        box: fixed face box ``(top, bottom, left, right)`` in pixels; skips detection.
        nosmooth: do not smooth landmarks over time.
        resize_factor: divide the input resolution by this integer first.
        loop: cycle a video shorter than the speech instead of ping-ponging it.
        preset: x264 preset; slower presets give smaller files at the same quality (CRF 18).
        quiet: no progress bar.
        progress: called as ``progress(frames_done, frames_total)`` after each output frame is
            encoded (from the calling thread; keep it cheap), e.g. to drive a web progress bar.
        **engine_keywords: the options of engine ``engine`` when it is given by name, e.g.
            ``motion="heuristic"``, ``motion_model=...``, ``pads=(0, 20, 0, 0)`` (warp) or
            ``checkpoint=...``, ``accelerate="onnx"``, ``pads=...`` (wav2lip); see the engine's
            options class for all of them. ``None`` means the option's default.

    Returns:
        :class:`SyncResult`.

    Raises:
        TalkfaceError: bad input (missing, a folder, empty or not media, no audio stream, no face
            in any frame, empty text, unknown language, unwritable output, an output that would
            overwrite an input), or an option that is unknown, out of range or missing
            (:class:`~talkface.options.OptionError`, before any work starts).
    """
    start = time.perf_counter()
    options = SyncOptions(
        fps=fps,
        box=box,
        nosmooth=nosmooth,
        resize_factor=resize_factor,
        loop=loop,
        still=still,
        pose_style=pose_style,
        seed=seed,
        no_blink=no_blink,
        expression_scale=expression_scale,
        input_yaw=input_yaw,
        input_pitch=input_pitch,
        input_roll=input_roll,
        preprocess=preprocess,
        ref_pose=ref_pose,
        ref_eyeblink=ref_eyeblink,
        voice=voice,
        preset=preset,
    )
    chosen = engine_options(engine, **{k: v for k, v in engine_keywords.items() if v is not None})
    check_not_an_input(
        out,
        {"face": face, "audio": audio, "ref_pose": options.ref_pose, "ref_eyeblink": options.ref_eyeblink},
    )
    media = FaceMedia(face, fps=options.fps, resize_factor=options.resize_factor)
    reframe_photo(media, options.preprocess)
    head = photo_animation(options, media)
    speech = load_speech(audio, text, lang, options.voice)
    cv_threads = cv2.getNumThreads()
    # A video's decoder, tracker, renderer and encoder threads already fill the cores; a photo is
    # decoded and tracked once, and its head animation's warps (OpenCV) take the idle core.
    cv2.setNumThreads(PHOTO_CV_THREADS if media.is_photo and head is not None else 1)
    try:
        with native_stderr_silenced() as terminal:
            frames = rendered_frames(
                media,
                speech,
                partial(build_engine, chosen),
                box=options.box,
                nosmooth=options.nosmooth,
                loop=options.loop,
                head=head,
            )
            n_out = output_frames(speech, media.fps)
            show = not quiet and terminal.isatty()  # only on a terminal: logs and stderr stay clean
            bar = tqdm(
                total=n_out, disable=not show, delay=PROGRESS_DELAY, unit="frame", file=terminal, leave=False
            )
            faces = 0
            with (
                closing(frames),
                closing(bar),
                VideoWriter(
                    Path(out), media.width, media.height, media.fps, speech, options.preset
                ) as writer,
            ):
                for frame, rendered in frames:
                    check_signals()  # one swallowed by a native callback stops the job here
                    writer.write(frame)
                    faces += rendered
                    bar.update()
                    if progress is not None:
                        progress(writer.n_frames, n_out)
                check_signals()  # never publish the output of an interrupted job
                writer.close()
    finally:
        cv2.setNumThreads(cv_threads)
    return SyncResult(Path(out), n_out, faces, speech.duration, time.perf_counter() - start)
