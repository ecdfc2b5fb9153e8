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
from talkface.motion.learned import MOTION_POINTS, LearnedMotion, aperture_width
from talkface.training.motion_clips import MotionClip, language_group

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


def ingredients_table(rows: list[dict]) -> str:
    """Markdown table of :func:`~talkface.training.motion.ingredients`."""
    n_en, n_other = (rows[0][f"clips_{g}"] for g in ("English", "other")) if rows else (0, 0)
    lines = [
        f"| inputs | aperture r | width r | LMD | aperture r, English ({n_en}) "
        f"| aperture r, other ({n_other}) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['aperture_r']:.3f} | {r['width_r']:.3f} | {r['lmd']:.2f} "
            f"| {r['aperture_r_English']:.3f} | {r['aperture_r_other']:.3f} |"
        )
    return "\n".join(lines)


LANGUAGE_METRICS = ("aperture_r", "width_r", "lmd", "still_lmd")


def language_table(cv: dict) -> str:
    """Markdown table of the cross-validated means by language group (English / other)."""
    lines = ["| language | clips | aperture r | width r | LMD | still LMD |", "|---|---|---|---|---|---|"]
    for group in ("English", "other"):
        rows = [r for r in cv["clips"] if language_group(r["language"]) == group]
        if rows:
            m = {k: float(np.nanmean([r[k] for r in rows])) for k in LANGUAGE_METRICS}
            lines.append(
                f"| {group} | {len(rows)} | {m['aperture_r']:.3f} | {m['width_r']:.3f} | {m['lmd']:.2f} "
                f"| {m['still_lmd']:.2f} |"
            )
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


def describe_inputs(model: LearnedMotion) -> str:
    """The model's input blocks in words, with their context windows."""
    c = model.config
    words = {
        "mel": f"Wav2Lip-compatible mel frames, +-{c.mel_context} video frames",
        "phones": f"pocketsphinx phone labels, +-{c.phone_context} frames",
        "whisper": f"the bundled Whisper base encoder's layer {c.whisper_layer} (1-6: its transformer "
        f"blocks, 7: its output), +-{c.whisper_context} frames",
    }
    return "; ".join(words[name] for name in c.inputs)


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
            "regression (one linear temporal layer) to 8 PCA coefficients of per-speaker standardised lip",
            f"and chin motion, from the blocks {', '.join(model.config.inputs)} ({describe_inputs(model)}).",
            "",
            "## Data",
            f"- {len(clips)} talking clips, {frames} frames, {seconds:.0f} s, {groups} speaker groups",
            "  (`talkface train motion` on `shared/data/video`, minus the out-of-sync clips listed in",
            "  `talkface/training/motion.py`). Targets: mediapipe 0.10.21 face-mesh landmarks of each frame.",
            "- Clips: " + ", ".join(c.name for c in clips) + ".",
            "",
            "## Training",
            f"- Closed-form ridge, alpha {model.config.ridge_alpha:g}; no iterative steps. Whole run"
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
            "By language group (the `language` column of the data's MANIFEST.tsv):",
            "",
            language_table(cv),
            "",
            "## Ingredients",
            "The same cross-validation of models on other inputs (same ridge penalty and block weights).",
            "Recognised phones: pocketsphinx's free phone recognition (what the model runs on); aligned",
            "phones: the phones of Whisper's transcript, force-aligned by pocketsphinx in English and",
            "timed by espeak-ng within Whisper's words in other languages.",
            "",
            ingredients_table(cv.get("ingredients", [])),
            "",
            "## Licence",
            "Research use only: the weights are derived from the clips of `shared/data/video`, whose",
            "licences (see its MANIFEST.tsv) include research-only datasets (LRS2, VoxCeleb2, HDTF, MEAD).",
            "",
        ]
    )
