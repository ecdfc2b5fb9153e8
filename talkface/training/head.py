"""``talkface train head``: the head-motion model of photo animation, from the shared talking clips.

1. Every clip is tracked with depth (:mod:`talkface.training.head_data`); a canonical face shape
   is built from 40 frames of each (generalised Procrustes, :func:`~talkface.face.pose.build_canonical`).
2. Each clip's pose track becomes residuals from its median pose
   (:func:`~talkface.motion.head.pose_residuals`), at 25 frames/s, with the expert SyncNet's
   audio embedding of every frame.
3. Blinks: events where the eyelid aperture falls under 0.55 of the clip's median; the intervals
   between them (log-normal fit) and their median closing profile (:class:`~talkface.motion.head.BlinkModel`).
4. The PoseVAE (:mod:`talkface.models.posevae`) is trained on 33-frame windows of the training
   speakers (one style class per speaker), with SadTalker's losses: MSE of the residuals, the
   KL term, and the pose-sequence discriminator's adversarial loss (least squares). Every fifth
   speaker (sorted by name) is held out and measured: the standard deviation of sampled motion
   against the real motion, per axis.

Writes one file (``head_motion.pt``): the PoseVAE config and weights (float16), the canonical
shape, the blink model and the report.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from talkface.errors import TalkfaceError

MODEL_FPS = 25.0
WINDOW = 33  # frames per training window: the ref frame's time, then seq_len residuals
HELD_OUT_EVERY = 5  # every fifth speaker group is held out
BLINK_THRESHOLD = 0.55  # aperture under this fraction of the clip's median: a blink
KL_WEIGHT = 0.05
GAN_WEIGHT = 0.7  # SadTalker's LAMBDA_GAN_MOTION
LEARNING_RATE = 3e-4
CPU_FILTERS = (16, 32, 64, 128)  # the ResUnets at half the published widths: 1.7 M parameters, 0.15 s a step


def held_out_groups(groups: list[str]) -> set[str]:
    """The speaker groups held out of training and measured: every :data:`HELD_OUT_EVERY`-th of
    ``groups`` sorted by name."""
    return set(sorted(groups)[HELD_OUT_EVERY - 1 :: HELD_OUT_EVERY])


def _resample(x: np.ndarray, fps: float) -> np.ndarray:
    """``(n, d)`` at ``fps`` -> at :data:`MODEL_FPS` (linear)."""
    if abs(fps - MODEL_FPS) < 1e-3:
        return x
    n = int(round(len(x) * MODEL_FPS / fps))
    t = np.arange(n) * fps / MODEL_FPS
    return np.stack([np.interp(t, np.arange(len(x)), x[:, k]) for k in range(x.shape[1])], 1).astype(x.dtype)


def blink_model(clips, log: Callable[[str], None]):
    """Fit :class:`~talkface.motion.head.BlinkModel` to the clips' eyelid tracks."""
    from talkface.face.landmarks import eye_aperture
    from talkface.motion.head import BlinkModel, fill_gaps

    intervals, shapes, n_blinks, seconds = [], [], 0, 0.0
    for clip in clips:
        ap = eye_aperture(clip.meshes).mean(-1, keepdims=True)
        if np.isnan(ap).mean() > 0.2:
            continue
        ap = _resample(fill_gaps(ap), clip.fps)[:, 0]
        median = np.median(ap)
        low = ap < BLINK_THRESHOLD * median
        edges = np.diff(np.r_[0, low.astype(int), 0])
        starts, ends = np.where(edges == 1)[0], np.where(edges == -1)[0]
        n_blinks += len(starts)
        seconds += len(ap) / MODEL_FPS
        intervals += list(np.diff(starts) / MODEL_FPS)
        for a, b in zip(starts, ends, strict=True):
            m = a + int(np.argmin(ap[a:b]))
            if m >= 3 and m + 8 < len(ap):
                shapes.append(1 - ap[m - 3 : m + 8] / median)
    profile = np.median(np.array(shapes), 0)
    profile = np.clip((profile - profile[0]) / (profile.max() - profile[0]), 0, 1)
    profile = profile[np.argmax(profile > 0.05) :]  # from where the lid starts to fall
    profile = profile[: len(profile) - np.argmax(profile[::-1] > 0.03)]
    logs = np.log(np.array(intervals))
    model = BlinkModel(
        interval_log_mean=float(logs.mean()),
        interval_log_std=float(logs.std()),
        profile=tuple(round(float(p), 3) for p in profile),
        per_minute=float(60 * n_blinks / max(seconds, 1e-9)),
    )
    log(
        f"blinks: {n_blinks} in {seconds / 60:.1f} min ({model.per_minute:.1f}/min), median interval "
        f"{np.exp(model.interval_log_mean):.2f} s, profile {model.profile}"
    )
    return model


