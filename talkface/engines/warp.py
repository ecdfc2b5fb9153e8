"""The ``warp`` engine: training-free mouth motion (stage A) + mesh-warp renderer (stage B)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from talkface.engines import Rendered
from talkface.face.landmarks import mouth_width
from talkface.media.audio import Speech
from talkface.media.frame import I420Frame
from talkface.motion.heuristic import heuristic_motion
from talkface.motion.learned import DEFAULT_WEIGHTS, LearnedMotion
from talkface.motion.visemes import viseme_motion
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


class WarpEngine:
    """Audio (or exact phoneme timing) -> mouth shape -> warp of the real lips, chin and jaw.

    Args:
        pads: ``(top, bottom, left, right)`` pixels added around the warped lower face.
        motion: ``"learned"`` (:class:`~talkface.motion.learned.LearnedMotion`) or ``"heuristic"``
            (formant acoustics for audio, espeak-ng visemes for text).
        motion_model: weights for ``"learned"`` (default: the shipped ``weights/motion.npz``).

    Raises:
        TalkfaceError: the motion model file is missing or invalid.
    """

    def __init__(
        self,
        pads: tuple[int, int, int, int] = (0, 0, 0, 0),
        motion: str = "learned",
        motion_model: str | Path | None = None,
    ) -> None:
        self.renderer = WarpRenderer(pads=pads)
        self.rest_width: float | None = None
        self.motion_model = (
            LearnedMotion.load(motion_model or DEFAULT_WEIGHTS) if motion == "learned" else None
        )

    def prepare(self, speech: Speech, n_frames: int, fps: float) -> None:
        """Target aperture, width and rounding per output frame."""
        if self.motion_model is not None:
            self.drive = self.motion_model.motion(speech.samples, n_frames, fps)
        elif speech.phonemes:
            self.drive = viseme_motion(speech.phonemes, n_frames, fps)
        else:
            self.drive = heuristic_motion(speech.samples, n_frames, fps)
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
