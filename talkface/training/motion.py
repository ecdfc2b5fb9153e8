"""``talkface train motion``: build the motion dataset from talking clips, cross-validate, fit, ship.

For every clip: mediapipe landmarks of every frame (:class:`~talkface.face.track.FaceTracker`),
mapped into the clip's canonical face frame; the speech resampled to 16 kHz; the model's audio
features (:func:`~talkface.motion.learned.audio_features`). Then:

1. **Leave-speakers-out cross-validation.** Clips are grouped by person (the ``speaker`` column of
   the data's ``MANIFEST.tsv``: LRS2 clips, whose speakers are unknown, form one group, and so do
   the GRID clips; other unknown speakers are one group per clip) and the groups are dealt into
   ``folds`` folds of about equal frame counts. Each fold's clips are predicted by a model fitted
   on the other folds (PCA basis included) and scored per clip: Pearson r of the predicted vs the
   real inner-lip aperture and mouth width, and the LMD of the lip points, next to the heuristic
   motion and loudness on the same clips.
2. **The shipped model** is fitted on every clip.

Clips whose audio and video are known to be out of sync (listed in ``excluded_clips.txt``) are left
out, as in ``shared/research/motion-feasibility.md``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from talkface.errors import TalkfaceError
from talkface.face.landmarks import LIPS
from talkface.media.atomic import write_text_atomic
from talkface.motion.learned import (
    CONFIG,
    MOTION_POINTS,
    LearnedMotion,
    MotionConfig,
    aperture_width,
    design_matrix,
)
from talkface.training.motion_clips import (
    EXCLUDED_CLIPS,
    MotionClip,
    clip_blocks,
    clip_paths,
    language_group,
    load_clips,
)
from talkface.training.motion_report import METRICS, model_card, report_table

AUGMENT_SPEEDS = (0.92, 1.08)  # speech played this many times faster: pitch and tempo together
AUGMENT_SNR_DB = (10.0, 20.0)  # white noise added at these signal-to-noise ratios


def _speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``x`` ``factor`` times faster (pitch and tempo together), linear interpolation."""
    t = np.arange(int(len(x) / factor)) * factor
    return np.interp(t, np.arange(len(x)), x).astype(np.float32)


def _stretch(y: np.ndarray, n: int) -> np.ndarray:
    """Resample the rows of ``y`` (frames, ...) to ``n`` frames, linearly."""
    t = np.linspace(0, len(y) - 1, n)
    flat = y.reshape(len(y), -1)
    cols = [np.interp(t, np.arange(len(y)), flat[:, j]) for j in range(flat.shape[1])]
    return np.stack(cols, 1).reshape((n, *y.shape[1:])).astype(np.float32)


def augmented(clip: MotionClip, samples: np.ndarray, seed: int = 0) -> list[MotionClip]:
    """Training copies of ``clip``: speech :data:`AUGMENT_SPEEDS` times faster (targets stretched to
    match) and with white noise at :data:`AUGMENT_SNR_DB`, with the blocks of the shipped config's
    inputs. Gain needs no copy: the features are z-scored per utterance.

    Args:
        clip: a measured clip.
        samples: its ``(n,)`` float32 speech at 16 kHz.
        seed: noise seed.
    """
    rng = np.random.default_rng(seed)
    n = len(clip.aperture)
    out = []
    for factor in AUGMENT_SPEEDS:
        m = int(round(n / factor))
        blocks = clip_blocks(_speed(samples, factor), m, clip.fps, CONFIG.inputs)
        out.append(dataclasses.replace(clip, blocks=blocks, motion=_stretch(clip.motion, m)))
    power = float(np.mean(samples**2))
    for snr in AUGMENT_SNR_DB:
        noise = rng.standard_normal(len(samples)).astype(np.float32) * np.sqrt(power / 10 ** (snr / 10))
        out.append(dataclasses.replace(clip, blocks=clip_blocks(samples + noise, n, clip.fps, CONFIG.inputs)))
    return out


def fit(
    clips: list[MotionClip],
    alpha: float = CONFIG.ridge_alpha,
    n_coeffs: int = CONFIG.n_coeffs,
    config: MotionConfig = CONFIG,
) -> LearnedMotion:
    """PCA basis and ridge weights from ``clips`` (closed form), on the inputs of ``config``.

    Returns:
        :class:`LearnedMotion` whose config is ``config`` with ``alpha`` and ``n_coeffs``.
    """
    rows = [c.motion[np.isfinite(c.motion).all(1)] for c in clips]
    disp = np.concatenate(rows).astype(np.float64)
    mean = disp.mean(0)
    _, s, vt = np.linalg.svd(disp - mean, full_matrices=False)
    comps = vt[:n_coeffs]
    xtx, xty = 0.0, 0.0
    for c in clips:
        ok = np.isfinite(c.motion).all(1)
        x = design_matrix(c.features(config), config)[ok].astype(np.float64)
        y = (c.motion[ok] - mean) @ comps.T
        xtx = xtx + x.T @ x
        xty = xty + x.T @ y
    weights = np.linalg.solve(xtx + alpha * np.eye(xtx.shape[0]), xty)
    return LearnedMotion(
        weights=weights.astype(np.float32),
        mean=mean.astype(np.float32),
        components=comps.astype(np.float32),
        explained=(s[:n_coeffs] ** 2 / (s**2).sum()).astype(np.float32),
        config=dataclasses.replace(config, ridge_alpha=alpha, n_coeffs=n_coeffs),
    )


