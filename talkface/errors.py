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


EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT), as shells report 128 + 2
EXIT_TERMINATED = 143  # SIGTERM, as shells report 128 + 15
_received: list[int] = []  # signal numbers caught by the handlers of install_signal_handlers


class Terminated(BaseException):
    """The process was sent SIGTERM: raised in the main thread, so that cleanup runs as for Ctrl-C
    (``KeyboardInterrupt``): temporary output is removed and the process exits with
    :data:`EXIT_TERMINATED`."""


def install_signal_handlers(sigint: bool = True) -> None:
    """Make SIGTERM raise :class:`Terminated` (and, with ``sigint``, Ctrl-C ``KeyboardInterrupt``) in
    the main thread, and remember that it came (:func:`check_signals`). Call from the main thread.

    Python code run from inside a native library (protobuf's C extension importing its Python
    half, a log hook) may print the exception and swallow it: that print is suppressed (such native
    code reports through ``sys.excepthook``), and the remembered signal is raised again by the next
    :func:`check_signals`.
    """
    import signal
    import sys

    previous_hook = sys.excepthook

    def excepthook(kind, value, tb) -> None:
        if not (_received and issubclass(kind, KeyboardInterrupt | Terminated)):
            previous_hook(kind, value, tb)

    sys.excepthook = excepthook

    def handler(signum: int, frame) -> None:
        _received.append(signum)
        check_signals()

    signal.signal(signal.SIGTERM, handler)
    if sigint:
        signal.signal(signal.SIGINT, handler)


def check_signals() -> None:
    """Raise ``KeyboardInterrupt`` or :class:`Terminated` if such a signal has come (see
    :func:`install_signal_handlers`); the long loops call it once per frame."""
    import signal

    if _received:
        raise Terminated if signal.SIGTERM in _received else KeyboardInterrupt


def exit_status_for_signal() -> int | None:
    """:data:`EXIT_TERMINATED` or :data:`EXIT_INTERRUPTED` if such a signal has come, else ``None``."""
    import signal

    if not _received:
        return None
    return EXIT_TERMINATED if signal.SIGTERM in _received else EXIT_INTERRUPTED
