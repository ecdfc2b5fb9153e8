"""``talkface train wav2lip [--gan]``: the generator, as ``wav2lip_train.py`` / ``hq_wav2lip_train.py``
train it; the same loop trains HyperLips' base network (:class:`GeneratorRecipe`,
:mod:`talkface.training.hyperlips`).

A sample is a window of 5 consecutive crops: the generator sees them with the lower half blacked
out, stacked on channels with a random other window of the same clip (the reference, for
identity), and one mel window per frame starting one frame early (``f - 1``, as the training
script does). Loss = ``sw * sync + dw * adversarial + (1 - sw - dw) * L1`` with the frozen expert
SyncNet's cosine BCE as the sync term; ``sw`` is 0 until the held-out sync loss first falls below
``options.sync_start`` (published 0.75) and then :data:`SYNC_WEIGHT`; ``dw`` is :data:`DISC_WEIGHT`
with ``--gan`` (the visual-quality discriminator trained with BCE on real vs generated), else 0. Adam 1e-4
(betas 0.5/0.999 with ``--gan``), bf16 autocast where the CPU has bf16 instructions (else fp32),
published-format checkpoints.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from talkface.errors import Terminated
from talkface.models.accelerate import use_bf16
from talkface.models.checkpoint import load_checkpoint, save_checkpoint
from talkface.models.syncnet import SYNC_FRAMES, SyncNet, cosine_bce, load_expert
from talkface.models.wav2lip import IMG_SIZE, Wav2Lip, Wav2LipConfig, Wav2LipDiscQual
from talkface.speech.mel import MEL_STEP_SIZE
from talkface.training.data import Clip, load_split
from talkface.training.losses import ssim_loss
from talkface.training.progress import (
    LR_FLOOR,
    WALL_MINUTES,
    LossLog,
    Wav2LipTraining,
    latest_checkpoint,
    progress_bar,
)

SYNC_WEIGHT = 0.03  # hq_wav2lip_train.py's syncnet_wt once switched on
DISC_WEIGHT = 0.07  # hq_wav2lip_train.py's disc_wt
EVAL_SAMPLES = 128


@dataclass(frozen=True)
class GeneratorRecipe:
    """What differs between the masked-face generators this loop trains.

    Attributes:
        title: name in the progress bar and the loss plot.
        img_size: face crop side in pixels.
        generator: ``generator(width) -> nn.Module``, called ``(indiv_mels, x)``.
        discriminator: ``discriminator(width) -> nn.Module`` with ``perceptual_loss(g)``.
        sync_weight: weight of the expert's sync term once it is on.
        disc_weight: weight of the adversarial term (with a discriminator).
        disc_lr_scale: the discriminator's learning rate over the generator's.
    """

    title: str
    img_size: int
    generator: Callable[[float], nn.Module]
    discriminator: Callable[[float], nn.Module]
    sync_weight: float = SYNC_WEIGHT
    disc_weight: float = DISC_WEIGHT
    disc_lr_scale: float = 1.0


WAV2LIP = GeneratorRecipe(
    "Wav2Lip",
    IMG_SIZE,
    lambda width: Wav2Lip(Wav2LipConfig(width=width)),
    lambda width: Wav2LipDiscQual(Wav2LipConfig(width=width)),
)


def generator_batch(
    clips: list[Clip], batch: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One training batch, at the size the clips were loaded at (``S``: 96 for Wav2Lip).

    Returns:
        ``(x, indiv_mels, mel, gt)``: ``x`` ``(B, 6, T, S, S)`` float32 (masked target window +
        reference window, BGR in [0, 1]), ``indiv_mels`` ``(B, T, 1, 80, 16)`` (frame ``f`` uses the
        window at ``f - 1``), ``mel`` ``(B, 1, 80, 16)`` (the window at the first frame, for the
        sync loss) and ``gt`` ``(B, 3, T, S, S)`` float32.
    """
    xs, indiv, mels, gts = [], [], [], []
    while len(xs) < batch:
        clip = clips[int(rng.integers(len(clips)))]
        starts = clip.starts
        k = int(starts[rng.integers(len(starts))])
        first = int(clip.index[k])
        # The per-frame mel of frame f starts at f - 1; all of them must lie inside the speech.
        if first < 1 or clip.mel_window(first + SYNC_FRAMES - 2).shape[1] < MEL_STEP_SIZE:
            continue
        others = starts[starts != k]
        ref = int(others[rng.integers(len(others))]) if len(others) else k
        window = clip.frames[k : k + SYNC_FRAMES].astype(np.float32) / 255.0  # (T, 96, 96, 3)
        reference = clip.frames[ref : ref + SYNC_FRAMES].astype(np.float32) / 255.0
        gt = np.moveaxis(window, -1, 0)  # (3, T, 96, 96)
        masked = gt.copy()
        masked[:, :, gt.shape[2] // 2 :] = 0.0
        xs.append(np.concatenate([masked, np.moveaxis(reference, -1, 0)]))
        indiv.append(np.stack([clip.mel_window(first + t - 1) for t in range(SYNC_FRAMES)])[:, None])
        mels.append(clip.mel_window(first)[None])
        gts.append(gt)
    return np.stack(xs), np.stack(indiv), np.stack(mels), np.stack(gts)


def lower_half_window(g: torch.Tensor) -> torch.Tensor:
    """``(B, 3, T, S, S)`` faces -> SyncNet input ``(B, 3T, 48, 96)`` (frames stacked on channels);
    faces of another size than the expert's 96 px are resized first (bilinear, antialiased)."""
    if g.shape[-1] != IMG_SIZE:
        b, c, t = g.shape[:3]
        flat = g.transpose(1, 2).reshape(b * t, c, *g.shape[-2:])
        flat = F.interpolate(
            flat, size=(IMG_SIZE, IMG_SIZE), mode="bilinear", antialias=True, align_corners=False
        )
        g = flat.reshape(b, t, c, IMG_SIZE, IMG_SIZE).transpose(1, 2)
    g = g[:, :, :, IMG_SIZE // 2 :]
    return torch.cat([g[:, :, t] for t in range(g.size(2))], dim=1)


def sync_loss(expert: SyncNet, mel: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """The expert's cosine BCE of generated faces against "in sync" (``wav2lip_train.py:get_sync_loss``)."""
    a, v = expert(mel, lower_half_window(g))
    return cosine_bce(a.float(), v.float(), torch.ones(len(mel)))


@torch.no_grad()
def evaluate(
    model: nn.Module,
    expert: SyncNet,
    data: tuple[torch.Tensor, ...],
    bf16: bool | None = None,
    batch: int = 16,
) -> dict:
    """Held-out L1 (pixels in [0, 1]) and expert sync loss of the generator on fixed val samples.

    Returns:
        ``{"l1", "sync", "sync_real"}``: ``sync_real`` is the expert's loss on the real frames of the
        same samples, the floor a perfect generator would reach with this expert.
    """
    bf16 = use_bf16(bf16)
    model.eval()
    x, indiv, mel, gt = data
    l1, sync, real = [], [], []
    for s in range(0, len(x), batch):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            g = model(indiv[s : s + batch], x[s : s + batch]).float()
            sync.append(sync_loss(expert, mel[s : s + batch], g).item())
            real.append(sync_loss(expert, mel[s : s + batch], gt[s : s + batch]).item())
        l1.append(F.l1_loss(g, gt[s : s + batch]).item())
    model.train()
    return {"l1": float(np.mean(l1)), "sync": float(np.mean(sync)), "sync_real": float(np.mean(real))}


def cosine_lr(lr: float, fraction: float) -> float:
    """The learning rate after ``fraction`` (0-1) of the budget: cosine from ``lr`` down to
    ``lr * LR_FLOOR`` (SGDR, Loshchilov & Hutter 2017, eq. 5, one cycle)."""
    fraction = min(max(fraction, 0.0), 1.0)
    return lr * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * fraction)))


