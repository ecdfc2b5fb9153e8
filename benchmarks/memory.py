"""Peak memory of `talkface sync` against the speech length: a 1080p face video and a photo.

The face video is a shared 1080x1920 clip played again and again (its packets remuxed, no
re-encoding) to the length of the speech, which is a shared recording repeated; the photo is a
shared portrait. Each run is `talkface.sync` in a fresh process; peak RSS is that process's
high-water mark ``VmHWM`` (the pocketsphinx helper process is not counted). Prints one row per run
and, per input, the longest run's peak against the shortest's.

    .venv/bin/python benchmarks/memory.py [--data ../shared/data] [--minutes 1 10] [--photo]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
from speed import measure  # benchmarks/speed.py: wall seconds and VmHWM of one sync in a child

from talkface.media.audio import load_audio, save_wav

REPO = Path(__file__).resolve().parents[1]
CLIP = "video/latentsync_demo2.mp4"  # 1080x1920, 20 s, 25 fps
PORTRAIT = "image/chalamet_dreamtalk_f30.png"
SPEECH = "audio/en_musetalk_eng.wav"  # 60 s, 16 kHz


def looped_video(clip: Path, seconds: float, out: Path) -> Path:
    """``clip``'s video stream repeated to at least ``seconds``, by remuxing its packets."""
    with av.open(str(out), "w") as dst:
        with av.open(str(clip)) as src:
            stream = dst.add_stream_from_template(src.streams.video[0])
        offset = 0
        while offset * stream.time_base < seconds:
            with av.open(str(clip)) as src:
                s = src.streams.video[0]
                last = 0
                for packet in src.demux(s):
                    if packet.dts is None:
                        continue
                    last = max(last, packet.pts + packet.duration)
                    packet.pts += offset
                    packet.dts += offset
                    packet.stream = stream
                    dst.mux(packet)
            offset += last
    return out


def repeated_speech(speech: Path, seconds: float, out: Path) -> Path:
    """``speech`` repeated to ``seconds``, 16 kHz mono wav."""
    x = load_audio(speech)
    n = int(seconds * 16000)
    return save_wav(out, np.tile(x, n // len(x) + 1)[:n])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    p.add_argument("--photo", action="store_true", help=f"also drive the photo {PORTRAIT}")
    args = p.parse_args()
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"video: {CLIP} looped (1080x1920, 25 fps); photo: {PORTRAIT}; speech: {SPEECH} repeated")
    print(f"{'input':>6} {'minutes':>8} {'wall s':>8} {'RTF':>6} {'peak RSS MiB':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        faces = {"video": None, **({"photo": args.data / PORTRAIT} if args.photo else {})}
        for kind in faces:
            peaks = {}
            for minutes in args.minutes:
                audio = repeated_speech(args.data / SPEECH, minutes * 60, tmp / "speech.wav")
                face = faces[kind] or looped_video(args.data / CLIP, minutes * 60, tmp / "face.mp4")
                wall, peaks[minutes] = measure(face, audio, tmp / "out.mp4")
                print(
                    f"{kind:>6} {minutes:8g} {wall:8.1f} {wall / (minutes * 60):6.3f} {peaks[minutes]:13.0f}"
                )
            if len(peaks) > 1:
                lo, hi = min(peaks), max(peaks)
                print(f"{kind}: peak RSS {hi:g} min vs {lo:g} min: {100 * (peaks[hi] / peaks[lo] - 1):+.1f}%")


if __name__ == "__main__":
    main()
