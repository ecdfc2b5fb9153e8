"""Weights trained here and shipped with the package (each with a model card beside it)."""

from pathlib import Path

WEIGHTS = Path(__file__).resolve().parent
SYNCNET = WEIGHTS / "syncnet.pth"  # the expert SyncNet trained on ../shared/data/video: see syncnet.md
