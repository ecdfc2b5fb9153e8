"""Errors that reach the user as one line on stderr (no traceback)."""

from __future__ import annotations

from pathlib import Path


class TalkfaceError(Exception):
    """A problem with the user's input or environment, reported as one line.

    The message names the file (when there is one) and the problem, e.g.
    ``"face.mp4: no face found in any frame"``. The CLI prints it and exits with status 1.
    """

    def __init__(self, problem: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(problem if path is None else f"{path}: {problem}")
