"""Held-out accuracy of SyncNet checkpoints on a prepared folder's ``val.txt`` clips.

A fixed set of face windows from the held-out clips, each scored against its own speech and
against speech shifted by >= 5 frames (``talkface.training.syncnet.eval_set``). Prints the BCE
loss, the balanced accuracy of ``cos > 0.5`` and the pair accuracy (own speech scores higher).

    .venv/bin/python benchmarks/syncnet_heldout.py PREPARED_DIR CHECKPOINT [CHECKPOINT ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from talkface.models.checkpoint import load_checkpoint
from talkface.models.syncnet import SyncNet, expert_config
from talkface.training.data import load_split
from talkface.training.syncnet import EVAL_PAIRS, eval_set, evaluate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path, help="folder written by `talkface train prepare`")
    p.add_argument("checkpoints", type=Path, nargs="+")
    p.add_argument("--pairs", type=int, default=EVAL_PAIRS // 2, help="face windows (two pairs each)")
    p.add_argument(
        "--per-clip", action="store_true", help="also pair accuracy per held-out clip (last checkpoint)"
    )
    args = p.parse_args()
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    val = load_split(args.data, "val")
    data = eval_set(val, args.pairs)
    print(
        f"held-out clips: {', '.join(c.name for c in val)}; {args.pairs} windows x (in sync, >= 5 frames off)"
    )
    print(
        f"{'checkpoint':44s} {'step':>6s} {'loss':>6s} {'acc':>6s} {'pair acc':>9s} {'cos+':>6s} {'cos-':>6s}"
    )
    for ckpt in args.checkpoints:
        model = SyncNet(expert_config(ckpt))
        step = load_checkpoint(ckpt, model).get("global_step", 0)
        torch.manual_seed(0)
        r = evaluate(model, data)
        print(
            f"{ckpt.name:44s} {step:6d} {r['loss']:6.3f} {r['accuracy']:6.3f} {r['pair_accuracy']:9.3f} "
            f"{r['positives']:6.3f} {r['negatives']:6.3f}"
        )
    if args.per_clip:
        print(f"per clip ({args.checkpoints[-1].name}, 128 windows each): pair accuracy")
        for clip in val:
            r = evaluate(model, eval_set([clip], 128))
            print(f"  {clip.name:40s} {r['pair_accuracy']:.3f}")


if __name__ == "__main__":
    main()
