"""A corpus of awkward and broken inputs, each run through `talkface sync` as a user would.

Every case must end in one of two ways: exit 0 with a valid MP4 as long as the speech, or exit 1
with one line on stderr naming the problem (never a traceback). Either way nothing else is left in
the folder, and the inputs are unchanged. The options' own errors (argparse) are one line too.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import wave
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import data_file, probe, read_frames

from talkface.media.audio import SAMPLE_RATE, load_audio, resample

FACE_VIDEO = "video/grid_brbk7n.mpg"  # 360x288, 3 s, 25 fps
PORTRAIT = "image/woman_happy_sadtalker.png"  # 256x256
SPEECH = "audio/es_dreamtalk_spanish1.wav"  # 4.51 s, 16 kHz


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """16-bit PCM WAV of ``(n,)`` mono or ``(n, channels)`` float samples."""
    data = samples if samples.ndim == 2 else samples[:, None]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(data.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(data, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def encode(path: Path, frames: list[np.ndarray], codec: str, pix_fmt: str, pts=None, container="mp4") -> Path:
    """RGB(A) frames to a video file with ``codec`` / ``pix_fmt``; ``pts`` in ms for a variable rate."""
    with av.open(str(path), "w", format=container) as c:
        v = c.add_stream(codec, rate=25)
        v.height, v.width = frames[0].shape[:2]
        v.pix_fmt = pix_fmt
        if pts is not None:
            v.codec_context.time_base = Fraction(1, 1000)
        source = "rgba" if frames[0].shape[2] == 4 else "rgb24"
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(f, format=source)
            frame.pts = i if pts is None else pts[i]
            if pts is not None:
                frame.time_base = Fraction(1, 1000)
            c.mux(v.encode(frame))
        c.mux(v.encode(None))
    return path


def make_case(name: str, folder: Path) -> tuple[list[str], str]:
    """Build one case in ``folder``: the ``talkface sync`` arguments (no ``-o``) and the expectation:
    ``"ok"``, the words the one-line error must contain, or ``"either"`` (a video or a one-line error)."""
    clip, portrait, speech = data_file(FACE_VIDEO), data_file(PORTRAIT), data_file(SPEECH)
    voice = load_audio(speech)
    short = write_wav(folder / "short.wav", voice[: 2 * SAMPLE_RATE], SAMPLE_RATE)
    frames = read_frames(clip)[:40]
    face = lambda p: ["--face", str(p), "--audio", str(short)]  # noqa: E731
    rgb = cv2.cvtColor(cv2.imread(str(portrait)), cv2.COLOR_BGR2RGB)
    if name == "truncated video":
        data = clip.read_bytes()
        (folder / "cut.mpg").write_bytes(data[: len(data) * 6 // 10])
        return face(folder / "cut.mpg"), "ok"
    if name == "video zeroed in the middle":
        data = bytearray(clip.read_bytes())
        data[len(data) // 3 : len(data) // 3 + 40_000] = bytes(40_000)
        (folder / "holes.mpg").write_bytes(bytes(data))
        return face(folder / "holes.mpg"), "ok"
    if name == "mp4 header only":
        data = encode(folder / "full.mp4", frames, "libx264", "yuv420p").read_bytes()
        (folder / "full.mp4").unlink()
        (folder / "head.mp4").write_bytes(data[:2000])
        return face(folder / "head.mp4"), "head.mp4:"
    if name == "empty face":
        (folder / "empty.mp4").write_bytes(b"")
        return face(folder / "empty.mp4"), "empty.mp4: is empty (0 bytes)"
    if name == "folder as face":
        (folder / "clip.mp4").mkdir()
        return face(folder / "clip.mp4"), "clip.mp4: is a folder"
    if name == "random bytes":
        (folder / "noise.mp4").write_bytes(
            np.random.default_rng(0).integers(0, 256, 30_000, np.uint8).tobytes()
        )
        return face(folder / "noise.mp4"), "noise.mp4: is not a video, image or audio file we can read"
    if name == "text named png":
        (folder / "notes.png").write_text("not a picture\n" * 100)
        return face(folder / "notes.png"), "notes.png: is not a video, image or audio file we can read"
    if name == "odd size 4:4:4":
        odd = [cv2.resize(f, (361, 287)) for f in frames]
        return face(encode(folder / "odd.mp4", odd, "libx264", "yuv444p")), "ok"
    if name == "variable frame rate":
        pts = np.cumsum([0] + [30 if i % 3 else 60 for i in range(len(frames) - 1)]).tolist()
        return face(encode(folder / "vfr.mp4", frames, "libx264", "yuv420p", pts=pts)), "ok"
    if name == "rotated":
        turned = [cv2.rotate(f, cv2.ROTATE_90_CLOCKWISE) for f in frames]
        path = folder / "phone.mp4"
        with av.open(str(path), "w") as c:
            v = c.add_stream("libx264", rate=25)
            v.height, v.width = turned[0].shape[:2]
            v.pix_fmt = "yuv420p"
            v.set_display_rotation(90)
            for i, f in enumerate(turned):
                frame = av.VideoFrame.from_ndarray(f, format="rgb24")
                frame.pts = i
                c.mux(v.encode(frame))
            c.mux(v.encode(None))
        return face(path), "ok"
    if name == "10-bit video":
        return face(encode(folder / "deep.mp4", frames, "libx264", "yuv420p10le")), "ok"
    if name == "16-bit photo":
        cv2.imwrite(str(folder / "deep.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
        return face(folder / "deep.png"), "ok"
    if name == "alpha photo":
        rgba = np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])
        cv2.imwrite(str(folder / "alpha.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
        return face(folder / "alpha.png"), "ok"
    if name == "alpha video":
        rgba = [np.dstack([f, np.full(f.shape[:2], 200, np.uint8)]) for f in frames]
        return face(encode(folder / "alpha.mov", rgba, "qtrle", "argb", container="mov")), "ok"
    if name == "CMYK photo":
        from PIL import Image

        Image.fromarray(rgb).convert("CMYK").save(folder / "cmyk.jpg")
        return face(folder / "cmyk.jpg"), "ok"
    if name == "grey photo":
        cv2.imwrite(str(folder / "grey.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        return face(folder / "grey.png"), "ok"
    if name == "huge photo":
        big = cv2.resize(rgb, (6000, 6000), interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(str(folder / "huge.jpg"), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
        tiny = write_wav(folder / "tiny.wav", voice[: SAMPLE_RATE // 2], SAMPLE_RATE)
        return ["--face", str(folder / "huge.jpg"), "--audio", str(tiny)], "ok"
    if name == "tiny photo":
        cv2.imwrite(str(folder / "tiny.png"), cv2.resize(rgb, (16, 16)))
        return face(folder / "tiny.png"), "either"  # mediapipe may still find a face in 16 px
    if name == "animated gif":
        path = folder / "anim.gif"
        from PIL import Image

        Image.fromarray(frames[0]).save(
            path, save_all=True, append_images=[Image.fromarray(f) for f in frames[1:10]]
        )
        return face(path), "ok"
    # Speech.
    with_audio = lambda p: ["--face", str(portrait), "--audio", str(p)]  # noqa: E731
    two = voice[: 2 * SAMPLE_RATE]
    if name == "11025 Hz speech":
        return with_audio(write_wav(folder / "s.wav", resample(two, SAMPLE_RATE, 11025), 11025)), "ok"
    if name == "96 kHz stereo speech":
        up = resample(two, SAMPLE_RATE, 96000)
        return with_audio(write_wav(folder / "s.wav", np.stack([up, -up], 1), 96000)), "ok"
    if name == "5.1 speech":
        return with_audio(write_wav(folder / "s.wav", np.tile(two[:, None], (1, 6)) / 2, SAMPLE_RATE)), "ok"
    if name == "silent speech":
        return with_audio(write_wav(folder / "s.wav", np.zeros(2 * SAMPLE_RATE), SAMPLE_RATE)), "ok"
    if name == "20 ms of speech":
        return with_audio(write_wav(folder / "s.wav", two[:320], SAMPLE_RATE)), "s.wav: audio is empty"
    if name == "video without sound as speech":
        return with_audio(
            encode(folder / "mute.mp4", frames[:10], "libx264", "yuv420p")
        ), "mute.mp4: no audio stream"
    if name == "truncated mp3":
        data = data_file("audio/en_librivox_copperfield_06.mp3").read_bytes()
        (folder / "cut.mp3").write_bytes(data[:40_000])
        return with_audio(folder / "cut.mp3"), "ok"
    # Options.
    base = ["--face", str(portrait), "--audio", str(short)]
    if name == "fps 1000":
        return [*base, "--fps", "1000"], "fps must be a frame rate from 1 to 240"
    if name == "pads not numbers":
        return [*base, "--pads", "a", "b", "c", "d"], "argument --pads: invalid int value: 'a'"
    if name == "unknown engine":
        return [*base, "--engine", "magic"], "argument --engine: invalid choice: 'magic'"
    if name == "box outside":
        return [*base, "--box", "-5", "10", "0", "10"], "box must have 0 <= top < bottom"
    raise KeyError(name)


CASES = [
    "truncated video",
    "video zeroed in the middle",
    "mp4 header only",
    "empty face",
    "folder as face",
    "random bytes",
    "text named png",
    "odd size 4:4:4",
    "variable frame rate",
    "rotated",
    "10-bit video",
    "16-bit photo",
    "alpha photo",
    "alpha video",
    "CMYK photo",
    "grey photo",
    "huge photo",
    "tiny photo",
    "animated gif",
    "11025 Hz speech",
    "96 kHz stereo speech",
    "5.1 speech",
    "silent speech",
    "20 ms of speech",
    "video without sound as speech",
    "truncated mp3",
    "fps 1000",
    "pads not numbers",
    "unknown engine",
    "box outside",
]


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("name", CASES)
def test_an_awkward_input_gives_a_video_or_one_line(tmp_path, name) -> None:
    args, expect = make_case(name, tmp_path)
    before = digests(tmp_path)
    out = tmp_path / "out.mp4"
    proc = subprocess.run(
        [sys.executable, "-m", "talkface.cli", "sync", *args, "-o", str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    if expect == "either":
        expect = "ok" if proc.returncode == 0 else "talkface: "
    if expect == "ok":
        assert proc.returncode == 0, proc.stderr
        info = probe(out)
        speech = Path(args[args.index("--audio") + 1])
        seconds = len(load_audio(speech)) / SAMPLE_RATE
        assert info["frames"] > 0 and abs(info["frames"] / info["fps"] - seconds) <= 1 / info["fps"] + 1e-6
        assert info["audio_rate"] and info["width"] % 2 == 0 and info["height"] % 2 == 0
        out.unlink()
    else:
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode in (1, 2) and len(lines) == 1, proc.stderr
        assert lines[0].startswith("talkface: ") and expect in lines[0], lines[0]
        assert not out.exists()
    assert digests(tmp_path) == before, "an input was changed, or a file was left behind"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], list(tmp_path.iterdir())
    shutil.rmtree(tmp_path, ignore_errors=True)
