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
    tracking pass runs inside this. Yields a text stream on the *original* stderr for what the
    user should still see (the progress bar).
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    terminal = os.fdopen(os.dup(saved), "w", buffering=1)
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
