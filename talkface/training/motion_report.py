"""Reports of ``talkface train motion``: the cross-validation table and the model card."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from talkface.motion.learned import CONFIG, LearnedMotion, aperture_width

if TYPE_CHECKING:
    from talkface.training.motion import MotionClip

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
        vals = " | ".join(f"{f[k]:.3f}" if "r" in k else f"{f[k]:.2f}" for k in METRICS)
        lines.append(f"| {f['fold']} | {f['clips']} | {vals} |")
    mean = {k: float(np.nanmean([r[k] for r in cv["clips"]])) for k in METRICS}
    vals = " | ".join(f"**{mean[k]:.3f}**" if "r" in k else f"**{mean[k]:.2f}**" for k in METRICS)
    lines.append(f"| mean over clips | {len(cv['clips'])} | {vals} |")
    return "\n".join(lines)


def describe_components(model: LearnedMotion) -> list[str]:
    """One line per PCA coefficient: variance share and its aperture / width loading."""
    ap, wd = aperture_width(model.components)
    return [
        f"| {k + 1} | {100 * model.explained[k]:.1f} % | {ap[k]:+.2f} | {wd[k]:+.2f} |"
        for k in range(len(model.components))
    ]


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
            "Share of the training variance and the change of inner-lip aperture / mouth width (canonical",
            "units per unit coefficient) each one encodes:",
            "",
            "| coefficient | variance | aperture | width |",
            "|---|---|---|---|",
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
