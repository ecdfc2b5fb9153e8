"""The ``warp`` engine: speech -> mouth motion (stage A) + mesh-warp renderer (stage B)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from talkface.engines import EngineSpec, Rendered
from talkface.face.landmarks import mouth_width
from talkface.media.audio import Speech
from talkface.media.frame import I420Frame
from talkface.motion import MOTION_SOURCES, motion_source
from talkface.options import PAD_RANGE, EngineOptions, OptionError, option
from talkface.render.mouth_bank import MAX_DISTANCE, MouthBank
from talkface.render.mouth_learned import MOUTH_RENDERER, OPENING_REFERENCE, LearnedMouth
from talkface.render.warp import WarpRenderer

# Target inner-lip aperture / IOD = mean + std x opening drive (z units over the speech frames).
# Real clips of shared/data speak at per-clip means 0.07-0.135 and stds 0.04-0.076, but the warp's
# output, measured the same way, moved 1.45x as much as the real mouth with (0.10, 0.065). Chosen by
# self-reenactment on the first 20 clips (benchmarks/lipsync_accuracy.py --clips 20), photo mode:
# (0.10, 0.065) r 0.481, std ratio 1.40; (0.10, 0.048) 0.445, 1.15; (0.085, 0.052) 0.467, 1.18;
# (0.07, 0.05) 0.474, 1.13 (a lower mean lets the mouth close on more speech frames).
TYPICAL_APERTURE = (0.07, 0.05)
MAX_APERTURE = 0.32
WIDTH_GAIN = 0.05  # relative mouth-width change per unit of width drive
REST_WIDTH_RATE = 0.02  # per frame: running estimate of the face's own mouth width
# Where the lips part: a real mouth of the input video's bank where it has the shape, else the
# learned renderer's (auto); always the nearest bank entry (bank); always the learned renderer
# (learned); or the synthesized interior (painted, the engine's behaviour before the bank).
MOUTHS = ("auto", "bank", "learned", "painted")
# The bank sees this far ahead of the frame being rendered (frames are held back): at most
# BANK_AHEAD_SECONDS of video and BANK_AHEAD_BYTES of decoded frames (31 frames at 1080p).
BANK_AHEAD_SECONDS = 2.0
BANK_AHEAD_BYTES = 96 << 20


@dataclass(frozen=True)
class WarpOptions(EngineOptions):
    """Options of the ``warp`` engine."""

    engine: ClassVar[str] = "warp"

    motion: str = option(
        "learned",
        "speech -> mouth motion: learned = the shipped model trained on real talking clips (Whisper "
        "encoder features; with --text, the exact pauses); heuristic = formant-band acoustics; "
        "visemes = espeak-ng's exact phoneme timing (--text only)",
        choices=MOTION_SOURCES,
        label="Mouth motion",
    )
    motion_model: Path | None = option(
        None,
        "weights for --motion learned (a motion.npz from `talkface train motion`; default: the shipped "
        "talkface/weights/motion.npz)",
        web=False,
    )
    mouth: str = option(
        "auto",
        "what fills the mouth where the lips part: auto = real mouths of the input video (a bank indexed "
        "by lip shape) where it has the shape, else the learned mouth renderer; bank = always the nearest "
        "real mouth; learned = always the learned renderer; painted = the synthesized teeth and cavity",
        choices=MOUTHS,
        label="Mouth interior",
    )
    mouth_model: Path | None = option(
        None,
        "weights of the learned mouth renderer (a mouth_renderer.pt from `talkface train mouth`; default: "
        "the shipped talkface/weights/mouth_renderer.pt)",
        web=False,
    )
    mouth_interior_model: Path | None = option(
        None,
        "weights of an interior renderer (from `talkface train mouth --fill interior`) that opens, with "
        "--mouth auto, a mouth never seen open (a closed-mouth photo); none is shipped, and without one "
        "such openings are painted",
        web=False,
    )
    pads: tuple[int, int, int, int] = option(
        (0, 0, 0, 0),
        "pixels by which the fixed outer ring of the warped lower face is pushed out (as Wav2Lip's "
        "--pads; e.g. 0 20 0 0 gives the chin more room)",
        label="Pads: top,bottom,left,right (pixels)",
        range=PAD_RANGE,
    )

    def check(self) -> None:
        if self.mouth_model is not None and self.mouth not in ("auto", "learned"):
            raise OptionError("mouth_model", f"mouth_model is for mouth auto or learned, not {self.mouth}")
        if self.mouth_interior_model is not None and self.mouth != "auto":
            problem = f"mouth_interior_model is for mouth auto, not {self.mouth}"
            raise OptionError("mouth_interior_model", problem)
        if self.motion_model is not None and self.motion != "learned":
            raise OptionError("motion_model", f"motion_model is for motion learned, not {self.motion}")


class StillLandmarks:
    """A landmark tracker for single images (``(H, W, 3)`` uint8 RGB -> ``(478, 2)`` float32 pixel
    landmarks, or ``None``), started on first use: the warp renderer calibrates painted mouths
    with it (:class:`~talkface.render.warp.PaintedCalibration`), once per video at most."""

    def __init__(self) -> None:
        self.tracker = None

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        if self.tracker is None:
            from talkface.face.track import FaceTracker

            self.tracker = FaceTracker(static=True)
        return self.tracker(rgb).landmarks


class WarpEngine:
    """Speech -> mouth shape (a :class:`~talkface.motion.MotionSource`) -> warp of the real lips,
    chin and jaw.

    Args:
        options: :class:`WarpOptions`.

    Raises:
        TalkfaceError: the motion model file is missing or invalid.
    """

    def __init__(self, options: WarpOptions | None = None) -> None:
        options = options or WarpOptions()
        self.bank = MouthBank() if options.mouth in ("auto", "bank") else None
        self.learned = None
        if options.mouth == "learned" or (
            options.mouth == "auto" and (options.mouth_model or MOUTH_RENDERER.is_file())
        ):
            # Loaded now, not on first use: a bad file fails before any work, and the peak memory
            # (torch and the network: +216 MiB) does not jump in the middle of a long video.
            auto = options.mouth == "auto"
            self.learned = LearnedMouth(
                options.mouth_model,
                eager=True,
                opening_reference=OPENING_REFERENCE if auto else 0.0,
                interior=options.mouth_interior_model if auto else None,
            )
        distance = MAX_DISTANCE if options.mouth == "auto" else float("inf")
        self.renderer = WarpRenderer(
            pads=options.pads,
            bank=self.bank,
            bank_distance=distance,
            learned=self.learned,
            read_landmarks=StillLandmarks(),
        )
        self.rest_width: float | None = None
        self.source = motion_source(options.motion, options.motion_model)
        # Frames waiting for the bank to see ahead: (index, frame, landmarks).
        self.pending: deque[tuple[int, I420Frame | np.ndarray, np.ndarray | None]] = deque()
        self.ahead = 0

    def prepare(self, speech: Speech, n_frames: int, fps: float) -> None:
        """Target aperture, width and rounding per output frame.

        Raises:
            TalkfaceError: the motion source cannot work on this speech (visemes of an audio file).
        """
        self.drive = self.source(speech, n_frames, fps)
        mean_ap, std_ap = TYPICAL_APERTURE
        self.aperture = np.clip(mean_ap + std_ap * self.drive.opening, 0.0, MAX_APERTURE)
        self.width_gain = 1 + WIDTH_GAIN * np.clip(self.drive.width, -2.5, 2.5)
        self.ahead = int(BANK_AHEAD_SECONDS * fps) if self.bank or self.learned else 0

    def submit(
        self, index: int, frame: I420Frame | np.ndarray, landmarks: np.ndarray | None
    ) -> list[Rendered]:
        if self.bank is None and self.learned is None:
            return [self._render(index, frame, landmarks)]
        if landmarks is not None:
            self._capture(index, frame, landmarks)
        self.pending.append((index, frame, landmarks))
        height, width = frame.shape[:2]
        limit = min(self.ahead, BANK_AHEAD_BYTES // max(height * width * 3 // 2, 1))
        done = []
        while len(self.pending) > limit:
            done.append(self._render(*self.pending.popleft()))
        return done

    def _capture(self, index: int, frame: I420Frame | np.ndarray, landmarks: np.ndarray) -> None:
        """Give the bank (and the learned renderer's reference) this frame's mouth, before the frame
        is rendered over."""
        capture = self.bank is not None and self.bank.capturable(landmarks)
        if not capture and self.learned is None:
            return
        box = MouthBank.region_box(landmarks)
        if isinstance(frame, I420Frame):
            rgb, (x0, y0, _, _) = frame.rgb(box)
        else:
            h, w = frame.shape[:2]
            x0, y0 = max(box[0], 0), max(box[1], 0)
            rgb = frame[y0 : min(box[3], h), x0 : min(box[2], w)]
        if rgb.size == 0:
            return
        lm = landmarks - np.array([x0, y0], np.float32)
        if capture:
            self.bank.capture(rgb, lm, index)
        if self.learned is not None:
            self.learned.observe(rgb, lm)

    def _render(self, index: int, frame: I420Frame | np.ndarray, landmarks: np.ndarray | None) -> Rendered:
        """Render output frame ``index`` (in place) and hand it back."""
        if landmarks is None:
            return (frame, False)
        width = float(mouth_width(landmarks))
        if self.rest_width is None:
            self.rest_width = width
        self.rest_width += REST_WIDTH_RATE * (width - self.rest_width)
        shape = (
            float(self.aperture[index]),
            self.rest_width * float(self.width_gain[index]),
            float(self.drive.rounding[index]),
        )
        if isinstance(frame, I420Frame):
            self.renderer.render_i420(frame, landmarks, *shape, index=index)
        else:
            self.renderer.render(frame, landmarks, *shape, inplace=True, want_mask=False, index=index)
        return (frame, True)

    def flush(self) -> list[Rendered]:
        done = [self._render(*item) for item in self.pending]
        self.pending.clear()
        return done


SPEC = EngineSpec(
    name="warp",
    options=WarpOptions,
    build=WarpEngine,
    summary="training-free mesh warp of the real lips and jaw (default)",
    weights="the shipped motion model talkface/weights/motion.npz (or --motion-model)",
)