def _clip_features(clips, canonical, log):
    """Per clip: ``(name, group, residuals (n, 6), audio (n, D))`` at :data:`MODEL_FPS`."""
    from talkface.face.pose import pose_track
    from talkface.media.audio import load_audio
    from talkface.models.syncnet import load_expert
    from talkface.motion.head import audio_embeddings, fill_gaps, pose_residuals
    from talkface.weights import SYNCNET

    encoder = load_expert(SYNCNET).audio_encoder
    out = []
    for clip in clips:
        track = pose_track(clip.meshes, canonical)
        if np.isnan(track).any(1).mean() > 0.2:
            log(f"skipped {clip.name}: no face in {np.isnan(track).any(1).mean():.0%} of its frames")
            continue
        res = _resample(fill_gaps(pose_residuals(track)), clip.fps)
        from scipy.ndimage import gaussian_filter1d

        res = gaussian_filter1d(res, 1.0, axis=0).astype(np.float32)  # tracking jitter out
        audio = audio_embeddings(load_audio(clip.path), len(res), MODEL_FPS, encoder)
        out.append((clip.name, clip.group, res, audio))
    return out


def _windows(features, classes: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All windows of :data:`WINDOW` frames (hop 4): residuals ``(m, 32, 6)``, ref angles ``(m, 3)``
    (the clip's median pose is the reference: zeros here, the absolute angles are added by the
    caller), audio ``(m, 32, D)``, class ``(m,)``."""
    res, audio, cls = [], [], []
    for _name, group, r, a in features:
        for s in range(0, len(r) - WINDOW + 1, 4):
            res.append(r[s + 1 : s + WINDOW])
            audio.append(a[s + 1 : s + WINDOW])
            cls.append(classes[group])
    return np.array(res, np.float32), np.array(audio, np.float32), np.array(cls, np.int64)


def train_head(
    data_dir: Path,
    out: Path,
    cache: Path | None = None,
    minutes: float = 10.0,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict:
    """Train the head-motion model and write it to ``out`` (see the module docstring).

    Args:
        data_dir: the shared data folder (its ``video/`` clips and ``MANIFEST.tsv``).
        out: the ``head_motion.pt`` to write.
        cache: folder for the clips' tracks (reused across runs).
        minutes: PoseVAE training time.
        seed: random seed.
        log: progress lines.

    Returns:
        The report (also stored in the file).

    Raises:
        TalkfaceError: no usable clips.
    """
    import torch

    from talkface.face.pose import build_canonical, pose_track
    from talkface.media.atomic import atomic_path
    from talkface.models.posevae import CVAE, PoseSequenceDiscriminator, PoseVAEConfig
    from talkface.training.head_data import load_head_clips

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    clips = load_head_clips(data_dir, cache, log=log)
    sample = []
    for clip in clips:
        ok = np.where(~np.isnan(clip.meshes).any((1, 2)))[0]
        if len(ok):
            sample.append(clip.meshes[rng.choice(ok, min(40, len(ok)), replace=False)])
    canonical = build_canonical(np.concatenate(sample))
    blinks = blink_model(clips, log)
    features = _clip_features(clips, canonical, log)
    groups = sorted({g for _, g, _, _ in features})
    held = held_out_groups(groups)
    train_groups = [g for g in groups if g not in held]
    if not train_groups:
        raise TalkfaceError("no clips to train the head-motion model on", data_dir)
    classes = {g: k for k, g in enumerate(train_groups)}
    train = [f for f in features if f[1] in classes]
    test = [f for f in features if f[1] in held]
    pose_std = np.concatenate([r for _, _, r, _ in train]).std(0)
    # The reference input: the clip's median absolute angles (the photo's angles at inference).
    medians = {}
    for clip in clips:
        track = pose_track(clip.meshes, canonical)
        medians[clip.name] = np.nanmedian(track[:, :3], 0)
    # Each style's real motion: the default style is the speaker of median motion.
    spread = {g: np.concatenate([r for _, gg, r, _ in train if gg == g])[:, :3].std(0) for g in train_groups}
    by_size = sorted(train_groups, key=lambda g: float(np.linalg.norm(spread[g])))
    default_style = classes[by_size[len(by_size) // 2]]
    config = PoseVAEConfig(
        filters=CPU_FILTERS,
        audio_emb_in_size=int(train[0][3].shape[1]),
        num_classes=len(classes),
        pose_std=tuple(float(s) for s in pose_std),
        styles=tuple(train_groups),
    )
    res, audio, cls = _windows(train, classes)
    refs = []
    for name, _group, r, _a in train:
        refs += [medians[name]] * len(range(0, len(r) - WINDOW + 1, 4))
    ref = np.zeros((len(res), 6), np.float32)
    ref[:, :3] = np.array(refs) / pose_std[:3]
    res_n = res / pose_std
    log(
        f"PoseVAE: {len(res)} windows of {len(train)} clips, {len(classes)} speakers; held out {sorted(held)}"
    )

    vae, disc = CVAE(config), PoseSequenceDiscriminator(width=0.25)
    opt_g = torch.optim.Adam(vae.parameters(), lr=LEARNING_RATE)
    opt_d = torch.optim.Adam(disc.parameters(), lr=LEARNING_RATE)
    data = [torch.from_numpy(x) for x in (res_n, ref, audio, cls)]
    start, step, batch = time.perf_counter(), 0, 64
    losses: dict[str, list[float]] = {"mse": [], "kl": [], "gan": [], "disc": []}
    while time.perf_counter() - start < minutes * 60:
        idx = torch.from_numpy(rng.choice(len(res), batch))
        gt, r, a, c = (x[idx] for x in data)
        out_batch = vae({"pose_motion_gt": gt, "ref": r, "audio_emb": a, "class": c})
        pred, mu, logvar = out_batch["pose_motion_pred"], out_batch["mu"], out_batch["logvar"]
        # Discriminator (least squares GAN): real windows 1, decoded ones 0.
        d_loss = ((disc(gt) - 1) ** 2).mean() + (disc(pred.detach()) ** 2).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        mse = ((pred - gt) ** 2).mean()
        kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)).mean() / config.latent_size
        gan = ((disc(pred) - 1) ** 2).mean()
        loss = mse + KL_WEIGHT * kl + GAN_WEIGHT * 0.1 * gan
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
        for k, v in zip(losses, (mse, kl, gan, d_loss), strict=True):
            losses[k].append(float(v.detach()))
        step += 1
        if step % 200 == 0:
            log(f"step {step}: " + ", ".join(f"{k} {np.mean(v[-200:]):.3f}" for k, v in losses.items()))
    vae.eval()
    config = calibrate(vae, config, train, medians, rng)
    report = {"steps": step, "minutes": (time.perf_counter() - start) / 60, "windows": len(res)}
    report["default_style"] = default_style
    report["style_pose_std"] = {g: [round(float(x), 2) for x in spread[g]] for g in train_groups}
    report["losses"] = {k: float(np.mean(v[-200:])) for k, v in losses.items()}
    report["held_out"] = _measure(vae, config, test, medians, rng)
    report["train"] = _measure(vae, config, train, medians, rng)
    report["blinks_per_minute_real"] = blinks.per_minute
    log(f"held out: {report['held_out']}")
    state = {k: v.half() for k, v in vae.state_dict().items()}
    payload = {
        "config": dataclasses.asdict(config),
        "state_dict": state,
        "canonical": torch.from_numpy(canonical),
        "blink": dataclasses.asdict(blinks),
        "default_style": default_style,
        "report": report,
    }
    with atomic_path(out) as tmp:
        torch.save(payload, tmp)
    return report


def calibrate(vae, config, features, medians, rng):
    """``config`` with :attr:`~talkface.models.posevae.PoseVAEConfig.gain` set so that sampled
    motion spreads as the training clips' real motion (geometric mean of the per-clip std ratios,
    per pose number; gains kept within 1-6)."""
    from talkface.motion.head import sample_residuals

    base = dataclasses.replace(config, gain=(1.0,) * len(config.gain))
    ratios = []
    for name, _g, real, audio in features:
        if len(real) >= 2 * config.seq_len:
            fake = sample_residuals(
                vae, base, audio, medians[name], int(rng.integers(config.num_classes)), rng
            )
            ratios.append(fake.std(0) / np.maximum(real.std(0), 1e-6))
    gain = np.clip(1 / np.exp(np.mean(np.log(ratios), 0)), 1.0, 6.0)
    return dataclasses.replace(config, gain=tuple(round(float(g), 3) for g in gain))


def _measure(vae, config, features, medians, rng) -> dict:
    """Sampled against real motion on ``features``' clips (each re-driven with its own audio and a
    random training style, as at inference: :func:`~talkface.motion.head.sample_residuals`):
    per-axis std ratio (pitch, yaw, roll) and |velocity| ratio, geometric means over the clips."""
    from talkface.motion.head import sample_residuals

    ratios, speed = [], []
    for name, _g, real, audio in features:
        if len(real) < 2 * config.seq_len:
            continue
        style = int(rng.integers(config.num_classes))
        fake = sample_residuals(vae, config, audio, medians[name], style, rng)[:, :3]
        r = real[:, :3]
        ratios.append(fake.std(0) / np.maximum(r.std(0), 1e-6))
        speed.append(
            np.abs(np.diff(fake, axis=0)).mean(0) / np.maximum(np.abs(np.diff(r, axis=0)).mean(0), 1e-6)
        )

    def geometric(x: list) -> list[float] | None:
        return [round(float(v), 3) for v in np.exp(np.mean(np.log(x), 0))] if x else None

    return {"clips": len(ratios), "std_ratio": geometric(ratios), "velocity_ratio": geometric(speed)}
