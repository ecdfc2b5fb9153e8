"""``talkface train hyperlips-base`` and ``train hyperlips-hr``: HyperLips' two stages, as
``Train_hyperlipsBase.py`` and ``Train_hyperlipsHR.py`` train them.

**Base** (:func:`train_hyperlips_base`): the Wav2Lip loop (:func:`~talkface.training.wav2lip.train_wav2lip`)
with HyperLips' networks at 128 px and its ``hparams_Base.py``: loss = ``0.03 sync + 0.2 adversarial +
0.77 L1`` from the first step, generator Adam 1e-4 and discriminator 5e-4 (betas 0.5/0.999). The
sync term is our expert SyncNet's (96 px: the generated faces are resized for it); the published
one is a SyncNet trained at 128 px.

**HR** (:func:`train_hyperlips_hr`): the frozen base network renders each training frame (masked
frame + another frame of the clip as reference + mel window, as at inference); the mesh of that
generated face is drawn as its sketch (:func:`~talkface.face.sketch.face_sketch`); the HR decoder
maps the two to the real frame at 128 x ``rescaling`` px. Loss, as published: relativistic
adversarial (``BCEWithLogits(D(real) - mean D(fake))`` both ways, on the discriminator's sigmoid
outputs as the published code has it) + perceptual + L1 + the lip loss (L1 and LPIPS inside the lip
mask's box). The published perceptual term (VGG-19 features) and LPIPS need ImageNet weights that
cannot be downloaded here; both are replaced by a structural term, ``1 - SSIM`` (Wang et al. 2004,
11-pixel Gaussian window), on the whole face and on the lip box.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from talkface.face.sketch import face_sketch, lip_box
from talkface.models.accelerate import use_bf16
from talkface.models.checkpoint import load_checkpoint, save_checkpoint
from talkface.models.hyperlips import (
    BASE_SIZE,
    HRDecoder,
    HRDecoder_disc_qual,
    HyperCtrolDiscriminator,
    HyperLipsBase,
    HyperLipsConfig,
    base_config,
)
from talkface.speech.mel import MEL_STEP_SIZE
from talkface.training.data import Clip, clip_landmarks, load_split
from talkface.training.losses import ssim_loss
from talkface.training.progress import HRTraining, HyperLipsTraining, LossLog, latest_checkpoint, progress_bar
from talkface.training.wav2lip import GeneratorRecipe, train_wav2lip

SYNC_WEIGHT = 0.03  # hparams_Base.py syncnet_wt
DISC_WEIGHT = 0.2  # hparams_Base.py disc_wt
DISC_LR_SCALE = 5.0  # disc_initial_learning_rate 5e-4 / initial_learning_rate 1e-4
EVAL_SAMPLES = 32

HYPERLIPS_BASE = GeneratorRecipe(
    "HyperLips",
    BASE_SIZE,
    lambda width: HyperLipsBase(HyperLipsConfig(width=width)),
    lambda width: HyperCtrolDiscriminator(HyperLipsConfig(width=width)),
    sync_weight=SYNC_WEIGHT,
    disc_weight=DISC_WEIGHT,
    disc_lr_scale=DISC_LR_SCALE,
)


def train_hyperlips_base(
    data_root: Path,
    out: Path,
    syncnet: Path,
    options: HyperLipsTraining,
    resume: bool = True,
    init: Path | None = None,
) -> dict:
    """Train (or resume) HyperLips' base network; see the module docstring.

    Args and returns as :func:`~talkface.training.wav2lip.train_wav2lip` (``init``: weights to
    fine-tune from, e.g. a generic model for a person's avatar; checkpoints
    ``OUT/checkpoint_step*.pth`` of a :class:`~talkface.models.hyperlips.HyperLipsBase` and
    ``OUT/disc_checkpoint_step*.pth`` of its discriminator, in the published format).

    Raises:
        TalkfaceError: unprepared data, unreadable or mismatched checkpoints.
    """
    return train_wav2lip(data_root, out, syncnet, options, resume, recipe=HYPERLIPS_BASE, init=init)


class HRSampler:
    """Training samples of the HR decoder from prepared clips loaded at 128 x ``rescaling`` px.

    Args:
        clips: the clips (crops at the HR size).
        landmarks: per clip, ``(n, 478, 2)`` landmarks of each crop in [0, 1] crop units (NaN: none).
        base: the frozen base network.
        mesh: landmarks of a generated face (:class:`~talkface.face.track.CropMesh`).
    """

    def __init__(self, clips: list[Clip], landmarks: list[np.ndarray], base: HyperLipsBase, mesh) -> None:
        self.clips, self.landmarks, self.base, self.mesh = clips, landmarks, base, mesh

    def batch(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, list]:
        """``(x (n, 6, 128, 128), gt (n, 3, S, S), lip boxes)``: ``x`` the base face and its sketch,
        ``gt`` the real crop, BGR float32 in [0, 1]; a lip box ``(x0, y0, x1, y1)`` in ``gt``'s pixels
        or ``None`` where the crop has no landmarks."""
        import cv2

        faces, mels, gts, boxes = [], [], [], []
        while len(faces) < n:
            c = int(rng.integers(len(self.clips)))
            clip = self.clips[c]
            k = int(rng.integers(len(clip.frames)))
            first = int(clip.index[k])
            if first < 1 or clip.mel_window(first - 1).shape[1] < MEL_STEP_SIZE:
                continue
            ref = int(rng.integers(len(clip.frames)))
            size = clip.frames.shape[1]
            small = [
                cv2.resize(clip.frames[i], (BASE_SIZE, BASE_SIZE), interpolation=cv2.INTER_AREA)
                for i in (k, ref)
            ]
            target, reference = (im.astype(np.float32) / 255.0 for im in small)
            masked = target.copy()
            masked[BASE_SIZE // 2 :] = 0
            faces.append(np.concatenate([masked, reference], axis=2).transpose(2, 0, 1))
            mels.append(clip.mel_window(first - 1)[None])
            gts.append(clip.frames[k].astype(np.float32).transpose(2, 0, 1) / 255.0)
            lm = self.landmarks[c][k]
            boxes.append(lip_box(lm * size, size) if np.isfinite(lm).all() else None)
        with torch.no_grad():
            base_out = self.base(torch.from_numpy(np.stack(mels)), torch.from_numpy(np.stack(faces))).numpy()
        sketches = []
        for face in base_out:  # an empty sketch where the mesh finds no face in the generated one
            sketches.append(face_sketch(self.mesh, face.transpose(1, 2, 0)).transpose(2, 0, 1))
        x = np.concatenate([base_out, np.stack(sketches)], axis=1).astype(np.float32)
        return torch.from_numpy(x), torch.from_numpy(np.stack(gts)), boxes


def relativistic_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Relativistic average GAN loss (Jolicoeur-Martineau 2018, as ESRGAN and the published HR
    trainer use it) for the side that wants ``a`` judged more real than ``b``:
    ``(BCEWithLogits(a - mean b, 1) + BCEWithLogits(b - mean a, 0)) / 2``. The discriminator
    minimises it for ``(real, fake)``, the generator for ``(fake, real)``; ``a``, ``b``: ``(B, 1)``."""
    return (
        F.binary_cross_entropy_with_logits(a - b.mean(), torch.ones_like(a))
        + F.binary_cross_entropy_with_logits(b - a.mean(), torch.zeros_like(b))
    ) / 2


