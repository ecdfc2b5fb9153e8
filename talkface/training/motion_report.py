"""Reports of ``talkface train motion``: the cross-validation table and the model card."""

from __future__ import annotations

import numpy as np

from talkface.face.landmarks import (
    CHIN,
    LOWER_INNER,
    LOWER_OUTER,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    UPPER_INNER,
    UPPER_OUTER,
)
from talkface.motion.learned import CONFIG, MOTION_POINTS, LearnedMotion, aperture_width
from talkface.training.motion_clips import MotionClip

METRICS = (
    "aperture_r",
    "width_r",
    "lmd",
    "heuristic_aperture_r",
    "heuristic_width_r",
    "loudness_aperture_r",
    "still_lmd",
)


def report_table(cv: dict) -> str:
    """Markdown table of the cross-validation, one row per fold and the mean over clips."""
    head = (
        "| fold | clips | aperture r | width r | LMD | heuristic ap r | heuristic wd r | loudness ap r "
        "| still LMD |"
    )
    lines = [head, "|" + "---|" * 9]
    for f in cv["folds"]:
        vals = " | ".join(f"{f[k]:.3f}" if k.endswith("_r") else f"{f[k]:.2f}" for k in METRICS)
        lines.append(f"| {f['fold']} | {f['clips']} | {vals} |")
    mean = {k: float(np.nanmean([r[k] for r in cv["clips"]])) for k in METRICS}
    vals = " | ".join(f"**{mean[k]:.3f}**" if k.endswith("_r") else f"**{mean[k]:.2f}**" for k in METRICS)
    lines.append(f"| mean over clips | {len(cv['clips'])} | {vals} |")
    return "\n".join(lines)


def describe_components(model: LearnedMotion) -> list[str]:
    """One table row per PCA coefficient: variance share, and what a +1 step does to the mouth.

    Columns: the change of inner-lip aperture and mouth width, the mean vertical move of the upper
    lip, lower lip and chin points (image y, down > 0) and the mean horizontal move of the mouth
    corners outwards (canonical units, IOD 1, per unit coefficient; the coefficients themselves are
    in units of the speaker's RMS motion).
    """
    ap, wd = aperture_width(model.components)
    v = model.components.reshape(len(model.components), -1, 2)
    rows = {p: i for i, p in enumerate(MOTION_POINTS)}
    upper = [rows[p] for p in set(UPPER_OUTER + UPPER_INNER) - {MOUTH_LEFT, MOUTH_RIGHT}]
    lower = [rows[p] for p in set(LOWER_OUTER + LOWER_INNER) - {MOUTH_LEFT, MOUTH_RIGHT}]
    chin = [rows[p] for p in CHIN]
    out = []
    for k in range(len(v)):
        spread = (v[k, rows[MOUTH_LEFT], 0] - v[k, rows[MOUTH_RIGHT], 0]) / 2
        out.append(
            f"| {k + 1} | {100 * model.explained[k]:.1f} % | {ap[k]:+.2f} | {wd[k]:+.2f} | "
            f"{v[k, upper, 1].mean():+.2f} | {v[k, lower, 1].mean():+.2f} | {v[k, chin, 1].mean():+.2f} | "
            f"{spread:+.2f} |"
        )
    return out


def model_card(model: LearnedMotion, clips: list[MotionClip], cv: dict) -> str:
    """The model card (markdown) of a trained motion model."""
    frames = sum(len(c.aperture) for c in clips)
    seconds = sum(len(c.aperture) / c.fps for c in clips)
    groups = len({c.group for c in clips})
    return "\n".join(
        [
            "# talkface motion model (`motion.npz`)",
            "",
            "Speech -> mouth motion for the `warp` engine (`talkface/motion/learned.py`): ridge",
            "regression (one linear temporal layer) from Wav2Lip-compatible mel frames (+-2 video frames)",
            "and pocketsphinx phone labels (+-3 frames) to 8 PCA coefficients of per-speaker standardised",
            "lip and chin motion.",
            "",
            "## Data",
            f"- {len(clips)} talking clips, {frames} frames, {seconds:.0f} s, {groups} speaker groups",
            "  (`talkface train motion` on `shared/data/video`, minus the out-of-sync clips listed in",
            "  `talkface/training/motion.py`). Targets: mediapipe 0.10.21 face-mesh landmarks of each frame.",
            "- Clips: " + ", ".join(c.name for c in clips) + ".",
            "",
            "## Training",
            f"- Closed-form ridge, alpha {CONFIG.ridge_alpha:g}; no iterative steps. Whole run"
            f" {cv.get('seconds', 0):.0f} s on 2 CPU cores (tracking each clip is most of it; a"
            " `--cache` keeps it for later runs).",
            f"- Size: {model.weights.size + model.mean.size + model.components.size} float32 numbers.",
            "",
            "## Coefficients",
            "Share of the training variance and what a +1 step of each coefficient does (canonical units,",
            "IOD 1; image y points down): change of inner-lip aperture and mouth width, mean vertical move",
            "of the upper-lip, lower-lip and chin points, and the outward move of the mouth corners.",
            "",
            "| coefficient | variance | aperture | width | upper lip y | lower lip y | chin y "
            "| corners out |",
            "|---|---|---|---|---|---|---|---|",
            *describe_components(model),
            "",
            "## Leave-speakers-out cross-validation",
            "Per clip Pearson r of predicted vs real inner-lip aperture and mouth width; LMD of the 40 lip",
            "points in % of IOD (prediction placed on the clip's mean shape at the clip's motion scale;",
            "'still LMD' holds that mean shape still). Heuristic = `--motion heuristic`; loudness = log RMS.",
            "",
            report_table(cv),
            "",
            "## Licence",
            "Research use only: the weights are derived from the clips of `shared/data/video`, whose",
            "licences (see its MANIFEST.tsv) include research-only datasets (LRS2, VoxCeleb2, HDTF, MEAD).",
            "",
        ]
    )
