"""Photo animation: the head of a photo moves and blinks while any lip-sync engine moves its mouth.

:class:`HeadAnimation` composes the head motion (:mod:`talkface.motion.head`: the PoseVAE or a
reference video's pose, learned or copied blinks) and the expression of ExpNet
(:mod:`talkface.motion.expression`: brows, cheeks, eyes) with the whole-head renderer
(:mod:`talkface.render.head`), applied to each frame the engine rendered from the photo, so the
mouth keeps its sync and moves with the head. Videos are not animated: they have their own head.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkface.errors import TalkfaceError
from talkface.media.audio import Speech
from talkface.media.frame import I420Frame


@dataclass(frozen=True)
class AnimationSettings:
    """What :class:`HeadAnimation` does (from :class:`~talkface.options.SyncOptions`).

    Attributes:
        still: no head motion (blinks go on unless ``no_blink``).
        pose_style: the training speaker whose manner the PoseVAE imitates (``None``: the model's
            default, its speaker of median motion).
        seed: seed of the pose and blink draws (same seed, same motion).
        ref_pose: copy the head motion of this video instead (relative to its first frame).
        ref_eyeblink: copy the blinks of this video instead.
        no_blink: no blinks.
        expression_scale: times the expression of ExpNet (0: none).
        input_angles: ``(pitch, yaw, roll)``, each ``None`` or the angles in degrees from the
            photo's pose that the axis moves through at a constant speed (SadTalker's
            ``--input_pitch/yaw/roll``): it replaces the axis's generated, copied or still motion.
        model: the head-motion model file (default: the shipped one).
        expression_model: the ExpNet file (default: the shipped one).
    """

    still: bool = False
    pose_style: int | None = None
    seed: int = 0
    ref_pose: Path | None = None
    ref_eyeblink: Path | None = None
    no_blink: bool = False
    expression_scale: float = 0.0
    input_angles: tuple[tuple[float, ...] | None, ...] = (None, None, None)
    model: Path | None = None
    expression_model: Path | None = None

    @property
    def moves(self) -> bool:
        """Whether anything is animated at all."""
        given = any(a is not None for a in self.input_angles)
        blinks = not self.no_blink or self.ref_eyeblink is not None
        return not self.still or blinks or self.expression_scale > 0 or given


class HeadAnimation:
    """Head pose, blinks and expression for the frames of one photo.

    Args:
        settings: :class:`AnimationSettings`.

    Raises:
        TalkfaceError: the head-motion or expression model is missing or invalid, or ``pose_style``
            is out of its range.
    """

    def __init__(self, settings: AnimationSettings) -> None:
        from talkface.motion.head import HeadMotionModel

        self.settings = settings
        self.model = HeadMotionModel(settings.model)
        n_styles = self.model.config.num_classes
        if settings.pose_style is not None and not 0 <= settings.pose_style < n_styles:
            raise TalkfaceError(f"pose_style must be from 0 to {n_styles - 1} (one per training speaker)")
        self.expression = None
        if settings.expression_scale > 0:
            from talkface.motion.expression import ExpressionModel

            self.expression = ExpressionModel(settings.expression_model)
        self.renderer = None
        self.motion = None
        self.coefficients = None

    def prepare(self, speech: Speech, n_frames: int, fps: float, photo: np.ndarray, mesh: np.ndarray) -> None:
        """Make the motion of every output frame and set up the renderer on the photo.

        Args:
            speech: the speech.
            n_frames: output frames.
            fps: their rate.
            photo: ``(H, W, 3)`` uint8 RGB.
            mesh: ``(478, 3)`` float32 pixel landmarks with depth of its face.

        Raises:
            TalkfaceError: a reference video without a face, or unreadable.
        """
        from talkface.motion.head import HeadMotion, camera_path, reference_blinks, reference_pose
        from talkface.render.head import HeadRenderer

        s = self.settings
        rng = np.random.default_rng(s.seed)
        self.renderer = HeadRenderer(photo, mesh, self.model.canonical)
        if s.ref_pose is not None:
            pose = reference_pose(s.ref_pose, n_frames, self.model.canonical)
        elif s.still:
            pose = np.zeros((n_frames, 6), np.float32)
        else:
            style = self.model.default_style if s.pose_style is None else s.pose_style
            pose = self.model.pose(speech.samples, n_frames, fps, self.renderer.pose.angles, style, rng)
        for axis, angles in enumerate(s.input_angles):
            if angles is not None:
                pose[:, axis] = camera_path(angles, n_frames)
        if s.ref_eyeblink is not None:
            blink = reference_blinks(s.ref_eyeblink, n_frames)
        elif s.no_blink:
            blink = np.zeros((n_frames, 2), np.float32)
        else:
            blink = self.model.blinks.track(n_frames, fps, np.random.default_rng([s.seed, 1]))
        self.motion = HeadMotion(pose, blink)
        if self.expression is not None:
            self.renderer.set_expression(self.expression.basis)
            coeffs = self.expression.coefficients(speech.samples, n_frames, fps, blink.mean(1))
            self.coefficients = coeffs * np.float32(s.expression_scale)

    def apply(self, index: int, frame: np.ndarray | I420Frame) -> None:
        """Move the head of output frame ``index`` (the photo as the engine rendered it) in place."""
        pose, blink = self.motion.pose[index], self.motion.blink[index]
        expression = None if self.coefficients is None else self.coefficients[index]
        if not pose.any() and not blink.any() and (expression is None or not expression.any()):
            return
        scale = self.renderer.pose.scale  # pixels per interocular distance
        self.renderer.render(frame, pose[:3], pose[3:5] * scale, float(np.exp(pose[5])), blink, expression)
