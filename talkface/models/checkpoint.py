"""Checkpoints in the published Wav2Lip format, which describe themselves when we write them.

A file is ``torch.save({"state_dict", "optimizer", "global_step", "global_epoch"})``; weights
saved from ``nn.DataParallel`` carry a ``module.`` prefix, which is stripped on load (as
``Wav2Lip:inference.py:load_model`` does) before a strict ``load_state_dict``. A checkpoint
written here has one more entry, ``"talkface"``: ``{"format", "version", "model", "config"}`` (the
network's class name and its config dataclass as a dict), which the published loaders ignore;
:func:`saved_config` rebuilds the config from it, and :func:`load_checkpoint` refuses a file made
for another network or config. Published files, without it, load as before.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from talkface.errors import TalkfaceError
from talkface.media.atomic import atomic_path

FORMAT = "talkface.checkpoint"
FORMAT_VERSION = 1
Config = TypeVar("Config")


def _meta(data: dict, path: Path) -> dict[str, Any] | None:
    meta = data.get("talkface")
    if meta is None:
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise TalkfaceError("checkpoint has an unknown 'talkface' entry", path)
    if meta.get("version") != FORMAT_VERSION:
        raise TalkfaceError(
            f"checkpoint format version {meta.get('version')!r}; this talkface reads {FORMAT_VERSION}", path
        )
    return meta


def saved_config(path: str | Path, model: str, config_class: type[Config]) -> Config | None:
    """The config a checkpoint written here was saved with (``None`` for a published file).

    Args:
        path: the ``.pth`` file.
        model: the class name of the network expected (``"Wav2Lip"``).
        config_class: its config dataclass.

    Raises:
        TalkfaceError: missing or unreadable file, one saved for another network, or a config this
            version does not know.
    """
    path = Path(path)
    meta = _meta(_read(path), path)
    if meta is None:
        return None
    if meta.get("model") != model:
        raise TalkfaceError(f"checkpoint holds a {meta.get('model')}, not a {model}", path)
    try:
        return config_class(**meta.get("config", {}))
    except TypeError as exc:
        raise TalkfaceError(f"checkpoint config not understood ({exc})", path) from None


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
    meta = _meta(data, path)
    if meta is not None:
        name, config = type(model).__name__, getattr(model, "config", None)
        if meta.get("model") != name:
            raise TalkfaceError(f"checkpoint holds a {meta.get('model')}, not a {name}", path)
        if dataclasses.is_dataclass(config) and meta.get("config") != dataclasses.asdict(config):
            raise TalkfaceError(
                f"checkpoint was saved with config {meta.get('config')}, "
                f"the network has {dataclasses.asdict(config)}",
                path,
            )
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
    """Write ``model`` in the published format, atomically (temporary file, then rename), with the
    ``"talkface"`` entry describing it when the model has a config dataclass (``model.config``)."""
    path = Path(path)
    data = {
        "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "global_step": global_step,
        "global_epoch": global_epoch,
    }
    config = getattr(model, "config", None)
    if dataclasses.is_dataclass(config):
        data["talkface"] = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "model": type(model).__name__,
            "config": dataclasses.asdict(config),
        }
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
    return path
