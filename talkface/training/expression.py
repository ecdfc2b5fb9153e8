"""``talkface train expression``: the expression basis and ExpNet of photo animation, from the
shared talking clips.

1. Every clip is tracked with depth (:mod:`talkface.training.head_data`, the cache of ``talkface
   train head``); its frames are put in the canonical frame of the shipped head-motion model and
   taken relative to the clip's median shape (:func:`~talkface.face.expression.expression_residuals`),
   at 25 frames/s.
2. The basis: the first :data:`EXPRESSION_SIZE` principal axes of the training speakers' residuals
   (:func:`~talkface.face.expression.build_basis`).
3. ExpNet (:class:`~talkface.models.expnet.SimpleWrapperV2` at width 0.5) learns every frame's
   coefficients (divided by their std) from its mel window, the reference expression (zero:
   each clip's neutral, as a photo is at inference) and the frame's eye-blink ratio; mean squared
   error. Its audio encoder is the shipped expert SyncNet's, frozen (the published ExpNet starts
   from Wav2Lip's), less the SyncNet's second residual block at 256 channels, which ExpNet's
   encoder does not have. SadTalker's ExpNet is also trained through its renderer with a lip-reading
   distillation loss and landmark losses; here the lips come from the lip-sync engine and
   ExpNet is fitted to the tracked coefficients directly.
4. Every fifth speaker (sorted by name) is held out: the report gives, per coefficient, the
   correlation of predicted and real coefficients on their clips, and the fraction of variance
   explained, against predicting the neutral face.

Writes one file (``expnet.pt``): the config, the weights (float16), the basis, the canonical
shape it is measured in, and the report.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from talkface.errors import TalkfaceError
from talkface.training.head import MODEL_FPS, _resample, held_out_groups

EXPRESSION_SIZE = 32  # coefficients in the basis
EXPNET_WIDTH = 0.5  # audio-encoder width: the shipped SyncNet's
BASIS_FRAMES = 20000  # at most this many training frames make the basis
MAPPING_LR = 1e-3  # the audio encoder stays frozen (fine-tuned, it learnt the training clips by heart)
BATCH = 128


def blink_ratio(meshes: np.ndarray) -> np.ndarray:
    """SadTalker's eye-blink ratio of each frame: how far the eyelids are closed, ``1 - aperture /
    the clip's median aperture`` (both eyes' mean) clipped to [0, 1]: ``(n,)`` float32, NaN rows 0."""
    from talkface.face.landmarks import eye_aperture

    ap = eye_aperture(meshes).mean(-1)
    median = np.nanmedian(ap)
    return np.nan_to_num(np.clip(1 - ap / median, 0, 1), nan=0.0).astype(np.float32)


def _clip_data(clips, canonical, log):
    """Per clip: ``(name, group, residuals (n, 478, 3), blink (n,), mel windows (n, 1, 80, 16))`` at
    :data:`MODEL_FPS`."""
    from talkface.face.expression import expression_residuals
    from talkface.media.audio import load_audio
    from talkface.motion.head import fill_gaps, mel_windows

    out = []
    for clip in clips:
        missing = np.isnan(clip.meshes).any((1, 2)).mean()
        if missing > 0.2:
            log(f"skipped {clip.name}: no face in {missing:.0%} of its frames")
            continue
        res = expression_residuals(clip.meshes, canonical).reshape(len(clip.meshes), -1)
        res = _resample(fill_gaps(res), clip.fps).reshape(-1, *canonical.shape)
        blink = _resample(blink_ratio(clip.meshes)[:, None], clip.fps)[:, 0]
        mels = mel_windows(load_audio(clip.path), len(res), MODEL_FPS)
        out.append((clip.name, clip.group, res, blink, mels))
    return out


def init_from_syncnet(net, syncnet_path: Path) -> None:
    """Copy the expert SyncNet's audio encoder into ExpNet's (same widths): layers 0-10 as they
    are, the SyncNet's 12 and 13 into ExpNet's 11 and 12 (the SyncNet has one more residual block
    at 256 channels, its layer 11)."""
    from talkface.models.syncnet import load_expert

    src = load_expert(syncnet_path).audio_encoder
    dst = net.audio_encoder
    pairs = [(k, k) for k in range(11)] + [(12, 11), (13, 12)]
    for s, d in pairs:
        dst[d].load_state_dict(src[s].state_dict())


def train_expression(
    data_dir: Path,
    out: Path,
    cache: Path | None = None,
    minutes: float = 10.0,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict:
    """Train the expression basis and ExpNet and write them to ``out`` (see the module docstring).

    Args:
        data_dir: the shared data folder (its ``video/`` clips and ``MANIFEST.tsv``).
        out: the ``expnet.pt`` to write.
        cache: folder for the clips' tracks (shared with ``talkface train head``).
        minutes: ExpNet training time.
        seed: random seed.
        log: progress lines.

    Returns:
        The report (also stored in the file).

    Raises:
        TalkfaceError: no usable clips.
    """
    import torch

    from talkface.face.expression import build_basis
    from talkface.media.atomic import atomic_path
    from talkface.models.expnet import ExpNetConfig, SimpleWrapperV2
    from talkface.motion.head import HeadMotionModel
    from talkface.training.head_data import load_head_clips
    from talkface.weights import SYNCNET

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    canonical = HeadMotionModel().canonical
    clips = load_head_clips(data_dir, cache, log=log)
    data = _clip_data(clips, canonical, log)
    groups = sorted({d[1] for d in data})
    held = held_out_groups(groups)
    train = [d for d in data if d[1] not in held]
    test = [d for d in data if d[1] in held]
    if not train:
        raise TalkfaceError("no clips to train the expression model on", data_dir)
    pooled = np.concatenate([d[2] for d in train])
    pooled = pooled[rng.choice(len(pooled), min(BASIS_FRAMES, len(pooled)), replace=False)]
    basis = build_basis(pooled, EXPRESSION_SIZE)
    total = float((pooled.reshape(len(pooled), -1) ** 2).sum(1).mean())
    explained = float((basis.std**2).sum() / total)
    log(f"basis: {EXPRESSION_SIZE} components explain {explained:.1%} of the expression variance")

    def arrays(chosen):
        mel, ref, ratio, target = [], [], [], []
        for _n, _g, res, blink, mels in chosen:
            c = basis.coefficients(res) / basis.std
            mel.append(mels)
            # Reference zero, as at inference (a photo is taken as its person's neutral face); the
            # first frame's coefficients, SadTalker's reference, name the clip and are learnt by heart.
            ref.append(np.zeros_like(c))
            ratio.append(blink[:, None])
            target.append(c)
        return [torch.from_numpy(np.concatenate(x).astype(np.float32)) for x in (mel, ref, ratio, target)]

    train_t, test_t = arrays(train), arrays(test) if test else None
    config = ExpNetConfig(width=EXPNET_WIDTH, n_exp=EXPRESSION_SIZE)
    net = SimpleWrapperV2(config)
    init_from_syncnet(net, SYNCNET)
    for p in net.audio_encoder.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(net.mapping1.parameters(), lr=MAPPING_LR)
    log(
        f"ExpNet: {len(train_t[0])} frames of {len(train)} clips; "
        f"held out {len(test)} clips of {sorted(held)}"
    )
    start, step, losses = time.perf_counter(), 0, []
    net.train()
    net.audio_encoder.eval()  # frozen, batch-norm statistics too
    while time.perf_counter() - start < minutes * 60:
        idx = torch.from_numpy(rng.choice(len(train_t[0]), BATCH))
        mel, ref, ratio, target = (x[idx] for x in train_t)
        pred = net(mel, ref[:, None], ratio[:, None])[:, 0]
        loss = ((pred - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        step += 1
        if step % 200 == 0:
            log(f"step {step}: mse {np.mean(losses[-200:]):.3f}")
    net.eval()
    report = {
        "steps": step,
        "minutes": round((time.perf_counter() - start) / 60, 1),
        "frames": len(train_t[0]),
        "basis_explained": round(explained, 4),
        "train_mse": round(float(np.mean(losses[-200:])), 4) if losses else None,
        "held_out_groups": sorted(held),
        "train": measure(net, train_t),
    }
    if test_t is not None:
        report["held_out"] = measure(net, test_t)
        log(f"held out: {report['held_out']}")
    payload = {
        "config": dataclasses.asdict(config),
        "state_dict": {k: v.half() for k, v in net.state_dict().items()},
        "components": torch.from_numpy(basis.components),
        "std": torch.from_numpy(basis.std),
        "canonical": torch.from_numpy(np.asarray(canonical, np.float32)),
        "report": report,
    }
    with atomic_path(out) as tmp:
        torch.save(payload, tmp)
    return report


def measure(net, tensors) -> dict:
    """ExpNet's predictions against the tracked coefficients: per-coefficient Pearson r (the first
    eight), and the fraction of the variance explained (``1 - MSE / var``, all coefficients)
    beside that of predicting the neutral face (zero)."""
    import torch

    mel, ref, ratio, target = tensors
    with torch.inference_mode():
        pred = torch.cat(
            [
                net(mel[k : k + 512], ref[k : k + 512, None], ratio[k : k + 512, None])[:, 0]
                for k in range(0, len(mel), 512)
            ]
        ).numpy()
    t, r = target.numpy(), ref.numpy()
    var = ((t - t.mean(0)) ** 2).mean()
    corr = [float(np.corrcoef(pred[:, k], t[:, k])[0, 1]) for k in range(min(8, t.shape[1]))]
    return {
        "r": [round(c, 3) for c in corr],
        "explained": round(float(1 - ((pred - t) ** 2).mean() / var), 3),
        "explained_by_neutral": round(float(1 - ((r - t) ** 2).mean() / var), 3),
    }
