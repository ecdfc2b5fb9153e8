"""The ``warp`` engine: speech -> mouth motion (stage A) + mesh-warp renderer (stage B)."""

from __future__ import annotations

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


@dataclass(frozen=True)
class WarpOptions(EngineOptions):
    """Options of the ``warp`` engine."""

    engine: ClassVar[str] = "warp"

    motion: str = option(
        "learned",
        "speech -> mouth motion: learned = the shipped model trained on real talking clips (mel + "
        "pocketsphinx phones); heuristic = formant-band acoustics; visemes = espeak-ng's exact phoneme "
        "timing (--text only)",
        choices=MOTION_SOURCES,
        label="Mouth motion",
    )
    motion_model: Path | None = option(
        None,
        "weights for --motion learned (a motion.npz from `talkface train motion`; default: the shipped "
        "talkface/weights/motion.npz)",
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
        if self.motion_model is not None and self.motion != "learned":
            raise OptionError("motion_model", f"motion_model is for motion learned, not {self.motion}")


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
        self.renderer = WarpRenderer(pads=options.pads)
        self.rest_width: float | None = None
        self.source = motion_source(options.motion, options.motion_model)

    def prepare(self, speech: Speech, n_frames: int, fps: float) -> None:
        """Target aperture, width and rounding per output frame.

        Raises:
            TalkfaceError: the motion source cannot work on this speech (visemes of an audio file).
        """
        self.drive = self.source(speech, n_frames, fps)
        mean_ap, std_ap = TYPICAL_APERTURE
        self.aperture = np.clip(mean_ap + std_ap * self.drive.opening, 0.0, MAX_APERTURE)
        self.width_gain = 1 + WIDTH_GAIN * np.clip(self.drive.width, -2.5, 2.5)

    def submit(
        self, index: int, frame: I420Frame | np.ndarray, landmarks: np.ndarray | None
    ) -> list[Rendered]:
        if landmarks is None:
            return [(frame, False)]
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
            self.renderer.render_i420(frame, landmarks, *shape)
        else:
            self.renderer.render(frame, landmarks, *shape, inplace=True, want_mask=False)
        return [(frame, True)]

    def flush(self) -> list[Rendered]:
        return []


SPEC = EngineSpec(
    name="warp",
    options=WarpOptions,
    build=WarpEngine,
    summary="training-free mesh warp of the real lips and jaw (default)",
    weights="the shipped motion model talkface/weights/motion.npz (or --motion-model)",
)
