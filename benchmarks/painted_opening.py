"""How open a painted mouth reads, against how far the warp parts the lips, on closed-mouth faces.

The warp engine paints teeth and a cavity where it parts lips that were closed (a closed-mouth
photo, with no interior renderer). mediapipe's tracker, whose units the motion targets are in,
reads such a mouth wider than the lips part; :class:`talkface.render.warp.PaintedCalibration`
measures that per face and parts the lips less. For every closed-mouth portrait of
``shared/data/image`` and the first frame of every shared clip that starts closed, this prints the
aperture read at each target, uncalibrated (lips parted by the target) and calibrated, and the
mean absolute error.

    .venv/bin/python benchmarks/painted_opening.py [--data ../shared/data] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from talkface.errors import TalkfaceError
from talkface.evaluation.benchmark import first_face_frame
from talkface.face.landmarks import mouth_aperture, mouth_width
from talkface.face.quiet import native_stderr_silenced
from talkface.face.track import FaceTracker
from talkface.media.video import FaceMedia
from talkface.render.mouth_learned import OPENING_REFERENCE
from talkface.render.warp import WarpRenderer

TARGETS = (0.03, 0.05, 0.08, 0.12, 0.16)
VIDEO_SUFFIXES = {".mp4", ".mpg", ".mov", ".avi", ".mkv", ".webm"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--limit", type=int, default=0, help="at most this many faces (0: all)")
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"{args.data}: no such data folder")
    with native_stderr_silenced():
        tracker = FaceTracker(static=True)

    def read(rgb: np.ndarray) -> np.ndarray | None:
        return tracker(rgb).landmarks

    tmp = Path(tempfile.mkdtemp())
    faces = sorted((args.data / "image").iterdir())
    faces += sorted(p for p in (args.data / "video").iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    errors = {"uncalibrated": [], "calibrated": []}
    print(f"{'face':44s} {'way':13s} " + " ".join(f"{t:6.2f}" for t in TARGETS))
    used = 0
    for path in faces:
        if args.limit and used >= args.limit:
            break
        try:
            still = path if path.parent.name == "image" else first_face_frame(path, tmp / "first.png")
        except TalkfaceError:  # no face in the clip
            continue
        rgb = next(FaceMedia(still).frames())
        lm = read(rgb)
        if lm is None or mouth_aperture(lm) >= OPENING_REFERENCE:
            continue
        used += 1
        for way, reader in (("uncalibrated", None), ("calibrated", read)):
            renderer = WarpRenderer(read_landmarks=reader)
            reads = []
            for target in TARGETS:
                out, _ = renderer.render(rgb, lm, target, float(mouth_width(lm)), want_mask=False)
                found = read(out)
                reads.append(float(mouth_aperture(found)) if found is not None else np.nan)
            errors[way].append(np.abs(np.array(reads) - TARGETS))
            name = f"{path.parent.name}/{path.name}"[:44]
            print(f"{name:44s} {way:13s} " + " ".join(f"{r:6.3f}" for r in reads), flush=True)
    print(f"\n{used} closed-mouth faces; mean |read - target| (IOD) per target:")
    for way, rows in errors.items():
        e = np.nanmean(np.array(rows), axis=0)
        print(f"  {way:13s} " + " ".join(f"{x:6.3f}" for x in e) + f"   all {np.nanmean(e):.3f}")
    print("command: .venv/bin/python benchmarks/painted_opening.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
