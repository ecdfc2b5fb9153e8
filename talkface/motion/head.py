"""Head motion of a photo from speech: head pose (SadTalker's PoseVAE) and blinks, or copied from a
reference video (``--ref-pose``, ``--ref-eyeblink``).

The pose is six numbers per frame (:data:`POSE_NAMES`): pitch, yaw, roll in degrees, the head's
shift x, y in interocular distances, and the log of its size ratio, all as *residuals* from the
photo's own pose. The PoseVAE (:mod:`talkface.models.posevae`) was trained on residuals from each
training speaker's median pose, so its samples wander around the photo's pose and come back to
it: long sequences do not drift. As SadTalker does, a sequence is made of 32-frame chunks, each
from its own draw of the latent; here consecutive chunks overlap by half and are cross-faded
with equal-power weights (cos/sin), so the motion is continuous, then smoothed (Savitzky-Golay,
13 frames, order 2, as SadTalker). The first :data:`FADE_IN_SECONDS` start from the photo's pose.
An angle can instead follow a path the user gives (:func:`camera_path`, ``--input-yaw`` ...).

Blinks are a renewal process learned from the eyelid tracks of the shared clips: log-normal
intervals between blinks and the median closing-and-opening profile (:class:`BlinkModel`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkface.errors import TalkfaceError

POSE_NAMES = ("pitch", "yaw", "roll", "x", "y", "log_scale")
HEAD_MOTION = Path(__file__).resolve().parents[1] / "weights" / "head_motion.pt"
FADE_IN_SECONDS = 0.4  # the head leaves the photo's pose over this time
SMOOTH_FRAMES, SMOOTH_ORDER = 13, 2  # Savitzky-Golay smoothing of the pose (SadTalker's)
PROFILE_FPS = 25.0  # frame rate of the stored blink profile


def pose_residuals(track: np.ndarray) -> np.ndarray:
    """The six pose numbers of a pose track as residuals from its median pose.

    Args:
        track: ``(n, 7)`` from :func:`talkface.face.pose.pose_track` (pitch, yaw, roll, tx, ty,
            tz, scale; NaN rows where no face).

    Returns:
        ``(n, 6)`` float32 (:data:`POSE_NAMES`), NaN rows kept.
    """
    centre = np.nanmedian(track, axis=0)
    out = np.empty((len(track), 6), np.float32)
    out[:, :3] = track[:, :3] - centre[:3]
    out[:, 3:5] = (track[:, 3:5] - centre[3:5]) / centre[6]
    out[:, 5] = np.log(track[:, 6] / centre[6])
    return out


def fill_gaps(x: np.ndarray) -> np.ndarray:
    """``(n, d)`` with NaN rows filled by linear interpolation (edge rows held); all-NaN -> zeros."""
    ok = ~np.isnan(x).any(1)
    if not ok.any():
        return np.zeros_like(x)
    idx = np.arange(len(x))
    return np.stack([np.interp(idx, idx[ok], x[ok, k]) for k in range(x.shape[1])], 1).astype(x.dtype)


def mel_windows(samples: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """Wav2Lip's mel window of each video frame (16 mel frames starting at
    :func:`~talkface.speech.mel.mel_window_start`).

    Args:
        samples: ``(n,)`` float32 16 kHz speech.
        n_frames: video frames.
        fps: their rate.

    Returns:
        ``(n_frames, 1, 80, 16)`` float32.
    """
    from talkface.speech.mel import MEL_STEP_SIZE, mel_window_start, melspectrogram

    mel = melspectrogram(samples)
    mel = np.pad(mel, ((0, 0), (0, MEL_STEP_SIZE)), mode="edge")
    starts = np.clip([mel_window_start(i, fps) for i in range(n_frames)], 0, mel.shape[1] - MEL_STEP_SIZE)
    windows = [mel[:, s : s + MEL_STEP_SIZE] for s in starts]
    if not windows:
        return np.zeros((0, 1, mel.shape[0], MEL_STEP_SIZE), np.float32)
    return np.stack(windows)[:, None].astype(np.float32)


def audio_embeddings(samples: np.ndarray, n_frames: int, fps: float, encoder) -> np.ndarray:
    """The expert SyncNet's audio embedding of each video frame's mel window (:func:`mel_windows`).

    Args:
        samples: ``(n,)`` float32 16 kHz speech.
        n_frames: video frames.
        fps: their rate.
        encoder: the SyncNet's ``audio_encoder`` (``(B, 1, 80, 16)`` -> ``(B, D, 1, 1)``).

    Returns:
        ``(n_frames, D)`` float32, L2-normalised rows.
    """
    import torch

    windows = mel_windows(samples, n_frames, fps)
    out = []
    with torch.inference_mode():
        for k in range(0, len(windows), 256):
            emb = encoder(torch.from_numpy(windows[k : k + 256])).flatten(1)
            out.append(torch.nn.functional.normalize(emb, dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)


@dataclass(frozen=True)
class BlinkModel:
    """Blinks as a renewal process (learned by ``talkface train head`` from eyelid tracks).

    Attributes:
        interval_log_mean, interval_log_std: log-normal intervals between blink starts (log s).
        profile: eyelid closure (0 open, 1 shut) frame by frame through one blink at
            :data:`PROFILE_FPS`, peaking at 1.
        per_minute: the real speakers' rate it was fitted to.
    """

    interval_log_mean: float = float(np.log(2.2))
    interval_log_std: float = 0.6
    profile: tuple[float, ...] = (0.1, 0.55, 1.0, 0.75, 0.45, 0.25, 0.12, 0.05)
    per_minute: float = 27.0

    def track(self, n_frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
        """Closure of both eyes for ``n_frames`` at ``fps``: ``(n_frames, 2)`` float32 in [0, 1].

        The first blink comes after an interval as any other (not at frame 0)."""
        out = np.zeros(n_frames, np.float32)
        profile = np.asarray(self.profile, np.float32)
        t_profile = np.arange(len(profile)) / PROFILE_FPS
        t = float(rng.lognormal(self.interval_log_mean, self.interval_log_std)) * 0.5
        while True:
            start = int(round(t * fps))
            if start >= n_frames:
                break
            k = np.arange(int(np.ceil(t_profile[-1] * fps)) + 1)
            shape = np.interp(k / fps, t_profile, profile)
            end = min(n_frames, start + len(k))
            out[start:end] = np.maximum(out[start:end], shape[: end - start])
            t += max(float(rng.lognormal(self.interval_log_mean, self.interval_log_std)), 0.4)
        return np.repeat(out[:, None], 2, 1)


@dataclass
class HeadMotion:
    """Per output frame: the pose residual ``pose`` ``(n, 6)`` float32 (:data:`POSE_NAMES`) and
    the eyelid closure ``blink`` ``(n, 2)`` float32 (right eye, left eye; 0 open, 1 shut)."""

    pose: np.ndarray
    blink: np.ndarray

    @classmethod
    def still(cls, n_frames: int) -> HeadMotion:
        """No head motion and no blinks."""
        return cls(np.zeros((n_frames, 6), np.float32), np.zeros((n_frames, 2), np.float32))


def savgol(x: np.ndarray, window: int = SMOOTH_FRAMES, order: int = SMOOTH_ORDER) -> np.ndarray:
    """Savitzky-Golay smoothing along axis 0 (Savitzky and Golay 1964: each point replaced by the
    value of the least-squares polynomial of degree ``order`` through the ``window`` points centred
    on it); the first and last ``window // 2`` points take the value of the polynomial fitted to the
    first or last whole window (scipy's ``savgol_filter(mode="interp")``, without importing
    scipy.signal, which costs half a second of start-up). A shorter odd window for short sequences.

    Args:
        x: ``(n, ...)`` float array.
        window: points per fit (odd).
        order: the polynomial's degree.

    Returns:
        The smoothed array, ``x``'s shape and dtype (``x`` itself when ``n <= order``).
    """
    n = len(x)
    w = min(window, n if n % 2 else n - 1)
    if w <= order:
        return x
    half = w // 2
    basis = np.vander(
        np.arange(-half, half + 1, dtype=np.float64), order + 1, increasing=True
    )  # (w, order+1)
    fit = np.linalg.pinv(basis)  # (order+1, w): polynomial coefficients from a window of points
    flat = x.reshape(n, -1).astype(np.float64)
    out = np.empty_like(flat)
    windows = np.lib.stride_tricks.sliding_window_view(flat, w, axis=0)  # (n - w + 1, d, w)
    out[half : n - half] = windows @ fit[0]
    out[:half] = basis[:half] @ (fit @ flat[:w])
    out[n - half :] = basis[half + 1 :] @ (fit @ flat[n - w :])
    return out.reshape(x.shape).astype(x.dtype)


class HeadMotionModel:
    """The shipped head-motion model: the PoseVAE, its audio encoder, the canonical face shape and
    the blink model, from one file (``talkface train head``).

    Args:
        path: the ``head_motion.pt``; default :data:`HEAD_MOTION`.

    Raises:
        TalkfaceError: missing or unreadable file, or not a head-motion model.
    """

    def __init__(self, path: Path | None = None) -> None:
        import torch

        from talkface.models.posevae import CVAE, PoseVAEConfig
        from talkface.weights import config_from, reading_model

        path = Path(path or HEAD_MOTION)
        with reading_model(path, "head-motion model"):
            data = torch.load(path, map_location="cpu", weights_only=True)
            self.config = config_from(PoseVAEConfig, data["config"])
            self.vae = CVAE(self.config)
            self.vae.load_state_dict({k: v.float() for k, v in data["state_dict"].items()})
            self.canonical = np.asarray(data["canonical"], np.float32)
            self.blinks = BlinkModel(**data["blink"])
            self.default_style = int(data["default_style"])
        self.vae.eval()
        self.path = path
        self._encoder = None

    @property
    def styles(self) -> tuple[str, ...]:
        """The training speaker behind each ``--pose-style`` number."""
        return self.config.styles

    def encoder(self):
        """The frozen audio encoder (the shipped expert SyncNet's), loaded on first use."""
        if self._encoder is None:
            from talkface.models.syncnet import load_expert
            from talkface.weights import SYNCNET

            self._encoder = load_expert(SYNCNET).audio_encoder
        return self._encoder

    def pose(
        self,
        samples: np.ndarray,
        n_frames: int,
        fps: float,
        ref_angles: np.ndarray,
        style: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Sample a pose-residual sequence for speech.

        Args:
            samples: ``(n,)`` float32 16 kHz speech.
            n_frames: output frames at ``fps``.
            fps: frames per second (the model was trained at 25: other rates are resampled).
            ref_angles: ``(3,)`` the photo's pitch, yaw, roll in degrees (the model's ``ref``).
            style: a class id in ``[0, num_classes)`` (the speaker whose manner it imitates).
            rng: the random source (a seeded generator makes the sequence reproducible).

        Returns:
            ``(n_frames, 6)`` float32 residuals (:data:`POSE_NAMES`), zero at frame 0.

        Raises:
            TalkfaceError: ``style`` out of range.
        """
        c = self.config
        if not 0 <= style < c.num_classes:
            raise TalkfaceError(f"pose style {style} is not one of 0-{c.num_classes - 1}")
        n = max(1, int(round(n_frames * PROFILE_FPS / fps)))
        audio = audio_embeddings(samples, n, PROFILE_FPS, self.encoder())
        pose = sample_residuals(self.vae, c, audio, ref_angles, style, rng)
        if n != n_frames:
            src = np.arange(n_frames) * PROFILE_FPS / fps
            pose = np.stack([np.interp(src, np.arange(n), pose[:, k]) for k in range(6)], 1)
        return pose.astype(np.float32)


def sample_residuals(
    vae, config, audio: np.ndarray, ref_angles: np.ndarray, style: int, rng: np.random.Generator
) -> np.ndarray:
    """Pose residuals from the PoseVAE for a whole sequence (see the module docstring: overlapping
    32-frame chunks, each from its own latent draw, cross-faded, smoothed, faded in).

    Args:
        vae: the :class:`~talkface.models.posevae.CVAE` (eval mode).
        config: its :class:`~talkface.models.posevae.PoseVAEConfig`.
        audio: ``(n, D)`` float32 audio embeddings at :data:`PROFILE_FPS` (:func:`audio_embeddings`).
        ref_angles: ``(3,)`` the photo's pitch, yaw, roll in degrees.
        style: class id.
        rng: random source.

    Returns:
        ``(n, 6)`` float32 residuals in :data:`POSE_NAMES` units, zero at frame 0.
    """
    import torch

    c = config
    n = len(audio)
    std = np.asarray(c.pose_std, np.float32)
    ref = np.zeros(6, np.float32)
    ref[:3] = np.asarray(ref_angles, np.float32) / std[:3]
    seq, hop = c.seq_len, c.seq_len // 2
    starts = list(range(0, max(n - seq, 0) + 1, hop))
    if starts[-1] + seq < n:
        starts.append(n - seq)
    total = np.zeros((max(n, seq), 6), np.float32)
    weight = np.zeros(max(n, seq), np.float32)
    fade = np.sin(np.pi * (np.arange(seq) + 0.5) / seq)  # equal power: the overlaps' squares sum to 1
    padded = np.concatenate([audio, np.repeat(audio[-1:], max(0, seq - n), 0)])
    with torch.inference_mode():
        for s in starts:
            batch = {
                "z": torch.from_numpy(rng.standard_normal((1, c.latent_size)).astype(np.float32)),
                "ref": torch.from_numpy(ref[None]),
                "audio_emb": torch.from_numpy(padded[s : s + seq][None]),
                "class": torch.tensor([style]),
            }
            chunk = vae.test(batch)["pose_motion_pred"][0].numpy()
            total[s : s + seq] += chunk * fade[:, None]
            weight[s : s + seq] += fade**2
    pose = (total / np.sqrt(np.maximum(weight, 1e-6))[:, None])[:n] * std
    pose = savgol(pose) * np.asarray(c.gain, np.float32)
    return fade_in(pose, PROFILE_FPS)


def fade_in(x: np.ndarray, fps: float) -> np.ndarray:
    """``(n, d)`` motion (residuals from the photo) scaled by a smoothstep ramp from 0 at frame 0
    to 1 at :data:`FADE_IN_SECONDS`, so it leaves the photo gently: float32."""
    ramp = np.clip(np.arange(len(x)) / fps / FADE_IN_SECONDS, 0, 1)
    return (x * (ramp * ramp * (3 - 2 * ramp))[:, None]).astype(np.float32)


def camera_path(angles: Sequence[float], n_frames: int) -> np.ndarray:
    """A head angle that moves through ``angles`` at a constant speed over ``n_frames`` frames, as
    SadTalker's ``gen_camera_pose`` makes its ``--input_yaw/pitch/roll`` sequences: frame 0 at the
    first angle, the last frame at the last, every degree of the path taking as many frames (one
    angle holds it throughout).

    Args:
        angles: at least one angle in degrees.
        n_frames: frames of the output.

    Returns:
        ``(n_frames,)`` float32 degrees.

    Raises:
        ValueError: no angle.
    """
    a = np.asarray(angles, np.float64)
    if a.size == 0:
        raise ValueError("camera_path needs at least one angle")
    travelled = np.concatenate([[0.0], np.cumsum(np.abs(np.diff(a)))])
    if n_frames < 2 or travelled[-1] == 0:
        return np.full(n_frames, a[0], np.float32)
    at = np.linspace(0.0, travelled[-1], n_frames)
    # Where the path travels, interpolate on distance travelled; a repeated angle (no travel) is a
    # point the path passes without stopping, as in SadTalker.
    keep = np.concatenate([[True], np.diff(travelled) > 0])
    return np.interp(at, travelled[keep], a[keep]).astype(np.float32)


def reference_pose(path: Path, n_frames: int, canonical: np.ndarray) -> np.ndarray:
    """A real head motion copied from a video (``--ref-pose``): its pose relative to its first
    frame, looped when shorter (as SadTalker's ``using_refpose``), smoothed lightly.

    Returns:
        ``(n_frames, 6)`` float32 residuals (:data:`POSE_NAMES`).

    Raises:
        TalkfaceError: unreadable video, or no face in it.
    """
    from talkface.face.pose import pose_track
    from talkface.face.track import landmark_track

    meshes = landmark_track(path, max_frames=n_frames, depth=True)
    track = pose_track(meshes, canonical)
    if np.isnan(track).all():
        raise TalkfaceError("no face found in the reference video", path)
    track = fill_gaps(track.astype(np.float64))
    first = track[0]
    out = np.empty((len(track), 6), np.float32)
    out[:, :3] = track[:, :3] - first[:3]
    out[:, 3:5] = (track[:, 3:5] - first[3:5]) / first[6]
    out[:, 5] = np.log(track[:, 6] / first[6])
    out = savgol(out, 5, 2)
    return np.resize(out, (n_frames, 6)) if len(out) < n_frames else out[:n_frames]


def reference_blinks(path: Path, n_frames: int) -> np.ndarray:
    """Blinks copied from a video (``--ref-eyeblink``): each eye's closure from its eyelid aperture
    (1 - aperture / the eye's open aperture, the 90th percentile; a closure over 0.6 counts as
    shut, 1), looped when shorter.

    Returns:
        ``(n_frames, 2)`` float32 in [0, 1].

    Raises:
        TalkfaceError: unreadable video, or no face in it.
    """
    from talkface.face.landmarks import eye_aperture
    from talkface.face.track import landmark_track

    lm = landmark_track(path, max_frames=n_frames)
    aperture = eye_aperture(lm)
    if np.isnan(aperture).all():
        raise TalkfaceError("no face found in the reference video", path)
    aperture = fill_gaps(aperture)
    closure = 1 - aperture / np.percentile(aperture, 90, axis=0)
    closure = np.clip(closure / 0.6, 0, 1).astype(np.float32)
    return np.resize(closure, (n_frames, 2)) if len(closure) < n_frames else closure[:n_frames]
