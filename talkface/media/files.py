"""Checks on the files a user names, before any work: each problem is one line a person understands."""

from __future__ import annotations

import os
from pathlib import Path

import av

from talkface.errors import TalkfaceError

NOT_FOUND = "file not found"
IS_FOLDER = "is a folder, not a file"
EMPTY = "is empty (0 bytes)"
NOT_MEDIA = "is not a video, image or audio file we can read"


def check_input_file(path: str | Path) -> Path:
    """``path`` as a :class:`~pathlib.Path` if it names a readable, non-empty file.

    Raises:
        TalkfaceError: missing, a folder, empty (0 bytes), or not readable (permissions).
    """
    path = Path(path)
    if path.is_dir():
        raise TalkfaceError(IS_FOLDER, path)
    if not path.is_file():
        raise TalkfaceError(NOT_FOUND, path)
    if path.stat().st_size == 0:
        raise TalkfaceError(EMPTY, path)
    if not os.access(path, os.R_OK):
        raise TalkfaceError("cannot be read (permission denied)", path)
    return path


def media_error(exc: BaseException, path: str | Path, doing: str = "read media") -> TalkfaceError:
    """The one-line :class:`TalkfaceError` for FFmpeg's ``exc`` raised while ``doing`` ``path``:
    content FFmpeg cannot parse is :data:`NOT_MEDIA`; anything else says FFmpeg's reason, without
    its ``[Errno N]`` prefix."""
    if isinstance(exc, av.error.InvalidDataError | UnicodeDecodeError):
        return TalkfaceError(NOT_MEDIA, path)
    return TalkfaceError(f"cannot {doing} ({short_reason(exc)})", path)


def short_reason(exc: BaseException) -> str:
    """One line describing ``exc``: FFmpeg's message without ``[Errno N]``, else the first line."""
    reason = getattr(exc, "strerror", None)
    if reason:
        return str(reason)
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_not_an_input(out: str | Path, inputs: dict[str, str | Path | None]) -> None:
    """Refuse an output path that names one of the ``inputs`` (``{"face": path, "audio": path}``),
    by resolved path or by file identity, so that ``./x.mp4``, symbolic and hard links are caught.

    Raises:
        TalkfaceError: the output would overwrite an input; or ``out`` is a folder.
    """
    out = Path(out)
    if out.is_dir():
        raise TalkfaceError(IS_FOLDER, out)
    for role, path in inputs.items():
        if path is None:
            continue
        same = out.resolve() == Path(path).resolve()
        if not same and out.exists() and Path(path).exists():
            same = os.path.samefile(out, path)
        if same:
            raise TalkfaceError(f"the output would overwrite the {role} input; choose another name", out)
