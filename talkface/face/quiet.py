"""Keep mediapipe's C++ log lines (written straight to file descriptor 2) off the user's terminal."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TextIO


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[TextIO]:
    """Point file descriptor 2 at /dev/null for the duration.

    mediapipe's graphs log from their own threads, at moments Python does not see, so the whole
    tracking pass runs inside this. Yields a text stream for what the user should still see (the
    progress bar): Python's ``sys.stderr`` if it has its own file descriptor (see
    :func:`silence_native_stderr_for_process`), else the original descriptor 2.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        visible = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # e.g. a captured stream in tests
        visible = saved
    terminal = os.fdopen(os.dup(visible), "w", buffering=1)
    try:
        os.dup2(devnull, 2)
        yield terminal
    finally:
        terminal.flush()
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        terminal.close()


def silence_native_stderr_for_process() -> None:
    """For a command-line process: descriptor 2 goes to /dev/null for good, ``sys.stderr`` keeps
    the real terminal.

    mediapipe's threads can log after a scoped :func:`native_stderr_silenced` has ended; a command
    whose stderr must hold exactly one line on error cannot allow that.
    """
    sys.stderr.flush()
    sys.stderr = os.fdopen(os.dup(2), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
