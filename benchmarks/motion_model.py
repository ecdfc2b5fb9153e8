"""The learned motion model: what each ingredient adds, and what inference costs per frame.

1. **Ingredients.** Leave-speakers-out cross-validation (the folds of ``talkface train motion``)
   of models on other inputs (:data:`talkface.training.motion.INGREDIENTS`: mel, recognised and
   aligned phones, Whisper's final output and its block 3, and mixes), with the mean aperture r
   by language group; then the shipped recipe without the per-speaker standardisation of the
   motion targets, and with augmented copies of the training clips (speech played 8 % slower
   and faster, with the targets stretched to match; white noise at 10 and 20 dB SNR) and the
   ridge penalty scaled to the data.
2. **Inference cost.** Wall time of :meth:`LearnedMotion.motion` and of the heuristic motion on
   the first N seconds of a shared speech file, per 25 fps frame, best of ``--repeat``, and of
   the Whisper features inside it (in process).

    .venv/bin/python benchmarks/motion_model.py --cache CACHE [--data ../shared/data] [--skip-cv]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from talkface.media.audio import load_audio
from talkface.motion.heuristic import heuristic_motion
from talkface.motion.learned import CONFIG, LearnedMotion
from talkface.speech.whisper import shared_encoder
from talkface.training import motion as tm
from talkface.training.motion_report import ingredients_table

REPO = Path(__file__).resolve().parents[1]
SPEECH = "audio/en_musetalk_eng.wav"


def cv_score(clips, alpha=CONFIG.ridge_alpha, copies=None) -> tuple[float, float]:
    """Mean held-out aperture and width r over clips (``talkface train motion``'s 5 folds)."""
    rows = tm.cross_validate(clips, 5, alpha, copies)["clips"]
    return (
        float(np.nanmean([r["aperture_r"] for r in rows])),
        float(np.nanmean([r["width_r"] for r in rows])),
    )


def ingredients(data: Path, cache: Path) -> None:
    clips = tm.load_clips(data, cache, log=lambda _: None)
    paths = {p.stem: p for p in tm.clip_paths(data)}
    rows = tm.ingredients(clips, 5, log=lambda _: None)
    print(ingredients_table(rows))

    def raw_targets(c):  # displacement in IOD units, not divided by the clip's RMS motion
        pts = c.canonical.reshape(len(c.canonical), -1)
        return dataclasses.replace(c, motion=(pts - np.nanmean(pts, 0)).astype(np.float32))

    copies = {c.name: tm.augmented(c, load_audio(paths[c.name]), seed=i) for i, c in enumerate(clips)}
    extra = [
        ("shipped, raw targets", cv_score([raw_targets(c) for c in clips])),
        ("shipped + augmentation (alpha x5)", cv_score(clips, 5 * CONFIG.ridge_alpha, copies)),
    ]
    print(f"\n{'variant':42s} {'aperture r':>10s} {'width r':>8s}")
    for name, (a, w) in extra:
        print(f"{name:42s} {a:10.3f} {w:8.3f}")
    print(f"({len(clips)} clips, 5 leave-speakers-out folds)")


def inference(data: Path, seconds: float, repeat: int) -> None:
    samples = load_audio(data / SPEECH)[: int(seconds * 16000)]
    n = int(len(samples) / 16000 * 25)
    model = LearnedMotion.load()
    layer = model.config.whisper_layer
    model.motion(samples[:16000], 25, 25.0)  # load the VAD once
    shared_encoder()
    timings = {}
    for name, fn in (
        ("heuristic motion", lambda: heuristic_motion(samples, n, 25.0)),
        ("learned motion", lambda: model.motion(samples, n, 25.0)),
        ("  of which Whisper features", lambda: shared_encoder().encoder_features(samples, layer)),
    ):
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        timings[name] = best
        print(f"{name:30s} {1000 * best / n:6.2f} ms/frame")
    extra = timings["learned motion"] - timings["heuristic motion"]
    print(
        f"learned adds {1000 * extra / n:.2f} ms/frame over the heuristic "
        f"({n} frames, {seconds:g} s of speech)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--cache", type=Path, default=None, help="talkface train motion --cache folder")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip-cv", action="store_true", help="only the inference timing")
    p.add_argument("--skip-timing", action="store_true", help="only the ingredients")
    args = p.parse_args()
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    if not args.skip_timing:
        inference(args.data, args.seconds, args.repeat)
    if not args.skip_cv:
        ingredients(args.data, args.cache)


if __name__ == "__main__":
    main()
