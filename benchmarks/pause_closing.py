"""How long a silence must be before the learned motion closes the mouth (PAUSE_SECONDS).

Every training clip is driven by the cross-validation model of the fold that held its speaker
out (``talkface train motion --fold-models DIR``), on the clip's cached features; its drive goes
through :func:`talkface.motion.learned.pause_drive` with each candidate pause length and the warp
engine's aperture mapping (``TYPICAL_APERTURE``, clipped at 0), and is compared with the real
inner-lip aperture (Pearson r, mean over clips). It also prints the real mouths' mean aperture in
speech, in short gaps and in pauses. No rendering: the engine's output follows the drive at
r 0.87-0.99 in photo mode.

    .venv/bin/python benchmarks/pause_closing.py --cache CACHE --fold-models DIR [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from talkface.engines.warp import MAX_APERTURE, TYPICAL_APERTURE
from talkface.media.audio import load_audio
from talkface.motion import long_runs, smooth_curve, zscore
from talkface.motion.learned import PAUSE_SECONDS, LearnedMotion, aperture_width, pause_drive
from talkface.speech.vad import speech_mask
from talkface.training.motion import pearson_r
from talkface.training.motion_clips import clip_paths, load_clips

REPO = Path(__file__).resolve().parents[1]
CANDIDATES = (0.0, 0.3, 0.48, PAUSE_SECONDS, 0.8, 1.2, float("inf"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--cache", type=Path, required=True, help="the feature cache of `talkface train motion`")
    p.add_argument("--fold-models", type=Path, required=True, help="fold<k>.npz + folds.json")
    args = p.parse_args()
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    folds = json.loads((args.fold_models / "folds.json").read_text())
    models = {k: LearnedMotion.load(args.fold_models / f"fold{k}.npz") for k in set(folds.values())}
    clips = [c for c in load_clips(args.data, args.cache, log=lambda _: None) if c.name in folds]
    paths = {path.stem: path for path in clip_paths(args.data)}
    scores: dict[float, list[float]] = {s: [] for s in CANDIDATES}
    real = {"speech": [], "gaps": [], "pauses": []}
    for clip in clips:
        model = models[folds[clip.name]]
        ap, wd = aperture_width(model.displacement(model.coefficients(clip.features(model.config))))
        speech = speech_mask(load_audio(paths[clip.name]), len(ap), clip.fps)
        for seconds in CANDIDATES:
            opening, _ = pause_drive(zscore(ap, speech), zscore(wd, speech), speech, clip.fps, seconds)
            opening = smooth_curve(opening, model.config.output_sigma)
            mean, std = TYPICAL_APERTURE
            scores[seconds].append(pearson_r(np.clip(mean + std * opening, 0, MAX_APERTURE), clip.aperture))
        pauses = long_runs(~speech, int(np.ceil(PAUSE_SECONDS * clip.fps)))
        for name, where in (("speech", speech), ("gaps", ~speech & ~pauses), ("pauses", pauses)):
            if where.sum() >= 3:
                real[name].append(np.nanmean(clip.aperture[where]))
    print(f"{len(clips)} clips, each driven by a model that never saw its speaker")
    print(f"{'close silences of at least':>28s}  aperture r")
    for seconds, r in scores.items():
        label = "never" if seconds == float("inf") else f"{seconds:.2f} s"
        mark = "  (PAUSE_SECONDS)" if seconds == PAUSE_SECONDS else ""
        print(f"{label:>28s}  {np.nanmean(r):10.3f}{mark}")
    print(f"real mean aperture (IOD), shorter gaps and pauses split at {PAUSE_SECONDS} s:")
    for name, values in real.items():
        print(f"  {name:7s} {np.mean(values):.3f} over {len(values)} clips")


if __name__ == "__main__":
    main()
