"""Does an expert SyncNet find a known audio-video offset on clips it never saw?

Each clip's speech is shifted by whole frames (``--shifts``, default -10 -5 0 5 10; positive: the
speech runs ahead) and scored with ``talkface eval``'s LSE procedure (offsets -15..+15). A shift
is found when the detected offset moves from the unshifted one by the shift, within one frame.
Prints per clip the detected offsets and LSE-C, and the fraction of shifts found.

    .venv/bin/python benchmarks/syncnet_offsets.py CLIPS_DIR --names val.txt [--checkpoint CKPT ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from talkface.evaluation.sync import EVAL_FPS, SAMPLES_PER_FRAME, ExpertEvaluator, score_sync
from talkface.face.quiet import native_stderr_silenced
from talkface.face.track import FaceTracker
from talkface.media.audio import load_audio
from talkface.media.video import VIDEO_SUFFIXES, FaceMedia


def clip_crops(path: Path, evaluators: list[ExpertEvaluator]) -> list[np.ndarray]:
    """Each evaluator's face crops of every 25 fps frame (faceless frames hold the last face)."""
    crops: list[list[np.ndarray]] = [[] for _ in evaluators]
    last = None
    with native_stderr_silenced():
        tracker = FaceTracker()
        try:
            for _, rgb in FaceMedia(path).frames_at(EVAL_FPS):
                lm = tracker(rgb).landmarks
                last = lm if lm is not None else last
                if last is None:
                    continue
                for out, ev in zip(crops, evaluators, strict=True):
                    out.append(ev.face_crop(rgb, last))
        finally:
            tracker.close()
    return [np.stack(c) for c in crops]


def shifted(samples: np.ndarray, frames: int) -> np.ndarray:
    """Speech moved by ``frames`` video frames: positive drops its start (it runs ahead)."""
    n = frames * SAMPLES_PER_FRAME
    return samples[n:] if n >= 0 else np.concatenate([np.zeros(-n, np.float32), samples])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", type=Path, help="folder of real clips")
    p.add_argument("--names", type=Path, help="file listing clip names (stems) to use, e.g. a val.txt")
    p.add_argument("--checkpoint", type=Path, nargs="*", default=[], help="SyncNet checkpoints")
    p.add_argument("--shifts", type=int, nargs="+", default=[-10, -5, 0, 5, 10])
    args = p.parse_args()
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    files = sorted(f for f in args.clips.iterdir() if f.suffix.lower() in VIDEO_SUFFIXES)
    if args.names:
        wanted = set(args.names.read_text().split())
        files = [f for f in files if f.stem in wanted]
    evaluators = [ExpertEvaluator(c) for c in args.checkpoint] or [ExpertEvaluator()]
    found = np.zeros(len(evaluators))
    total = 0
    for f in files:
        crops = clip_crops(f, evaluators)
        samples = load_audio(f)
        cells = []
        for k, (ev, c) in enumerate(zip(evaluators, crops, strict=True)):
            scores = {s: score_sync(ev, c, shifted(samples, s)) for s in args.shifts}
            base = scores[0].offset if 0 in scores else 0
            hits = [abs(scores[s].offset - base - s) <= 1 for s in args.shifts if s != 0]
            found[k] += sum(hits)
            offsets = " ".join(f"{scores[s].offset:+3d}" for s in args.shifts)
            cells.append(f"offsets {offsets} (C {scores[0].lse_c:.3f}) {sum(hits)}/{len(hits)}")
        total += sum(s != 0 for s in args.shifts)
        print(f"{f.name[:36]:36s} " + " | ".join(cells), flush=True)
    print(f"shifts {args.shifts}: offset found within 1 frame")
    for ev, n in zip(evaluators, found, strict=True):
        print(f"  {ev.name}: {int(n)}/{total} = {n / max(total, 1):.2f}")


if __name__ == "__main__":
    main()