def grouped_folds(clips: list[MotionClip], n_folds: int) -> list[list[str]]:
    """Deal speaker groups into ``n_folds`` folds of about equal frame counts (largest first).

    Returns:
        For each fold, the groups it holds out.

    Raises:
        TalkfaceError: fewer groups than folds.
    """
    sizes: dict[str, int] = {}
    for c in clips:
        sizes[c.group] = sizes.get(c.group, 0) + len(c.aperture)
    if len(sizes) < n_folds:
        raise TalkfaceError(f"{len(sizes)} speaker groups cannot make {n_folds} folds")
    folds: list[list[str]] = [[] for _ in range(n_folds)]
    load = [0] * n_folds
    for g in sorted(sizes, key=lambda g: (-sizes[g], g)):
        k = int(np.argmin(load))
        folds[k].append(g)
        load[k] += sizes[g]
    return folds


def pearson_r(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r over the entries where both are finite; NaN if fewer than 3 or one is constant."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) < 1e-9 or np.std(b[ok]) < 1e-9:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def lip_lmd(model: LearnedMotion, coefficients: np.ndarray, clip: MotionClip) -> tuple[float, float]:
    """LMD (mean lip-point distance, % of IOD) of predicted vs real canonical lips.

    The prediction is placed on the clip's mean shape and given the clip's own motion scale (the
    per-speaker rescaling the engine does with the face it animates). The reference LMD is that of
    the mean shape held still.

    Returns:
        ``(lmd, lmd_still)``.
    """
    pts = clip.canonical.reshape(len(clip.canonical), -1)
    ok = np.isfinite(pts).all(1)
    mean_shape = pts[ok].mean(0)
    scale = np.sqrt(np.mean((pts[ok] - mean_shape) ** 2))
    pred = mean_shape + scale * model.displacement(coefficients)
    lips = [i for i, p in enumerate(MOTION_POINTS) if p in LIPS]

    def dist(x: np.ndarray) -> float:
        d = (x[ok] - pts[ok]).reshape(ok.sum(), -1, 2)[:, lips]
        return float(100 * np.linalg.norm(d, axis=2).mean())

    return dist(pred), dist(np.broadcast_to(mean_shape, pts.shape))


def cross_validate(
    clips: list[MotionClip],
    n_folds: int,
    alpha: float = CONFIG.ridge_alpha,
    copies: dict[str, list[MotionClip]] | None = None,
    config: MotionConfig = CONFIG,
) -> dict:
    """Leave-speakers-out cross-validation (see the module docstring) of models on the inputs of
    ``config``.

    ``copies`` (clip name -> augmented copies) are added to the training clips of each fold.

    Returns:
        ``{"folds": [...], "clips": [...], "models": [LearnedMotion per fold]}``; each clip row has
        the fold, the learned/heuristic/loudness aperture r, learned/heuristic width r and LMD.
    """
    folds = grouped_folds(clips, n_folds)
    rows, summary, models = [], [], []
    for k, held in enumerate(folds):
        test = [c for c in clips if c.group in held]
        train = [c for c in clips if c.group not in held]
        model = fit(train + [a for c in train for a in (copies or {}).get(c.name, [])], alpha, config=config)
        models.append(model)
        for c in test:
            coeffs = model.coefficients(c.features(config))
            ap, wd = aperture_width(model.displacement(coeffs))
            lmd, lmd_still = lip_lmd(model, coeffs, c)
            rows.append(
                {
                    "clip": c.name,
                    "group": c.group,
                    "language": c.language,
                    "fold": k,
                    "frames": len(c.aperture),
                    "aperture_r": pearson_r(ap, c.aperture),
                    "width_r": pearson_r(wd, c.width),
                    "lmd": lmd,
                    "heuristic_aperture_r": pearson_r(c.heuristic[:, 0], c.aperture),
                    "heuristic_width_r": pearson_r(c.heuristic[:, 1], c.width),
                    "loudness_aperture_r": pearson_r(c.loudness, c.aperture),
                    "still_lmd": lmd_still,
                }
            )
        fold_rows = [r for r in rows if r["fold"] == k]
        summary.append(
            {"fold": k, "groups": held, "clips": len(fold_rows)}
            | {key: float(np.nanmean([r[key] for r in fold_rows])) for key in METRICS}
        )
    return {"folds": summary, "clips": rows, "models": models}


# The model card's ingredients table: (label, inputs, blocks standing in for the named inputs).
# "aligned_phones" and "whisper_final" are measured for this table only (motion_clips.TRAINING_BLOCKS).
INGREDIENTS = (
    ("mel only", ("mel",), {}),
    ("mel + recognised phones (the previous model)", ("mel", "phones"), {}),
    ("mel + aligned phones", ("mel", "phones"), {"phones": "aligned_phones"}),
    ("Whisper final output", ("whisper",), {"whisper": "whisper_final"}),
    ("recognised phones + Whisper final output", ("phones", "whisper"), {"whisper": "whisper_final"}),
    ("aligned phones + Whisper block 3", ("phones", "whisper"), {"phones": "aligned_phones"}),
    ("recognised phones + Whisper block 3", ("phones", "whisper"), {}),
    ("mel + recognised phones + Whisper block 3 (all)", ("mel", "phones", "whisper"), {}),
    ("Whisper block 3 (shipped)", ("whisper",), {}),
)


SUMMARY = ("aperture_r", "width_r", "lmd")  # the means each ingredient reports


def ingredients(clips: list[MotionClip], n_folds: int, log=print) -> list[dict]:
    """Leave-speakers-out CV of each :data:`INGREDIENTS` variant (same folds, ridge alpha and
    scales as the shipped config).

    Returns:
        One row per variant: ``label``, mean ``aperture_r``, ``width_r``, ``lmd``, and the mean
        aperture r over English clips and over the others (``aperture_r_English``,
        ``aperture_r_other``).
    """
    out = []
    for label, inputs, stand_ins in INGREDIENTS:
        config = dataclasses.replace(CONFIG, inputs=inputs)
        swapped = [
            dataclasses.replace(c, blocks=c.blocks | {k: c.blocks[v] for k, v in stand_ins.items()})
            for c in clips
        ]
        rows = cross_validate(swapped, n_folds, CONFIG.ridge_alpha, config=config)["clips"]
        row = {"label": label} | {k: float(np.nanmean([r[k] for r in rows])) for k in SUMMARY}
        for group in ("English", "other"):
            rs = [r["aperture_r"] for r in rows if language_group(r["language"]) == group]
            row[f"aperture_r_{group}"] = float(np.nanmean(rs)) if rs else float("nan")
            row[f"clips_{group}"] = len(rs)
        log(f"{label}: aperture r {row['aperture_r']:.3f}, width r {row['width_r']:.3f}")
        out.append(row)
    return out


def train_motion(
    data_dir: Path,
    out: Path,
    folds: int = 5,
    cache: Path | None = None,
    folds_dir: Path | None = None,
    augment: bool = False,
    log=print,
    exclude: Path = EXCLUDED_CLIPS,
) -> dict:
    """Cross-validate, then fit on every clip and write ``out`` (``.npz``) and its model card (``.md``).

    Args:
        data_dir: folder of talking clips (or a folder with ``video/`` and ``MANIFEST.tsv``).
        out: where the model goes; the card is written next to it with suffix ``.md``.
        folds: number of leave-speakers-out folds (>= 2).
        cache: folder for per-clip measurements (tracking is the slow part).
        folds_dir: also write each fold's model and ``folds.json`` (clip -> fold) here, for
            held-out benchmarks.
        augment: add :func:`augmented` copies of every training clip (the ridge penalty grows
            with the data, x5). Off by default: it did not help on the shared clips.
        log: called with each progress line.
        exclude: file listing the clips to leave out (default: ``excluded_clips.txt``).

    Returns:
        The cross-validation result (see :func:`cross_validate`) plus ``"seconds"``.

    Raises:
        TalkfaceError: no clips, too few speaker groups, or fewer than 2 folds.
    """
    if folds < 2:
        raise TalkfaceError("cross-validation needs at least 2 folds")
    t0 = time.perf_counter()
    clips = load_clips(data_dir, cache, log, exclude)
    alpha, copies = CONFIG.ridge_alpha, None
    if augment:
        from talkface.media.audio import load_audio

        paths = {p.stem: p for p in clip_paths(data_dir, exclude)}
        copies = {c.name: augmented(c, load_audio(paths[c.name]), seed=i) for i, c in enumerate(clips)}
        alpha *= 1 + len(AUGMENT_SPEEDS) + len(AUGMENT_SNR_DB)
    cv = cross_validate(clips, folds, alpha, copies)
    log(report_table(cv))
    cv["ingredients"] = ingredients(clips, folds, log)
    model = fit(clips + [a for c in clips for a in (copies or {}).get(c.name, [])], alpha)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    if folds_dir is not None:
        folds_dir.mkdir(parents=True, exist_ok=True)
        for k, m in enumerate(cv["models"]):
            m.save(folds_dir / f"fold{k}.npz")
        mapping = {r["clip"]: r["fold"] for r in cv["clips"]}
        write_text_atomic(folds_dir / "folds.json", json.dumps(mapping, indent=1))
    cv["seconds"] = time.perf_counter() - t0
    write_text_atomic(out.with_suffix(".md"), model_card(model, clips, cv))
    write_text_atomic(
        out.with_suffix(".cv.json"), json.dumps({k: v for k, v in cv.items() if k != "models"}, indent=1)
    )
    return cv
