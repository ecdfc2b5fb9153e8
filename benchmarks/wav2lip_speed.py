"""Wav2Lip generator throughput on this CPU: eager PyTorch fp32 vs onnxruntime vs bf16 autocast.

Random weights at the published width (speed does not depend on weight values); random inputs of
the published shapes; one warm-up batch, then the best of ``--repeat`` timed batches.

    .venv/bin/python benchmarks/wav2lip_speed.py [--width 1.0] [--batch 16] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from talkface.models import accelerate
from talkface.models.wav2lip import IMG_SIZE, Wav2Lip, Wav2LipConfig


def frames_per_second(generate, mel: np.ndarray, faces: np.ndarray, repeat: int) -> float:
    """Best-of-``repeat`` throughput of ``generate`` on one batch, after a warm-up call."""
    generate(mel, faces)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        generate(mel, faces)
        best = min(best, time.perf_counter() - t)
    return len(mel) / best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    torch.manual_seed(0)
    model = Wav2Lip(Wav2LipConfig(width=args.width)).eval()
    rng = np.random.default_rng(0)
    mel = rng.uniform(-4, 4, (args.batch, 1, 80, 16)).astype(np.float32)
    faces = rng.uniform(0, 1, (args.batch, 6, IMG_SIZE, IMG_SIZE)).astype(np.float32)
    params = sum(q.numel() for q in model.parameters())
    eager = frames_per_second(accelerate.eager(model), mel, faces, args.repeat)
    t = time.perf_counter()
    example = (torch.zeros(1, 1, 80, 16), torch.zeros(1, 6, IMG_SIZE, IMG_SIZE))
    onnx = accelerate.OnnxRunner(model, example, ("audio", "face"))
    export_s = time.perf_counter() - t
    fast = frames_per_second(onnx, mel, faces, args.repeat)
    reference = accelerate.eager(model)(mel, faces)
    diff = float(np.abs(onnx(mel, faces) - reference).max())
    bf16 = accelerate.bf16(
        model, channels_last=(1,)
    )  # converts the weights to channels-last in place (same values)
    fast_bf16 = frames_per_second(bf16, mel, faces, args.repeat)
    err = np.abs(bf16(mel, faces) - reference)
    threads = torch.get_num_threads()
    print(f"Wav2Lip width {args.width} ({params:,} parameters), batch {args.batch}, torch threads {threads}")
    print(f"{'path':24s} {'frames/s':>9s}")
    print(f"{'eager PyTorch fp32':24s} {eager:9.1f}")
    note = f"{fast / eager:.2f}x eager; export {export_s:.1f} s; max |diff| {diff:.1e}"
    print(f"{'onnxruntime fp32':24s} {fast:9.1f}   ({note})")
    note = f"{fast_bf16 / eager:.2f}x eager; |diff| mean {err.mean():.1e}, max {err.max():.1e}"
    print(f"{'bf16 autocast':24s} {fast_bf16:9.1f}   ({note})")


if __name__ == "__main__":
    main()
