"""Engines: what turns a tracked frame plus speech into a rendered frame.

An engine is prepared once with the speech and the number of output frames, then receives the
output frames in order with their face landmarks and returns the frames that are finished (in
order; a batching engine may hold some back until :meth:`Engine.flush`).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from talkface.media.audio import Speech

Rendered = tuple[np.ndarray, bool]  # (RGB frame, whether a face was rendered in it)


class Engine(Protocol):
    """Interface of every engine (``warp``, ``wav2lip``, ...)."""

    def prepare(self, speech: Speech, n_frames: int, fps: float) -> None:
        """Analyse the speech for ``n_frames`` output frames at ``fps`` frames/s."""

    def submit(self, index: int, frame: np.ndarray, landmarks: np.ndarray | None) -> list[Rendered]:
        """Give output frame ``index`` (``(H, W, 3)`` uint8 RGB, owned by the engine from now on)."""

    def flush(self) -> list[Rendered]:
        """Return the frames still held back."""
