"""Real-time factor and peak memory of `talkface sync` on a 720p 25 fps talking clip, or (``--photo``)
on a portrait animated with head motion and blinks at 512x512 and at 1280x720.

The 720p inputs are made from a shared 512x512 clip (scaled to 720 lines, padded to 1280 wide,
played forwards and backwards until long enough) with the first 20 s / 60 s of a shared speech
recording. Each measurement runs `talkface sync` in a fresh process; peak RSS is that process's high-water
mark ``VmHWM`` (kB, from /proc). With ``--repeat N`` the lengths are run in turn N times (so a
slow spell of a shared machine hits both alike) and the table gives the fastest, median and
slowest real-time factor and the highest peak RSS (how full the frame queues get, up to 66 MB at
720p, depends on timing: single runs of the same input differ by up to 50 MiB). Prints the table
and the command that made it.

With ``--photo`` the faces are a shared portrait scaled to 512x512, and scaled to 720 lines with its
edges stretched to 1280 wide; each is animated by default settings (PoseVAE head motion, blinks).

    .venv/bin/python benchmarks/speed.py [--data ../shared/data] [--seconds 20 60] [--repeat 3] [--photo]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from talkface.media.audio import load_audio, save_wav
from talkface.media.writer import audio_format

REPO = Path(__file__).resolve().parents[1]
CLIP = "video/hdtf_katiehill_WDA_000.mp4"
SPEECH = "audio/en_musetalk_eng.wav"
PORTRAIT = "image/elizabeth_olsen_hallo.jpg"


def make_photos(portrait: Path, out: Path) -> dict[str, Path]:
    """``portrait`` as a 512x512 photo and as a 1280x720 one (720 lines, edges stretched sideways)."""
    import cv2

    bgr = cv2.imread(str(portrait))
    square = cv2.resize(bgr, (512, 512), interpolation=cv2.INTER_AREA)
    tall = cv2.resize(bgr, (720, 720), interpolation=cv2.INTER_AREA)
    wide = cv2.copyMakeBorder(tall, 0, 0, 280, 280, cv2.BORDER_REPLICATE)
    photos = {"512x512": out / "photo512.png", "1280x720": out / "photo720.png"}
    cv2.imwrite(str(photos["512x512"]), square)
    cv2.imwrite(str(photos["1280x720"]), wide)
    return photos


def make_720p(clip: Path, seconds: float, out: Path) -> Path:
    """Scale ``clip`` to 720 lines, pad to 1280x720, ping-pong it to ``seconds`` at 25 fps (no audio)."""
    with av.open(str(clip)) as c:
        frames = [f.reformat(width=720, height=720).to_ndarray(format="rgb24") for f in c.decode(video=0)]
    n = int(round(seconds * 25))
    cycle = frames + frames[-2:0:-1]
    with av.open(str(out), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 1280, 720, "yuv420p"
        s.options = {"crf": "18", "preset": "veryfast"}
        canvas = np.full((720, 1280, 3), 40, np.uint8)
        for i in range(n):
            canvas[:, 280:1000] = cycle[i % len(cycle)]
            f = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    return out


def cut_audio(speech: Path, seconds: float, out: Path) -> Path:
    """First ``seconds`` of ``speech`` as 16-bit mono wav at its own rate."""
    rate, _ = audio_format(speech)
    return save_wav(out, load_audio(speech, rate)[: int(seconds * rate)], rate)


def measure(face: Path, audio: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `talkface sync` run in a child process."""
    # VmHWM, not ru_maxrss: a forked child's ru_maxrss starts at its parent's RSS (kept across exec),
    # and this parent has just held a whole clip in memory to build the input.
    code = (
        "import talkface\n"
        f"talkface.sync({str(face)!r}, {str(out)!r}, audio={str(audio)!r}, quiet=True)\n"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n"
    )
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    return wall, int(proc.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--seconds", type=float, nargs="+", default=[20.0, 60.0])
    p.add_argument("--repeat", type=int, default=3, help="runs per length (fastest, median, slowest)")
    p.add_argument("--photo", action="store_true", help=f"a photo ({PORTRAIT}) at 512x512 and 1280x720")
    args = p.parse_args()
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    if args.photo:
        photo_speed(args)
        return
    print(f"input: {CLIP} scaled+padded to 1280x720 @ 25 fps; speech: first N s of {SPEECH}")
    runs: dict[float, list[tuple[float, float]]] = {seconds: [] for seconds in args.seconds}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = {
            seconds: (
                make_720p(args.data / CLIP, seconds, tmp / f"face{seconds:g}.mp4"),
                cut_audio(args.data / SPEECH, seconds, tmp / f"speech{seconds:g}.wav"),
            )
            for seconds in args.seconds
        }
        for _ in range(args.repeat):
            for seconds, (face, audio) in inputs.items():
                runs[seconds].append(measure(face, audio, tmp / "out.mp4"))
    header = ("speech s", "runs", "wall s best", "RTF best", "median", "worst", "peak RSS MiB")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (9, 5, 12, 9, 7, 6, 13), strict=True)))
    rss = {}
    for seconds, results in runs.items():
        rtf = np.array([wall for wall, _ in results]) / seconds
        rss[seconds] = max(r for _, r in results)
        print(
            f"{seconds:9.1f} {len(results):5d} {rtf.min() * seconds:12.2f} {rtf.min():9.3f} "
            f"{np.median(rtf):7.3f} {rtf.max():6.3f} {rss[seconds]:13.0f}"
        )
    if len(rss) > 1:
        first, last = min(rss), max(rss)
        print(f"peak RSS {last:g} s vs {first:g} s: {100 * (rss[last] / rss[first] - 1):+.1f}%")
    print(f"({os.cpu_count()} CPUs; wall includes process start-up and imports)")


def photo_speed(args: argparse.Namespace) -> None:
    """The ``--photo`` table: each photo size and speech length, ``--repeat`` times in turn."""
    print(
        f"input: {PORTRAIT} as 512x512 and 1280x720 photos, 25 fps, head motion and blinks; "
        f"speech: first N s of {SPEECH}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photos = make_photos(args.data / PORTRAIT, tmp)
        speech = {s: cut_audio(args.data / SPEECH, s, tmp / f"speech{s:g}.wav") for s in args.seconds}
        runs: dict[tuple[str, float], list[tuple[float, float]]] = {
            (size, s): [] for size in photos for s in args.seconds
        }
        for _ in range(args.repeat):
            for size, s in runs:
                runs[size, s].append(measure(photos[size], speech[s], tmp / "out.mp4"))
    header = ("photo", "speech s", "runs", "RTF best", "median", "worst", "peak RSS MiB")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (9, 9, 5, 9, 7, 6, 13), strict=True)))
    for (size, s), results in runs.items():
        rtf = np.array([wall for wall, _ in results]) / s
        print(
            f"{size:>9} {s:9.1f} {len(results):5d} {rtf.min():9.3f} {np.median(rtf):7.3f} {rtf.max():6.3f} "
            f"{max(r for _, r in results):13.0f}"
        )
    print(f"({os.cpu_count()} CPUs; wall includes process start-up and imports)")


if __name__ == "__main__":
    main()
