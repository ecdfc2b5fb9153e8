"""Settings of ``talkface serve``: one frozen dataclass, filled from the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MB = 1_000_000  # bytes


@dataclass(frozen=True)
class ServeConfig:
    """Server settings.

    Attributes:
        host: address to listen on (``127.0.0.1``: this machine only).
        port: TCP port.
        workers: jobs rendered at once, each in its own process (one job already fills 2 cores).
        max_queue: jobs waiting beyond those; more are refused with 429.
        ttl: seconds a finished job's result (or error) is kept before it expires.
        max_upload_mb: largest upload per file in MB (10^6 bytes); larger gets 413.
        max_seconds: longest speech, and longest face video, in seconds; longer gets 422.
        max_text_chars: longest text to speak; longer gets 422.
        job_timeout: seconds a render may run before it is stopped and its job fails (a hung
            render must not hold a worker for ever; 300 s of 1080p speech take about 150-300 s here).
        retry_after: seconds a client refused with 429 (queue full) is told to wait (``Retry-After``).
        checkpoint: Wav2Lip weights offered to the ``wav2lip`` engine (``None``: no ``wav2lip``).
        hyperlips_checkpoint: HyperLips base weights offered to the ``hyperlips`` engine.
        hyperlips_hr_checkpoint: its HR decoder (optional, with ``hyperlips_checkpoint``).
        workdir: parent of the private temporary directory (default: the system's temp folder;
            it must lie inside that folder, from where the page copies results to its cache).
    """

    host: str = "127.0.0.1"
    port: int = 7860
    workers: int = 2
    max_queue: int = 64
    ttl: float = 3600.0
    max_upload_mb: float = 200.0
    max_seconds: float = 300.0
    max_text_chars: int = 2000
    job_timeout: float = 1800.0
    retry_after: int = 30
    checkpoint: Path | None = None
    workdir: Path | None = None
    hyperlips_checkpoint: Path | None = None
    hyperlips_hr_checkpoint: Path | None = None

    def engine_files(self, engine: str) -> dict[str, Path]:
        """File options (weights) the server gives engine ``engine``, by option name."""
        files = {
            "wav2lip": {"checkpoint": self.checkpoint},
            "hyperlips": {
                "checkpoint": self.hyperlips_checkpoint,
                "hr_checkpoint": self.hyperlips_hr_checkpoint,
            },
        }.get(engine, {})
        return {name: path for name, path in files.items() if path is not None}

    @property
    def max_upload_bytes(self) -> int:
        """Largest upload per file, in bytes."""
        return int(self.max_upload_mb * MB)
