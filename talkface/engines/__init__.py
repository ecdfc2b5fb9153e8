"""Engines: what turns a tracked frame plus speech into a rendered frame.

An engine is prepared once with the speech and the number of output frames, then receives the
output frames in order with their face landmarks and returns the frames that are finished (in
order; a batching engine may hold some back until :meth:`Engine.flush`).

Each engine's module declares an :class:`EngineSpec` (its name, options class, builder, summary
and the weights it needs); :mod:`talkface.engines.registry` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from talkface.media.audio import Speech
from talkface.media.frame import I420Frame
from talkface.options import EngineOptions

# (frame, whether a face was rendered in it); the frame is I420 or a (H, W, 3) uint8 RGB array.
Rendered = tuple[I420Frame | np.ndarray, bool]


class Engine(Protocol):
    """Interface of every engine (``warp``, ``wav2lip``, ...)."""

    def prepare(self, speech: Speech, n_frames: int, fps: float) -> None:
        """Analyse the speech for ``n_frames`` output frames at ``fps`` frames/s."""

    def submit(
        self, index: int, frame: I420Frame | np.ndarray, landmarks: np.ndarray | None
    ) -> list[Rendered]:
        """Give output frame ``index`` (an :class:`~talkface.media.frame.I420Frame` or a
        ``(H, W, 3)`` uint8 RGB array, owned by the engine from now on) with its ``(478, 2)``
        float32 pixel landmarks (``None``: no face, pass the frame through)."""

    def flush(self) -> list[Rendered]:
        """Return the frames still held back."""


@dataclass(frozen=True)
class EngineSpec:
    """One engine in the registry.

    Attributes:
        name: the ``--engine`` name.
        options: its frozen options dataclass (a :class:`~talkface.options.EngineOptions`).
        build: ``build(options) -> Engine``; it may import heavy libraries (torch) when called.
        summary: one line for ``--help`` and the page.
        weights: the weights it needs, in words (shipped ones, or an option that names them).
    """

    name: str
    options: type[EngineOptions]
    build: Callable[[EngineOptions], Engine]
    summary: str
    weights: str
