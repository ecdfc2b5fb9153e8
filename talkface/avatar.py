"""Person-specific avatars: HyperLips' base network fine-tuned on one person's own footage.

``talkface avatar train VIDEO --out AVATAR/`` (:func:`train_avatar`) checks the footage (a face in
most frames, at least :data:`MIN_SECONDS` of it, speech), prepares its face crops as ``train
prepare`` does (the last :data:`VAL_FRACTION` of it kept apart for the held-out figures), and
fine-tunes the generic HyperLips network shipped in ``talkface/weights`` (trained on
``../shared/data/video``; ``hyperlips_base.md``) on it for a time budget: L1 and the expert's sync
term (0.03) of the published base recipe, plus a structural term ``0.5 (1 - SSIM)``
(:data:`AVATAR_SSIM_WEIGHT`; the published base has none, its HR stage an LPIPS term we cannot
load), at Adam 1e-3 decayed by a cosine to 5e-5 over the budget (:data:`AVATAR_LR`; the published
fixed 1e-4 is for days of GPU training); the visual-quality discriminator stays off, as a GAN
started fresh does not settle in a budget of minutes. The folder it writes describes itself:

- ``avatar.json``: format and version, the source video (path, size, seconds used), the network's
  config, the training run (steps, minutes, start weights) and the held-out figures;
- ``base.pth``: the network (published checkpoint format, with its config);
- ``reference.png``: the footage's first face frame, a reference frame to pass as
  ``--reference-image`` where the driven video's own first frame is a poor one (by default the
  engine takes the driven video's first frame, as the published inference does: on the held-out
  footage of ``benchmarks/avatar_heldout.py`` that scored better than the avatar's frame, mouth
  SSIM 0.679 against 0.634 and aperture r 0.380 against 0.331 on dfrf_cnn2_jim_acosta_71s);
- ``model_card.md``: data, steps, figures, licence; ``losses.png``: the curves.

``talkface sync --avatar AVATAR/ --audio new.wav`` (:func:`load_avatar`, :meth:`Avatar.engine_options`)
renders that person with the ``hyperlips`` engine on the avatar's own video, or on ``--face``, a new
video of the same person. An interrupted training run (Ctrl-C) resumes from its last checkpoint
when run again with the same ``--out``.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talkface.errors import TalkfaceError

AVATAR_FORMAT = "talkface.avatar"
AVATAR_VERSION = 1
AVATAR_FILE = "avatar.json"
MIN_SECONDS = 20.0  # shortest footage an avatar is trained on
VAL_FRACTION = 0.1  # the end of the footage kept for the held-out figures
DEFAULT_MINUTES = 30.0  # training budget (2 CPU cores)
AVATAR_LR = 1e-3  # Adam learning rate at the start of the fine-tuning (cosine decay over the budget)
AVATAR_SSIM_WEIGHT = 0.5  # reconstruction loss = L1 + this * (1 - SSIM)
WORK_DIR = "work"  # inside the avatar folder: prepared crops and checkpoints while training


@dataclass(frozen=True)
class Avatar:
    """A trained avatar folder, checked.

    Attributes:
        folder: the folder.
        meta: ``avatar.json``'s contents.
        base: the network's checkpoint; reference: the reference frame.
        video: the footage it was trained on (may no longer exist).
    """

    folder: Path
    meta: dict[str, Any]
    base: Path
    reference: Path
    video: Path

    def engine_options(self, **overrides: Any):
        """The ``hyperlips`` engine's options for this avatar: its network, the driven video's
        first frame as reference (``reference_image=avatar.reference`` among ``overrides`` for the
        avatar's own; ``overrides``: other options of the engine).

        Raises:
            OptionError: an override the engine does not have.
        """
        from talkface.engines.registry import engine_options

        return engine_options("hyperlips", checkpoint=self.base, **overrides)


def load_avatar(folder: str | Path) -> Avatar:
    """Read and check an avatar folder written by :func:`train_avatar`.

    Raises:
        TalkfaceError: not a folder, no or unreadable ``avatar.json``, another format or version,
            or a file it names missing.
    """
    folder = Path(folder)
    path = folder / AVATAR_FILE
    if not folder.is_dir():
        raise TalkfaceError("avatar folder not found", folder)
    if not path.is_file():
        raise TalkfaceError(f"not an avatar folder (no {AVATAR_FILE})", folder)
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise TalkfaceError("avatar.json is not readable JSON", path) from None
    if not isinstance(meta, dict) or meta.get("format") != AVATAR_FORMAT:
        raise TalkfaceError("avatar.json is not a talkface avatar", path)
    if meta.get("version") != AVATAR_VERSION:
        raise TalkfaceError(
            f"avatar version {meta.get('version')!r}; this talkface reads {AVATAR_VERSION}", path
        )
    files = meta.get("files") or {}
    resolved = {}
    for key in ("base", "reference"):
        name = files.get(key)
        if not isinstance(name, str) or not (folder / name).is_file():
            raise TalkfaceError(f"avatar file missing: {name or key}", folder)
        resolved[key] = folder / name
    from talkface.models.checkpoint import saved_config
    from talkface.models.hyperlips import HyperLipsConfig

    if saved_config(resolved["base"], "HyperLipsBase", HyperLipsConfig) is None:
        raise TalkfaceError("avatar network has no config (not written by avatar train)", resolved["base"])
    video = Path(str((meta.get("source") or {}).get("video", "")))
    return Avatar(folder, meta, resolved["base"], resolved["reference"], video)


def check_footage(video: Path, end: float | None = None) -> float:
    """The seconds of ``video`` an avatar would train on (up to ``end``), after checking it.

    Raises:
        TalkfaceError: unreadable, shorter than :data:`MIN_SECONDS`, or without speech.
    """
    import numpy as np

    from talkface.media.audio import SAMPLE_RATE, load_audio
    from talkface.media.video import FaceMedia
    from talkface.speech.vad import speech_mask
    from talkface.training.prepare import TRAIN_FPS

    media = FaceMedia(video)
    if media.is_photo:
        raise TalkfaceError("an avatar is trained on a video, not a photo", video)
    samples = load_audio(video)
    seconds = len(samples) / SAMPLE_RATE
    if media.n_frames_hint:
        seconds = min(seconds, media.n_frames_hint / media.fps)
    if end is not None:
        seconds = min(seconds, end)
    if seconds < MIN_SECONDS:
        raise TalkfaceError(
            f"footage too short: {seconds:.1f} s, an avatar needs at least {MIN_SECONDS:g} s", video
        )
    samples = samples[: int(seconds * SAMPLE_RATE)]
    n = int(seconds * TRAIN_FPS)
    speech = float(np.sum(speech_mask(samples, n, TRAIN_FPS))) / TRAIN_FPS
    if speech < 0.25 * seconds:
        raise TalkfaceError(f"no speech to learn from: {speech:.1f} s of {seconds:.0f} s", video)
    return seconds


def train_avatar(
    video: str | Path,
    out: str | Path,
    minutes: float = DEFAULT_MINUTES,
    end: float | None = None,
    init: Path | None = None,
    seed: int = 0,
) -> Avatar:
    """Train a person-specific avatar on ``video`` and write it to ``out`` (see the module docstring).

    Args:
        video: one person's talking footage (1-5 minutes is the intended size).
        out: the avatar folder (made; an unfinished run in it is resumed).
        minutes: training budget in minutes of wall time (the preparation comes on top; a resumed
            run counts the minutes already spent).
        end: use the footage only up to this second (hold the rest out, as the benchmark does).
        init: weights to fine-tune from (default: the shipped generic HyperLips network).
        seed: random seed of the training run.

    Returns:
        The written :class:`Avatar`.

    Raises:
        TalkfaceError: footage without a face in most frames, too short, without speech, or a
            folder that holds something else.
    """
    from talkface.models.checkpoint import load_checkpoint, save_checkpoint
    from talkface.models.hyperlips import HyperLipsBase, base_config
    from talkface.training.hyperlips import SYNC_WEIGHT, train_hyperlips_base
    from talkface.training.prepare import prepare_clip
    from talkface.training.progress import LR_FLOOR, HyperLipsTraining, latest_checkpoint
    from talkface.weights import HYPERLIPS_BASE, SYNCNET, file_sha256

    video, out = Path(video), Path(out)
    if out.exists() and not out.is_dir():
        raise TalkfaceError("avatar output is a file, not a folder", out)
    if (
        out.is_dir()
        and any(out.iterdir())
        and not (out / WORK_DIR).is_dir()
        and not (out / AVATAR_FILE).is_file()
    ):
        raise TalkfaceError("avatar output folder is not empty and not an avatar", out)
    seconds = check_footage(video, end)
    init = Path(init) if init is not None else HYPERLIPS_BASE
    config = base_config(init)
    work = out / WORK_DIR
    data = work / "data"
    split = seconds * (1 - VAL_FRACTION)
    made = not out.exists()
    if not (data / "val.txt").is_file():
        shutil.rmtree(data, ignore_errors=True)
        for name, span in (("train", (0.0, split)), ("val", (split, seconds))):
            _, reason = prepare_clip(video, data / name, span)
            if reason is not None:
                shutil.rmtree(out if made else data, ignore_errors=True)  # nothing half-made stays
                raise TalkfaceError(f"cannot train an avatar on it: {reason}", video)
        (data / "train.txt").write_text("train\n")
        (data / "val.txt").write_text("val\n")
    options = HyperLipsTraining(
        width=config.width,
        batch=8,
        lr=AVATAR_LR,
        steps=1_000_000,
        minutes=minutes,
        eval_every=100,
        checkpoint_every=100,
        gan=False,
        decay=True,
        ssim_weight=AVATAR_SSIM_WEIGHT,
        seed=seed,
    )
    start = time.perf_counter()
    result = train_hyperlips_base(data, work / "checkpoints", SYNCNET, options, init=init)
    trained = time.perf_counter() - start
    last = latest_checkpoint(work / "checkpoints")
    model = HyperLipsBase(config)
    load_checkpoint(last, model)
    save_checkpoint(out / "base.pth", model, None, result["step"])
    _write_reference(data / "train", out / "reference.png")
    losses = work / "checkpoints" / "losses.png"
    if losses.is_file():
        shutil.copy(losses, out / "losses.png")
    meta = {
        "format": AVATAR_FORMAT,
        "version": AVATAR_VERSION,
        "engine": "hyperlips",
        "files": {"base": "base.pth", "reference": "reference.png"},
        "source": {
            "video": str(video.resolve()),
            "bytes": video.stat().st_size,
            "sha256": file_sha256(video),
            "train_seconds": [0.0, round(split, 2)],
            "val_seconds": [round(split, 2), round(seconds, 2)],
        },
        "config": {"width": config.width},
        "training": {
            "init": str(init),
            "steps": result["step"],
            "minutes_this_run": round(trained / 60, 1),
            "minutes": round(result["minutes"], 1),
            "recipe": f"L1 + {AVATAR_SSIM_WEIGHT:g} (1 - SSIM) + sync {SYNC_WEIGHT:g}; "
            f"Adam {AVATAR_LR:g}, cosine to {AVATAR_LR * LR_FLOOR:g}",
            "budget_minutes": minutes,
            "seed": seed,
        },
        "held_out": {k: round(float(v), 4) for k, v in result.items() if k in ("l1", "sync", "sync_real")},
    }
    (out / AVATAR_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    (out / "model_card.md").write_text(_model_card(meta, video))
    return load_avatar(out)


def _write_reference(clip_folder: Path, path: Path) -> None:
    """The first face crop of the prepared footage, as the reference frame."""
    first = min(clip_folder.glob("*.jpg"), key=lambda p: int(p.stem))
    import cv2

    cv2.imwrite(str(path), cv2.imread(str(first)))


def _model_card(meta: dict, video: Path) -> str:
    s, t, h = meta["source"], meta["training"], meta["held_out"]
    nan = float("nan")
    train, val = s["train_seconds"], s["val_seconds"]
    return f"""# Avatar: {video.stem}

HyperLips base network (width {meta["config"]["width"]:g}, 128 px faces) fine-tuned on one person's
footage by `talkface avatar train`.

- **Data**: `{video.name}` (sha256 `{s["sha256"][:16]}...`), seconds {train[0]:g}-{train[1]:g}
  for training; seconds {val[0]:g}-{val[1]:g} held out for the figures below.
- **Start**: `{Path(t["init"]).name}`; **steps**: {t["steps"]} (batch 8 windows of 5 frames) in
  {t.get("minutes", nan):g} min (budget {t["budget_minutes"]:g}) on the machine it was trained on;
  loss and schedule: {t.get("recipe", "?")}.
- **Held-out figures** (the footage's last part): L1 {h.get("l1", nan):.4f} (pixels in [0, 1]),
  expert sync loss {h.get("sync", nan):.3f} (the real frames: {h.get("sync_real", nan):.3f}).
- **Licence**: the weights are derived from the footage; use them only as its owner allows.
"""
