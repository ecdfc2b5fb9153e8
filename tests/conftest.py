"""Shared fixtures: the real data in ../shared/data (tests skip with a clear message without it)."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TALKFACE_DATA", REPO.parent / "shared" / "data"))


def data_file(relative: str) -> Path:
    """A file under the shared data folder, or skip the test saying what is missing."""
    path = DATA / relative
    if not path.is_file():
        pytest.skip(f"real data not available: {path} (set TALKFACE_DATA to the shared data folder)")
    return path


def read_frames(path: Path) -> list[np.ndarray]:
    """All frames of a (short) video as RGB uint8 arrays."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def probe(path: Path) -> dict:
    """Video size, frame rate, frame count and duration; audio rate and duration."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info = {
            "width": v.codec_context.width,
            "height": v.codec_context.height,
            "fps": float(v.average_rate),
            "frames": sum(1 for _ in c.decode(video=0)),
        }
    with av.open(str(path)) as c:
        a = c.streams.audio[0] if c.streams.audio else None
        info["audio_rate"] = a.sample_rate if a else None
        info["audio_seconds"] = float(a.duration * a.time_base) if a and a.duration else None
    return info


def write_video(
    path: Path, frames: list[np.ndarray], fps: int = 25, audio: np.ndarray | None = None, rate: int = 16000
) -> Path:
    """Encode RGB frames (and optional mono float audio) to an MP4 test input."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        v.options = {"crf": "12"}
        a = c.add_stream("aac", rate=rate) if audio is not None else None
        if a is not None:
            a.layout = "mono"
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts = i
            c.mux(v.encode(frame))
        c.mux(v.encode(None))
        if a is not None:
            for s in range(0, len(audio), 1024):
                af = av.AudioFrame.from_ndarray(
                    audio[None, s : s + 1024].astype(np.float32), format="fltp", layout="mono"
                )
                af.sample_rate, af.pts = rate, s
                c.mux(a.encode(af))
            c.mux(a.encode(None))
    return path


def _tracked_state() -> str | None:
    """The working tree's changes to tracked files (status and content), or ``None`` outside git."""
    import subprocess

    try:
        status = subprocess.run(
            ["git", "-C", str(REPO), "diff", "HEAD", "--binary"], capture_output=True, timeout=60, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    import hashlib

    return hashlib.sha256(status).hexdigest()


@pytest.fixture(scope="session", autouse=True)
def tests_change_no_tracked_file():
    """Fails the run if a test wrote a tracked file (a screenshot, a weight, a doc)."""
    before = _tracked_state()
    yield
    after = _tracked_state()
    if before is not None and after != before:
        pytest.fail("a test changed a tracked file of the repository (see git status)")


@pytest.fixture(scope="session")
def whisper():
    """The bundled Whisper base, loaded once for all tests (each load checks the model's sha256)."""
    from talkface.speech.whisper import Whisper

    return Whisper()


@pytest.fixture(scope="session")
def encoder():
    """The bundled Whisper base's encoder in PyTorch, loaded once for all tests."""
    from talkface.speech.whisper import WhisperEncoder

    return WhisperEncoder()


@pytest.fixture(scope="session")
def astronaut(tmp_path_factory) -> tuple[np.ndarray, np.ndarray]:
    """The demo photo (RGB) and its mesh with depth."""
    import cv2

    from talkface.demo import demo_face
    from talkface.face.track import FaceTracker

    path = demo_face(tmp_path_factory.mktemp("face"))
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    tracker = FaceTracker(static=True)
    try:
        found = tracker(rgb)
    finally:
        tracker.close()
    return rgb, np.concatenate([found.landmarks, found.depth[:, None]], 1)