def _hr_losses(
    g: torch.Tensor, gt: torch.Tensor, boxes: list, disc: HRDecoder_disc_qual
) -> dict[str, torch.Tensor]:
    """The HR generator's loss terms (see the module docstring)."""
    adversarial = relativistic_loss(disc(g), disc(gt))
    lip_l1, lip_ssim, m = g.new_zeros(()), g.new_zeros(()), 0
    for i, box in enumerate(boxes):
        if box is None:
            continue
        x0, y0, x1, y1 = box
        a, b = g[i : i + 1, :, y0:y1, x0:x1], gt[i : i + 1, :, y0:y1, x0:x1]
        lip_l1 = lip_l1 + F.l1_loss(a, b)
        lip_ssim = lip_ssim + ssim_loss(a, b, window=min(11, 2 * (min(a.shape[-2:]) // 2) - 1))
        m += 1
    m = max(m, 1)
    return {
        "adversarial": adversarial,
        "perceptual": ssim_loss(g, gt),
        "l1": F.l1_loss(g, gt),
        "lip l1": lip_l1 / m,
        "lip ssim": lip_ssim / m,
    }


def train_hyperlips_hr(
    data_root: Path, out: Path, base_checkpoint: Path, options: HRTraining, resume: bool = True
) -> dict:
    """Train (or resume) HyperLips' HR decoder on the outputs of a trained base network.

    Args:
        data_root: output of ``talkface train prepare``.
        out: folder for ``checkpoint_step*.pth`` (:class:`~talkface.models.hyperlips.HRDecoder`),
            ``disc_checkpoint_step*.pth`` (:class:`~talkface.models.hyperlips.HRDecoder_disc_qual`),
            ``losses.json`` and ``losses.png``.
        base_checkpoint: the base network (``train hyperlips-base``, or a published one), frozen.
        options: :class:`~talkface.training.progress.HRTraining`.
        resume: continue from the latest checkpoints in ``out``.

    Returns:
        The last evaluation ``{"step", "l1", "ssim", "base_l1"}``: held-out L1 and SSIM of the HR
        face against the real one, and the L1 of the base face upsampled (what the HR stage improves on).

    Raises:
        TalkfaceError: unprepared data, unreadable or mismatched checkpoints.
    """
    from talkface.face.track import CropMesh

    torch.manual_seed(options.seed)
    bf16 = use_bf16(options.bf16)
    rng = np.random.default_rng(options.seed)
    out.mkdir(parents=True, exist_ok=True)
    base = HyperLipsBase(base_config(base_checkpoint))
    load_checkpoint(base_checkpoint, base)
    base.eval()
    size = BASE_SIZE * options.rescaling
    mesh = CropMesh()
    try:
        samplers = {}
        for split in ("train", "val"):
            clips = load_split(data_root, split, size)
            samplers[split] = HRSampler(
                clips, [clip_landmarks(data_root / c.name, mesh) for c in clips], base, mesh
            )
        held_out = samplers["val"].batch(EVAL_SAMPLES, np.random.default_rng(99))
        config = HyperLipsConfig(width=options.width, rescaling=options.rescaling)
        model, disc = HRDecoder(options.rescaling, config), HRDecoder_disc_qual(config)
        optimizer = torch.optim.Adam(model.parameters(), lr=options.lr, betas=(0.5, 0.999))
        disc_optimizer = torch.optim.Adam(
            disc.parameters(), lr=options.lr * DISC_LR_SCALE, betas=(0.5, 0.999)
        )
        log = LossLog(out / "losses.json")
        step = 0
        last = resume and latest_checkpoint(out)
        if last:
            step = int(load_checkpoint(last, model, optimizer).get("global_step", 0))
            last_disc = latest_checkpoint(out, "disc_checkpoint_step")
            if last_disc:
                load_checkpoint(last_disc, disc, disc_optimizer)
            log.load()
        start = time.perf_counter()
        result = {"step": step, **_evaluate_hr(model, held_out)}
        title = f"HyperLips HR x{options.rescaling} width {options.width:g}"
        bar = progress_bar(total=options.steps, initial=step, desc="hyperlips-hr")
        try:
            while step < options.steps:
                x, gt, boxes = samplers["train"].batch(options.batch, rng)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    g = model(x).float()
                terms = _hr_losses(g, gt, boxes, disc)
                loss = sum(terms.values())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                d_loss = relativistic_loss(disc(gt), disc(g.detach()))
                disc_optimizer.zero_grad(set_to_none=True)
                d_loss.backward()
                disc_optimizer.step()
                step += 1
                log.add("train l1", step, terms["l1"].item())
                log.add("train disc", step, d_loss.item())
                bar.update()
                timed_out = options.minutes is not None and time.perf_counter() - start > 60 * options.minutes
                if step % options.eval_every == 0 or step == options.steps or timed_out:
                    result = {"step": step, **_evaluate_hr(model, held_out)}
                    for key in ("l1", "ssim", "base_l1"):
                        log.add(f"eval {key}", step, result[key])
                    bar.set_postfix(eval_l1=f"{result['l1']:.4f}", ssim=f"{result['ssim']:.3f}")
                if step % options.checkpoint_every == 0 or step == options.steps or timed_out:
                    save_checkpoint(out / f"checkpoint_step{step:09d}.pth", model, optimizer, step)
                    save_checkpoint(out / f"disc_checkpoint_step{step:09d}.pth", disc, disc_optimizer, step)
                    log.save(title)
                if timed_out:
                    break
        finally:
            bar.close()
        log.save(title)
    finally:
        mesh.close()
    return result


@torch.no_grad()
def _evaluate_hr(model: HRDecoder, held_out: tuple) -> dict:
    """Held-out L1 and SSIM of the HR face, and the L1 of the base face upsampled to its size."""
    x, gt, _ = held_out
    model.eval()
    g = model(x)
    model.train()
    upsampled = F.interpolate(x[:, :3], size=gt.shape[-2:], mode="bilinear", align_corners=False)
    return {
        "l1": F.l1_loss(g, gt).item(),
        "ssim": 1 - ssim_loss(g, gt).item(),
        "base_l1": F.l1_loss(upsampled, gt).item(),
    }
