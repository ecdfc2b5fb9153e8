"""The `talkface` command: each bad input gives one line on stderr, exit 1, no partial output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import data_file, probe, write_video


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "talkface.cli", *args], capture_output=True, text=True, timeout=600
    )


def assert_clean_failure(proc: subprocess.CompletedProcess, out: Path, expected: str) -> None:
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert expected in lines[0]
    assert not out.exists()
    assert not list(out.parent.glob(".talkface-*")), "temporary output left behind"


@pytest.fixture
def face() -> Path:
    return data_file("image/chalamet_dreamtalk_f30.png")


@pytest.fixture
def speech() -> Path:
    return data_file("audio/es_dreamtalk_spanish1.wav")


def test_help_documents_wav2lip_flags() -> None:
    proc = run("sync", "--help")
    for flag in ("--pads", "--nosmooth", "--box", "--fps", "--resize-factor", "--loop", "--quiet", "--lang"):
        assert flag in proc.stdout


def test_success_prints_summary(tmp_path, face, speech) -> None:
    out = tmp_path / "ok.mp4"
    proc = run("sync", "--face", str(face), "--audio", str(speech), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "real-time factor" in proc.stdout and "113 frames" in proc.stdout
    assert probe(out)["frames"] == 113


def test_missing_face_file(tmp_path, speech) -> None:
    out = tmp_path / "o.mp4"
    assert_clean_failure(
        run("sync", "--face", str(tmp_path / "nope.mp4"), "--audio", str(speech), "-o", str(out)),
        out,
        "nope.mp4: file not found",
    )


def test_unreadable_and_empty_media(tmp_path, speech, face) -> None:
    out = tmp_path / "o.mp4"
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    assert_clean_failure(
        run("sync", "--face", str(bad), "--audio", str(speech), "-o", str(out)),
        out,
        "bad.mp4: is not a video, image or audio file we can read",
    )
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert_clean_failure(
        run("sync", "--face", str(face), "--audio", str(empty), "-o", str(out)), out, "empty.wav"
    )


def test_no_audio_stream(tmp_path, face) -> None:
    out = tmp_path / "o.mp4"
    silent = write_video(tmp_path / "silent.mp4", [np.zeros((64, 64, 3), np.uint8)] * 5)
    assert_clean_failure(
        run("sync", "--face", str(face), "--audio", str(silent), "-o", str(out)),
        out,
        "silent.mp4: no audio stream",
    )


def test_no_face_anywhere(tmp_path, speech) -> None:
    import cv2
    from skimage import data

    coffee = tmp_path / "coffee.png"
    cv2.imwrite(str(coffee), data.coffee())
    out = tmp_path / "o.mp4"
    assert_clean_failure(
        run("sync", "--face", str(coffee), "--audio", str(speech), "-o", str(out)),
        out,
        "coffee.png: no face found in any frame",
    )


def test_text_errors(tmp_path, face) -> None:
    out = tmp_path / "o.mp4"
    assert_clean_failure(
        run("sync", "--face", str(face), "--text", "  ", "-o", str(out)), out, "text is empty"
    )
    assert_clean_failure(
        run("sync", "--face", str(face), "--text", "hi", "--lang", "xx", "-o", str(out)),
        out,
        "unknown language 'xx'",
    )


def test_unwritable_output(tmp_path, face, speech) -> None:
    out = tmp_path / "no_such_dir" / "o.mp4"
    proc = run("sync", "--face", str(face), "--audio", str(speech), "-o", str(out))
    assert (
        proc.returncode == 1
        and "output folder does not exist" in proc.stderr
        and "Traceback" not in proc.stderr
    )
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        out = ro / "o.mp4"
        proc = run("sync", "--face", str(face), "--audio", str(speech), "-o", str(out))
        if proc.returncode == 0:  # root ignores directory permissions
            pytest.skip("running as root: a read-only directory is still writable")
        assert_clean_failure(proc, out, "cannot write output")
    finally:
        ro.chmod(0o700)


def test_bad_motion_model(tmp_path, face, speech) -> None:
    out = tmp_path / "o.mp4"
    common = ("sync", "--face", str(face), "--audio", str(speech), "-o", str(out))
    missing = tmp_path / "nope.npz"
    assert_clean_failure(
        run(*common, "--motion-model", str(missing)),
        out,
        "nope.npz: motion model not found",
    )
    garbage = tmp_path / "bad.npz"
    garbage.write_text("not a model")
    assert_clean_failure(
        run(*common, "--motion-model", str(garbage)),
        out,
        "bad.npz: not a talkface motion model",
    )


def test_train_motion_on_a_folder_without_clips(tmp_path) -> None:
    proc = run("train", "motion", str(tmp_path), "--out", str(tmp_path / "m.npz"))
    assert proc.returncode == 1 and "no talking clips found" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize(("signum", "status", "word"), [(15, 143, "terminated"), (2, 130, "interrupted")])
def test_a_signal_mid_job_cleans_up(tmp_path, face, signum, status, word) -> None:
    """SIGTERM (as from a service manager) and Ctrl-C mid-render: exit 128 + signal, one line, no files."""
    import signal
    import time

    speech = data_file("audio/en_musetalk_eng.wav")  # 60 s: still rendering when the signal comes
    out = tmp_path / "o.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "talkface.cli", "sync", "--face", str(face), "--audio", str(speech)]
        + ["-o", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(".talkface-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # until the writer has its temporary file
    assert proc.poll() is None, proc.stderr.read()
    proc.send_signal(signal.Signals(signum))
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == status, stderr
    assert stderr.strip() == f"talkface: {word}", stderr
    assert not out.exists() and not list(tmp_path.iterdir()), list(tmp_path.iterdir())


def test_files_that_are_not_media_say_so(tmp_path, face, speech) -> None:
    out = tmp_path / "o.mp4"
    folder = tmp_path / "clip.mp4"
    folder.mkdir()
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    for bad, problem in [
        (folder, "clip.mp4: is a folder, not a file"),
        (empty, "empty.png: is empty (0 bytes)"),
        (noise, "noise.mp4: is not a video, image or audio file we can read"),
    ]:
        assert_clean_failure(
            run("sync", "--face", str(bad), "--audio", str(speech), "-o", str(out)), out, problem
        )
        assert_clean_failure(
            run("sync", "--face", str(face), "--audio", str(bad), "-o", str(out)), out, problem
        )
        assert "Errno" not in problem


def test_bad_options_are_refused_before_work_starts(tmp_path, face, speech) -> None:
    out = tmp_path / "o.mp4"
    common = ("sync", "--face", str(face), "--audio", str(speech), "-o", str(out))
    for option, problem in [
        (("--fps", "-5"), "fps must be a frame rate from 1 to 240, got -5.0"),
        (("--fps", "0"), "fps must be a frame rate from 1 to 240, got 0.0"),
        (("--fps", "nan"), "fps must be a frame rate"),
        (("--resize-factor", "0"), "resize_factor must be a whole number from 1 to 8, got 0"),
        (("--pads", "0", "900", "0", "0"), "pads must be 4 whole numbers from -500 to 500"),
        (("--box", "10", "5", "0", "10"), "box must have 0 <= top < bottom"),
        (("--engine", "wav2lip"), "the wav2lip engine needs --checkpoint"),
        (
            ("--engine", "wav2lip", "--checkpoint", "w.pth", "--motion", "heuristic"),
            "motion is not an option of the wav2lip engine",
        ),
        (
            ("--motion", "heuristic", "--motion-model", "m.npz"),
            "motion_model is for motion learned, not heuristic",
        ),
        (
            ("--motion", "visemes"),
            "motion visemes needs the exact phoneme timing of synthesised speech (--text)",
        ),
    ]:
        assert_clean_failure(run(*common, *option), out, problem)


def test_the_output_may_not_overwrite_an_input(tmp_path, speech) -> None:
    """By any spelling: the same path, ./, a symbolic link or a hard link; the input stays intact."""
    import hashlib
    import os
    import shutil

    clip = shutil.copyfile(data_file("video/grid_brbk7n.mpg"), tmp_path / "clip.mpg")
    sound = shutil.copyfile(speech, tmp_path / "same.wav")
    (tmp_path / "link.mpg").symlink_to(clip)
    os.link(clip, tmp_path / "hard.mpg")
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (clip, sound)}
    cases = [
        (("--face", str(clip), "--audio", str(sound)), str(clip), "face"),
        (("--face", "clip.mpg", "--audio", "same.wav"), "./clip.mpg", "face"),
        (("--face", str(clip), "--audio", str(sound)), str(tmp_path / "link.mpg"), "face"),
        (("--face", str(clip), "--audio", str(sound)), str(tmp_path / "hard.mpg"), "face"),
        (("--face", str(clip), "--audio", str(sound)), str(sound), "audio"),
    ]
    for inputs, out, role in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "talkface.cli", "sync", *inputs, "-o", out],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
        assert proc.returncode == 1, proc.stderr
        assert (
            proc.stderr.strip()
            == f"talkface: {Path(out)}: the output would overwrite the {role} input; choose another name"
        )
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (clip, sound)} == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mpg", "hard.mpg", "link.mpg", "same.wav"]
