"""``talkface train syncnet``: the expert lip-sync discriminator, as ``color_syncnet_train.py`` trains it.

Balanced batches of in-sync and off-sync (5-frame lower-face window, 16-column mel window) pairs,
cosine-similarity BCE (:func:`~talkface.models.syncnet.cosine_bce`), Adam. Runs on the CPU, under
bf16 autocast where the CPU has bf16 instructions (:func:`~talkface.models.accelerate.use_bf16`);
checkpoints are the published format (``checkpoint_step{:09d}.pth``).

Held-out evaluation: a fixed, balanced set of windows from the ``val.txt`` clips, negatives shifted
by at least :data:`EVAL_MIN_SHIFT` frames; accuracy is ``(cos > 0.5) == in_sync``, and pair
accuracy the fraction of face windows whose own speech scores higher than the shifted speech.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from talkface.models.accelerate import use_bf16
from talkface.models.checkpoint import load_checkpoint, save_checkpoint
from talkface.models.syncnet import SYNC_FRAMES, SyncNet, SyncNetConfig, cosine_bce, lower_halves
from talkface.training.data import Clip, load_split, sync_batch
from talkface.training.progress import LossLog, SyncNetTraining, latest_checkpoint, progress_bar

EVAL_MIN_SHIFT = 5  # frames: off-sync pairs in evaluation are shifted at least this much
EVAL_PAIRS = 1024  # pairs in the held-out set (half in sync)


def eval_set(clips: list[Clip], pairs: int = EVAL_PAIRS // 2, seed: int = 1234) -> tuple[torch.Tensor, ...]:
    """The fixed held-out set: for each of ``pairs`` face windows, one in-sync and one off-sync mel
    window (shifted >= :data:`EVAL_MIN_SHIFT` frames), interleaved.

    Returns:
        ``(mel (2P,1,80,16), face (2P,15,48,96), y (2P,))`` tensors; rows ``2i`` (y = 1) and
        ``2i + 1`` (y = 0) share their face window.
    """
    rng = np.random.default_rng(seed)
    mels, faces, ys = [], [], []
    while len(ys) < 2 * pairs:
        clip = clips[int(rng.integers(len(clips)))]
        starts = clip.starts
        k = int(starts[rng.integers(len(starts))])
        frame = int(clip.index[k])
        far = starts[np.abs(clip.index[starts] - frame) >= EVAL_MIN_SHIFT]
        if len(far) == 0:
            continue
        shifted = int(clip.index[int(far[rng.integers(len(far))])])
        window = lower_halves(clip.frames[k : k + SYNC_FRAMES])
        mels += [clip.mel_window(frame), clip.mel_window(shifted)]
        faces += [window, window]
        ys += [1.0, 0.0]
    return (
        torch.from_numpy(np.stack(mels)[:, None]),
        torch.from_numpy(np.stack(faces)),
        torch.tensor(ys, dtype=torch.float32),
    )


@torch.no_grad()
def evaluate(
    model: SyncNet, data: tuple[torch.Tensor, ...], bf16: bool | None = None, batch: int = 128
) -> dict:
    """Held-out BCE loss and accuracy of ``model`` on :func:`eval_set` data.

    Returns:
        ``{"loss", "accuracy", "pair_accuracy", "positives", "negatives"}``: BCE; the balanced
        accuracy of ``cos > 0.5``; the fraction of face windows whose in-sync mel scores higher
        than their shifted one (threshold-free); mean cos of in-sync and of off-sync pairs.
    """
    bf16 = use_bf16(bf16)
    model.eval()
    mel, face, y = data
    sims = []
    for s in range(0, len(y), batch):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            a, f = model(mel[s : s + batch], face[s : s + batch])
        sims.append(torch.nn.functional.cosine_similarity(a.float(), f.float()))
    model.train()
    sim = torch.cat(sims).clamp(1e-7, 1 - 1e-7)
    loss = torch.nn.functional.binary_cross_entropy(sim, y).item()
    return {
        "loss": loss,
        "accuracy": ((sim > 0.5).float() == y).float().mean().item(),
        "pair_accuracy": (sim[0::2] > sim[1::2]).float().mean().item(),
        "positives": sim[y == 1].mean().item(),
        "negatives": sim[y == 0].mean().item(),
    }


def train_syncnet(data_root: Path, out: Path, options: SyncNetTraining, resume: bool = True) -> dict:
    """Train (or resume training) a SyncNet on a prepared folder; write checkpoints, log and plot to ``out``.

    Args:
        data_root: output of ``talkface train prepare`` (``train.txt``, ``val.txt``, clip folders).
        out: folder for ``checkpoint_step*.pth``, ``losses.json`` and ``losses.png``.
        options: :class:`SyncNetTraining`.
        resume: continue from the latest checkpoint in ``out`` (model, optimizer, step, loss log).

    Returns:
        The last evaluation (``{"step", "loss", "accuracy", ...}``).

    Raises:
        TalkfaceError: unprepared data folder, or a checkpoint that does not fit ``options.width``.
    """
    torch.manual_seed(options.seed)
    bf16 = use_bf16(options.bf16)
    rng = np.random.default_rng(options.seed)
    out.mkdir(parents=True, exist_ok=True)
    train, val = load_split(data_root, "train"), load_split(data_root, "val")
    held_out = eval_set(val)
    model = SyncNet(SyncNetConfig(width=options.width))
    optimizer = torch.optim.Adam(model.parameters(), lr=options.lr)
    log = LossLog(out / "losses.json")
    step = 0
    last = resume and latest_checkpoint(out)
    if last:
        step = int(load_checkpoint(last, model, optimizer).get("global_step", 0))
        log.load()
    start = time.perf_counter()
    result = {"step": step, **evaluate(model, held_out, bf16)}
    bar = progress_bar(total=options.steps, initial=step, desc="syncnet")
    try:
        while step < options.steps:
            mel, face, y = (
                torch.from_numpy(a)
                for a in sync_batch(train, options.batch, rng, augment=options.augment, jitter=options.jitter)
            )
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                a, f = model(mel, face)
            loss = cosine_bce(a.float(), f.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            log.add("train", step, loss.item())
            bar.update()
            timed_out = options.minutes is not None and time.perf_counter() - start > 60 * options.minutes
            if step % options.eval_every == 0 or step == options.steps or timed_out:
                result = {"step": step, **evaluate(model, held_out, bf16)}
                log.add("eval", step, result["loss"])
                log.add("eval accuracy", step, result["accuracy"])
                log.add("eval pair accuracy", step, result["pair_accuracy"])
                bar.set_postfix(
                    train=f"{loss.item():.3f}", eval=f"{result['loss']:.3f}", acc=f"{result['accuracy']:.3f}"
                )
            if step % options.checkpoint_every == 0 or step == options.steps or timed_out:
                save_checkpoint(out / f"checkpoint_step{step:09d}.pth", model, optimizer, step)
                log.save(title=f"SyncNet width {options.width:g}")
            if timed_out:
                break
    finally:
        bar.close()
    log.save(title=f"SyncNet width {options.width:g}")
    return result
