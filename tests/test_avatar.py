"""Person-specific avatars: training on real footage, the folder it writes, rendering with it, resuming
after an interruption, and one-line errors for footage or folders it cannot use."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import data_file, probe, read_frames, write_video

from talkface.avatar import AVATAR_FILE, AVATAR_LR, load_avatar, train_avatar
from talkface.errors import TalkfaceError
from talkface.media.audio import SAMPLE_RATE, load_audio
from talkface.models.checkpoint import save_checkpoint
from talkface.models.hyperlips import HyperLipsBase, HyperLipsConfig
from talkface.training.progress import LR_FLOOR, WALL_MINUTES

FOOTAGE = "video/styletalk_andrew_ng_clip1_25s_av.mp4"  # 25 s, one person speaking


@pytest.fixture(scope="module")
def tiny_init(tmp_path_factory):
    """A narrow random HyperLips base (fast to fine-tune; the shipped generic one is wider)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("init")
    return save_checkpoint(folder / "init.pth", HyperLipsBase(HyperLipsConfig(width=0.125)))


@pytest.fixture(scope="module")
def avatar(tmp_path_factory, tiny_init):
    out = tmp_path_factory.mktemp("avatars") / "andrew"
    return train_avatar(data_file(FOOTAGE), out, minutes=0.05, init=tiny_init)


def test_avatar_folder_describes_itself(avatar) -> None:
    meta = json.loads((avatar.folder / AVATAR_FILE).read_text())
    assert meta["format"] == "talkface.avatar" and meta["engine"] == "hyperlips"
    assert meta["config"] == {"width": 0.125}
    assert meta["source"]["val_seconds"][1] == pytest.approx(25.0, abs=1.0)
    assert meta["source"]["train_seconds"][1] == pytest.approx(
        0.9 * meta["source"]["val_seconds"][1], abs=0.1
    )
    assert meta["training"]["steps"] >= 1 and meta["held_out"]["l1"] > 0
    for name in ("base.pth", "reference.png", "model_card.md"):
        assert (avatar.folder / name).is_file()
    assert "Held-out figures" in (avatar.folder / "model_card.md").read_text()
    assert load_avatar(avatar.folder).base == avatar.folder / "base.pth"


def test_sync_with_avatar_renders_the_person(avatar, tmp_path) -> None:
    from talkface.media.audio import save_wav

    out = tmp_path / "out.mp4"
    audio = tmp_path / "speech.wav"
    save_wav(audio, load_audio(data_file(FOOTAGE))[: 2 * SAMPLE_RATE])
    proc = subprocess.run(
        [sys.executable, "-m", "talkface.cli", "sync", "--avatar", str(avatar.folder), "--audio", str(audio)]
        + ["-o", str(out), "-q"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    info = probe(out)
    assert info["frames"] == pytest.approx(2 * info["fps"], abs=2)
    assert info["audio_seconds"] == pytest.approx(2.0, abs=0.1)
    # The avatar's own video is the face: the output frames are its frames, lower face redrawn.
    source = read_frames(data_file(FOOTAGE))[:3]
    frames = read_frames(out)[:3]
    assert frames[0].shape == source[0].shape
    top = slice(0, source[0].shape[0] // 4)
    assert np.abs(frames[1][top].astype(int) - source[1][top].astype(int)).mean() < 3


def test_interrupted_training_resumes(avatar, tiny_init, tmp_path, monkeypatch) -> None:
    """Ctrl-C during training keeps a checkpoint; the same command again goes on from it."""
    import talkface.training.wav2lip as trainer

    out = tmp_path / "again"
    real_batch = trainer.generator_batch
    calls = {"n": 0}

    def interrupted(clips, batch, rng):
        calls["n"] += 1
        if calls["n"] == 4:  # the held-out set, then three training steps
            raise KeyboardInterrupt
        return real_batch(clips, batch, rng)

    monkeypatch.setattr(trainer, "generator_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_avatar(data_file(FOOTAGE), out, minutes=5, init=tiny_init)
    saved = sorted((out / "work" / "checkpoints").glob("checkpoint_step*.pth"))
    assert [p.name for p in saved] == ["checkpoint_step000000002.pth"]
    assert not (out / AVATAR_FILE).exists()
    monkeypatch.setattr(trainer, "generator_batch", real_batch)
    again = train_avatar(data_file(FOOTAGE), out, minutes=0.001, init=tiny_init)
    assert again.meta["training"]["steps"] > 2
    # The budget counts the interrupted run's minutes: the resumed one starts at the end of the
    # cosine schedule, the learning rate at its floor.
    log = json.loads((out / "work" / "checkpoints" / "losses.json").read_text())
    minutes = [m for _, m in log[WALL_MINUTES]]
    assert minutes == sorted(minutes) and minutes[0] > 0.001
    assert log["lr"][-1][1] == pytest.approx(AVATAR_LR * LR_FLOOR)


def test_footage_it_cannot_use_is_one_line(tmp_path, tiny_init) -> None:
    speech = load_audio(data_file(FOOTAGE))
    cases = {
        "short": (
            write_video(tmp_path / "short.mp4", read_frames(data_file(FOOTAGE))[:250], audio=speech),
            "too short",
        ),
        "faceless": (
            write_video(tmp_path / "faceless.mp4", [np.full((64, 64, 3), 128, np.uint8)] * 550, audio=speech),
            "face in only",
        ),
        "silent": (
            write_video(
                tmp_path / "silent.mp4",
                read_frames(data_file(FOOTAGE))[:550],
                audio=np.zeros(22 * SAMPLE_RATE, np.float32),
            ),
            "no speech",
        ),
    }
    for name, (video, message) in cases.items():
        out = tmp_path / f"avatar_{name}"
        proc = subprocess.run(
            [sys.executable, "-m", "talkface.cli", "avatar", "train", str(video), "--out", str(out)]
            + ["--init", str(tiny_init), "--minutes", "0.01"],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 1, (name, proc.stderr)
        assert proc.stderr.count("\n") == 1 and message in proc.stderr, (name, proc.stderr)
        assert not out.exists(), name  # nothing half-made is left


def test_corrupt_avatar_folder_is_one_line(avatar, tmp_path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(avatar.folder, broken, ignore=shutil.ignore_patterns("work"))
    (broken / "base.pth").unlink()
    with pytest.raises(TalkfaceError, match="avatar file missing: base.pth"):
        load_avatar(broken)
    (broken / AVATAR_FILE).write_text("{not json")
    with pytest.raises(TalkfaceError, match="not readable JSON"):
        load_avatar(broken)
    with pytest.raises(TalkfaceError, match="not an avatar folder"):
        load_avatar(tmp_path)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "talkface.cli",
            "sync",
            "--avatar",
            str(broken),
            "--text",
            "hi",
            "-o",
            "x.mp4",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "avatar.json" in proc.stderr
    assert not (tmp_path / "x.mp4").exists()
