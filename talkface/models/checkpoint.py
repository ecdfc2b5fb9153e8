"""Checkpoints in the published Wav2Lip format.

A file is ``torch.save({"state_dict", "optimizer", "global_step", "global_epoch"})``; weights
saved from ``nn.DataParallel`` carry a ``module.`` prefix, which is stripped on load (as
``Wav2Lip:inference.py:load_model`` does) before a strict ``load_state_dict``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from talkface.errors import TalkfaceError
from talkface.media.atomic import atomic_path


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The weights of a checkpoint file with any ``module.`` prefix stripped.

    Raises:
        TalkfaceError: missing or unreadable file.
    """
    return _strip(_read(Path(path)).get("state_dict") or {})


def _read(path: Path) -> dict:
    if not path.is_file():
        raise TalkfaceError("checkpoint not found", path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle/zip errors of many kinds
        raise TalkfaceError(f"cannot read checkpoint ({type(exc).__name__})", path) from None
    if not isinstance(data, dict):
        raise TalkfaceError("not a checkpoint dictionary", path)
    if "state_dict" not in data:  # a bare state dict
        data = {"state_dict": data}
    return data


def _strip(state: dict) -> dict:
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_checkpoint(
    path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> dict:
    """Load a published-format checkpoint into ``model`` (and ``optimizer``) strictly.

    Args:
        path: ``.pth`` file (``{"state_dict": ...}``, optionally with optimizer and step counters;
            a bare state dict is accepted too).
        model: the network to fill; its architecture (width) must match the file.
        optimizer: optional, restored when the file has an ``optimizer`` entry.

    Returns:
        The file's dict (``global_step``, ``global_epoch`` ... as saved).

    Raises:
        TalkfaceError: missing or unreadable file, or weights that do not fit ``model``.
    """
    path = Path(path)
    data = _read(path)
    state = _strip(data["state_dict"])
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise TalkfaceError(
            f"weights do not fit {type(model).__name__} ({first[1].strip() if len(first) > 1 else first[0]})",
            path,
        ) from None
    if optimizer is not None and data.get("optimizer"):
        optimizer.load_state_dict(data["optimizer"])
    return data


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    global_step: int = 0,
    global_epoch: int = 0,
) -> Path:
    """Write ``model`` in the published format, atomically (temporary file, then rename)."""
    path = Path(path)
    data = {
        "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "global_step": global_step,
        "global_epoch": global_epoch,
    }
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
    return path