def clip_ssim_loss(g: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """``1 - SSIM`` (:func:`~talkface.training.losses.ssim_loss`) of generated ``(B, 3, T, S, S)``
    face windows against the real ones, frame by frame."""
    flat = (t.transpose(1, 2).reshape(-1, t.shape[1], *t.shape[-2:]) for t in (g, gt))
    return ssim_loss(*flat)


def train_wav2lip(
    data_root: Path,
    out: Path,
    syncnet: Path,
    options: Wav2LipTraining,
    resume: bool = True,
    recipe: GeneratorRecipe = WAV2LIP,
    init: Path | None = None,
) -> dict:
    """Train (or resume) a Wav2Lip generator (or another ``recipe``'s), optionally with the
    visual-quality discriminator.

    Args:
        data_root: output of ``talkface train prepare``.
        out: folder for ``checkpoint_step*.pth`` (generator), ``disc_checkpoint_step*.pth``
            (with ``gan``), ``losses.json`` and ``losses.png``.
        syncnet: the expert SyncNet checkpoint (``talkface train syncnet``, or the published
            ``lipsync_expert.pth``), frozen.
        options: :class:`Wav2LipTraining`.
        resume: continue from the latest checkpoints in ``out``.
        recipe: the networks and loss weights (:data:`WAV2LIP`, or HyperLips' base).
        init: generator weights to start from (fine-tuning) when ``out`` has no checkpoint yet;
            the network must have the same width. Its discriminator, ``disc_`` + the same file
            name beside it, is loaded too when present.

    Returns:
        The last evaluation ``{"step", "l1", "sync", "sync_weight"}`` and ``"minutes"``, the wall
        minutes of training in this folder so far (earlier runs included).

    Raises:
        TalkfaceError: unprepared data, unreadable or mismatched checkpoints.
    """
    torch.manual_seed(options.seed)
    bf16 = use_bf16(options.bf16)
    rng = np.random.default_rng(options.seed)
    out.mkdir(parents=True, exist_ok=True)
    expert = load_expert(syncnet)
    size = recipe.img_size
    train, val = load_split(data_root, "train", size), load_split(data_root, "val", size)
    held_out = tuple(
        torch.from_numpy(a) for a in generator_batch(val, EVAL_SAMPLES, np.random.default_rng(99))
    )
    model = recipe.generator(options.width)
    betas = (0.5, 0.999) if options.gan else (0.9, 0.999)
    optimizer = torch.optim.Adam(model.parameters(), lr=options.lr, betas=betas)
    disc = recipe.discriminator(options.width) if options.gan else None
    disc_lr = options.lr * recipe.disc_lr_scale
    disc_optimizer = torch.optim.Adam(disc.parameters(), lr=disc_lr, betas=betas) if disc else None
    log = LossLog(out / "losses.json")
    step = 0
    last = resume and latest_checkpoint(out)
    if last:
        step = int(load_checkpoint(last, model, optimizer).get("global_step", 0))
        if disc is not None:
            last_disc = latest_checkpoint(out, "disc_checkpoint_step")
            if last_disc:
                load_checkpoint(last_disc, disc, disc_optimizer)
        log.load()
    elif init is not None:
        load_checkpoint(init, model)
        init_disc = init.with_name("disc_" + init.name)
        if disc is not None and init_disc.is_file():
            load_checkpoint(init_disc, disc)
    # The sync term switches on for good once the held-out sync loss has been below sync_start.
    switched = any(v < options.sync_start for _, v in log.curves.get("eval sync", []))
    sync_weight = recipe.sync_weight if switched else 0.0
    disc_weight = recipe.disc_weight if disc is not None else 0.0
    start = time.perf_counter()
    minutes_before = log.curves[WALL_MINUTES][-1][1] if log.curves.get(WALL_MINUTES) else 0.0

    def minutes_so_far() -> float:
        return minutes_before + (time.perf_counter() - start) / 60

    result = {"step": step, **evaluate(model, expert, held_out, bf16)}
    if sync_weight == 0 and result["sync"] < options.sync_start:  # the start counts as an evaluation
        sync_weight = recipe.sync_weight
    result["sync_weight"] = sync_weight
    title = f"{recipe.title} width {options.width:g}" + (" + GAN" if disc else "")
    bar = progress_bar(total=options.steps, initial=step, desc=recipe.title.lower())
    try:
        while step < options.steps:
            if options.decay and options.minutes:
                for group in optimizer.param_groups:
                    group["lr"] = cosine_lr(options.lr, minutes_so_far() / options.minutes)
            x, indiv, mel, gt = (torch.from_numpy(a) for a in generator_batch(train, options.batch, rng))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                g = model(indiv, x).float()
                sync = sync_loss(expert, mel, g) if sync_weight > 0 else torch.zeros(())
                adversarial = disc.perceptual_loss(g).float() if disc is not None else torch.zeros(())
            l1 = F.l1_loss(g, gt)
            recon = l1 + options.ssim_weight * clip_ssim_loss(g, gt) if options.ssim_weight else l1
            loss = sync_weight * sync + disc_weight * adversarial + (1 - sync_weight - disc_weight) * recon
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if disc is not None:
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    real, fake = disc(gt).float(), disc(g.detach()).float()
                d_loss = F.binary_cross_entropy(real, torch.ones_like(real)) + F.binary_cross_entropy(
                    fake, torch.zeros_like(fake)
                )
                disc_optimizer.zero_grad(set_to_none=True)
                d_loss.backward()
                disc_optimizer.step()
                log.add("train disc", step + 1, d_loss.item())
            step += 1
            log.add("train", step, l1.item())
            bar.update()
            elapsed = minutes_so_far() if options.decay else (time.perf_counter() - start) / 60
            timed_out = options.minutes is not None and elapsed > options.minutes
            if step % options.eval_every == 0 or step == options.steps or timed_out:
                result = {"step": step, **evaluate(model, expert, held_out, bf16)}
                if sync_weight == 0 and result["sync"] < options.sync_start:
                    sync_weight = recipe.sync_weight
                result["sync_weight"] = sync_weight
                log.add("eval l1", step, result["l1"])
                log.add("eval sync", step, result["sync"])
                log.add("eval sync (real frames)", step, result["sync_real"])
                log.add(WALL_MINUTES, step, minutes_so_far())
                log.add("lr", step, optimizer.param_groups[0]["lr"])
                bar.set_postfix(
                    l1=f"{l1.item():.4f}", eval_l1=f"{result['l1']:.4f}", sync=f"{result['sync']:.3f}"
                )
            if step % options.checkpoint_every == 0 or step == options.steps or timed_out:
                save_checkpoint(out / f"checkpoint_step{step:09d}.pth", model, optimizer, step)
                if disc is not None:
                    save_checkpoint(out / f"disc_checkpoint_step{step:09d}.pth", disc, disc_optimizer, step)
                log.save(title)
            if timed_out:
                break
    except (KeyboardInterrupt, Terminated):  # keep what was learned: the next run resumes from here
        save_checkpoint(out / f"checkpoint_step{step:09d}.pth", model, optimizer, step)
        log.add(WALL_MINUTES, step, minutes_so_far())
        if disc is not None:
            save_checkpoint(out / f"disc_checkpoint_step{step:09d}.pth", disc, disc_optimizer, step)
        log.save(title)
        raise
    finally:
        bar.close()
    log.save(title)
    result["minutes"] = minutes_so_far()
    return result
