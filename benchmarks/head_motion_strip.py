"""The pictures of photo animation: ``docs/head_motion.jpg`` (the bundled astronaut and three shared
portraits speaking the demo paragraph with the default head motion and blinks, a frame every 1.6 s,
one row each) and ``docs/head_motion.gif`` (the astronaut's first 5 s).

    .venv/bin/python benchmarks/head_motion_strip.py [--data ../shared/data] [--out docs]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

import talkface
from talkface.demo import DEMO_TEXT, demo_face

REPO = Path(__file__).resolve().parents[1]
PORTRAITS = (
    "image/elizabeth_olsen_hallo.jpg",
    "image/man_geneface_vd025.png",
    "image/jolie_dreamtalk_uncut.jpg",
)
EVERY_SECONDS = 1.6
ROW_HEIGHT = 200  # pixels
GIF_SECONDS, GIF_SIDE, GIF_STEP = 5.0, 200, 2  # the GIF: 5 s, 200 pixels, every 2nd frame (12.5 fps)


def frames_of(video: Path) -> tuple[list[np.ndarray], float]:
    """Every frame of ``video`` as RGB, and its frame rate."""
    with av.open(str(video)) as c:
        rate = float(c.streams.video[0].average_rate)
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)], rate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--out", type=Path, default=REPO / "docs")
    args = p.parse_args()
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    rows, gif = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        faces = [demo_face(tmp), *(args.data / name for name in PORTRAITS)]
        for k, face in enumerate(faces):
            out = tmp / f"out{k}.mp4"
            talkface.sync(face, out, text=DEMO_TEXT, quiet=True)
            frames, fps = frames_of(out)
            picked = frames[:: int(round(EVERY_SECONDS * fps))]
            scale = ROW_HEIGHT / picked[0].shape[0]
            size = (int(round(picked[0].shape[1] * scale)), ROW_HEIGHT)
            rows.append(
                np.concatenate([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in picked], 1)
            )
            print(f"{face.name}: {len(frames)} frames, {len(picked)} in the strip")
            if k == 0:
                gif = [
                    cv2.resize(f, (GIF_SIDE, GIF_SIDE), interpolation=cv2.INTER_AREA)
                    for f in frames[: int(GIF_SECONDS * fps) : GIF_STEP]
                ]
                gif_ms = int(round(1000 * GIF_STEP / fps))
    width = max(r.shape[1] for r in rows)
    gap = np.full((4, width, 3), 255, np.uint8)
    sheet = []
    for r in rows:
        sheet += [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255), gap]
    sheet = np.concatenate(sheet[:-1])
    args.out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(
        str(args.out / "head_motion.jpg"),
        cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, 85],
    )
    images = [Image.fromarray(f) for f in gif]
    images[0].save(
        args.out / "head_motion.gif", save_all=True, append_images=images[1:], duration=gif_ms, loop=0
    )
    print(
        f"wrote {args.out / 'head_motion.jpg'} ({sheet.shape[1]}x{sheet.shape[0]}) and "
        f"{args.out / 'head_motion.gif'}"
    )


if __name__ == "__main__":
    main()
