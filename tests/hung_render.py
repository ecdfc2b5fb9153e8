"""A stand-in render process for the job manager's tests (stdlib only: the spawned child starts fast)."""

from __future__ import annotations

import signal
import time
from pathlib import Path


def hung_render(options, out, labels, conn) -> None:
    """Hangs as a render stuck in native code would: it has begun its output and ignores SIGTERM."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    (Path(out).parent / ".talkface-partial.mp4").write_bytes(bytes(1000))
    conn.send(("progress", 0.1))
    time.sleep(3600)
