"""What every training run shares: its options, where to resume, a tqdm bar with the losses, and a
loss log kept as JSON and plotted to PNG."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from talkface.media.atomic import atomic_path, write_text_atomic


@dataclass
class TrainingOptions:
    """Options common to ``talkface train syncnet`` and ``train wav2lip`` (each subclass below sets
    its own defaults; the command line takes its defaults from them, without importing torch).

    Attributes:
        width: channel width of the network (1.0 = published size).
        batch: samples per step.
        lr: Adam learning rate.
        steps: stop at this global step.
        minutes: also stop after this much wall time (a checkpoint is written), or ``None``.
        eval_every, checkpoint_every: steps between held-out evaluations / checkpoints.
        bf16: bf16 autocast on the CPU; ``None``: where the CPU has bf16 instructions
            (:func:`talkface.models.accelerate.use_bf16`; emulated bf16 is far slower than fp32).
        seed: random seed of sampling and initialisation.
    """

    width: float = 1.0
    batch: int = 16
    lr: float = 1e-4
    steps: int = 100_000
    minutes: float | None = None
    eval_every: int = 200
    checkpoint_every: int = 1000
    bf16: bool | None = None
    seed: int = 0


@dataclass
class SyncNetTraining(TrainingOptions):
    """Options of ``train_syncnet`` (defaults: ``color_syncnet_train.py``'s, except width).

    ``augment``: mirror and colour jitter (see ``talkface.training.data.sync_batch``); not in the
    published recipe. ``jitter``: shift the face windows by a few pixels and perturb the mel windows
    (gain, noise, band shift, band mask; see ``talkface.training.data.jitter_mel``); not in the
    published recipe.
    """

    width: float = 0.5
    batch: int = 64
    augment: bool = False
    jitter: bool = False


LR_FLOOR = 0.05  # with decay: the learning rate at the end of the budget, times the initial one
WALL_MINUTES = "wall minutes"  # LossLog curve: minutes of training so far, earlier runs included
SYNC_START = 0.75  # published: held-out sync loss below which the generator's sync term switches on


@dataclass
class Wav2LipTraining(TrainingOptions):
    """Options of ``train_wav2lip``.

    ``gan``: also train the visual-quality discriminator. ``sync_start``: held-out sync loss below
    which the expert's sync term switches on (published 0.75, which assumes an expert as strong as
    the published one; a weaker expert scores even real frames above it, so the term would never
    start: set it above the expert's loss on real frames, which training logs, or high to start at once).

    ``decay``: cosine learning-rate decay (Loshchilov & Hutter 2017, SGDR eq. 5, one cycle) from
    ``lr`` to ``lr * LR_FLOOR`` over the wall-time budget ``minutes``, which then counts the
    minutes of earlier runs of the same folder too (logged), so a resumed run goes on down the same
    curve; not in the published recipe (a fixed 1e-4 for days). ``ssim_weight``: weight of a
    structural term ``1 - SSIM`` (Wang et al. 2004) beside L1 in the reconstruction loss, ``L1 +
    ssim_weight * (1 - SSIM)`` (Zhao et al. 2017, "Loss functions for image restoration": sharper
    than L1 alone); not in the published recipe.
    """

    width: float = 0.25
    batch: int = 8
    eval_every: int = 100
    checkpoint_every: int = 500
    gan: bool = False
    sync_start: float = SYNC_START
    decay: bool = False
    ssim_weight: float = 0.0


@dataclass
class HyperLipsTraining(Wav2LipTraining):
    """Options of ``talkface train hyperlips-base``
    (:func:`talkface.training.hyperlips.train_hyperlips_base`).

    As the published ``Train_hyperlipsBase.py`` with ``hparams_Base.py``: the visual-quality
    discriminator always on (``gan``) and the sync term from the first step (``sync_start`` infinite;
    its weight is 0.03 in the published hparams, there before any evaluation).
    """

    width: float = 0.25
    gan: bool = True
    sync_start: float = float("inf")


@dataclass
class HRTraining(TrainingOptions):
    """Options of ``talkface train hyperlips-hr`` (:func:`talkface.training.hyperlips.train_hyperlips_hr`).

    ``rescaling``: the HR decoder's output is 128 x rescaling pixels (1, 2 or 4).
    """

    width: float = 0.5
    batch: int = 8
    eval_every: int = 100
    checkpoint_every: int = 500
    rescaling: int = 2


def latest_checkpoint(folder: Path, prefix: str = "checkpoint_step") -> Path | None:
    """The checkpoint with the highest step in ``folder`` (zero-padded names sort by step), or ``None``."""
    found = sorted(folder.glob(f"{prefix}*.pth"))
    return found[-1] if found else None


def progress_bar(total: int, initial: int = 0, desc: str = "") -> tqdm:
    """A step counter with losses as postfix; on a non-terminal it prints a line every 60 s at most."""
    tty = sys.stderr.isatty()
    return tqdm(total=total, initial=initial, desc=desc, unit="step", mininterval=0.5 if tty else 60)


UNPLOTTED = (WALL_MINUTES, "lr")  # curves the log keeps but does not plot as losses


class LossLog:
    """Named loss curves ``{name: [[step, value], ...]}``, saved to ``path`` (JSON) and plotted beside it.

    Args:
        path: the ``.json`` file; the plot goes to the same name with ``.png``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.curves: dict[str, list[list[float]]] = {}

    def add(self, name: str, step: int, value: float) -> None:
        self.curves.setdefault(name, []).append([step, float(value)])

    def load(self) -> None:
        """Read the curves saved by an earlier run (to resume), if any."""
        if self.path.is_file():
            self.curves = json.loads(self.path.read_text())

    def save(self, title: str = "") -> None:
        """Write the JSON and the PNG plot (atomically)."""
        write_text_atomic(self.path, json.dumps(self.curves))
        self.plot(self.path.with_suffix(".png"), title)

    def plot(self, png: Path, title: str = "") -> None:
        """Loss curves against step (training loss averaged over 50-step bins), accuracy on a right axis."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np

        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
        right = None
        for name, points in self.curves.items():
            if not points or name in UNPLOTTED:
                continue
            xy = np.array(points)
            if name == "train" and len(xy) > 100:  # smooth the noisy per-step loss
                n = len(xy) // 50 * 50
                xy = xy[:n].reshape(-1, 50, 2).mean(1)
            if "accuracy" in name:
                right = right or ax.twinx()
                style = ("g--", "m:", "c-.")[sum(1 for line in right.get_lines())]
                right.plot(xy[:, 0], xy[:, 1], style, label=name)
                right.set_ylabel("accuracy")
                right.set_ylim(0.3, 1.0)
            else:
                ax.plot(xy[:, 0], xy[:, 1], label=name)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(title)
        lines, labels = ax.get_legend_handles_labels()
        if right is not None:
            more = right.get_legend_handles_labels()
            lines, labels = lines + more[0], labels + more[1]
        ax.legend(lines, labels, loc="upper right")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        with atomic_path(png) as tmp:
            fig.savefig(tmp, format="png")
        plt.close(fig)
