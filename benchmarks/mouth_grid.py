"""Mouth close-ups, real vs before vs after: the picture grid of docs/mouths.png.

Each row is one input; each group of three tiles is one moment: the real mouth, the warp engine
with the painted interior (``--mouth painted``; until its revision of 2026-12-03 this was the
engine before the mouth bank, bit for bit) and with the default (``--mouth auto``). Videos are
re-driven with their own speech from their frames in reverse order (so the real frame at the same
moment is known and a pass-through cannot look right); portraits speak a shared speech file and
their "real" tile is the portrait itself. The moments are the frames at the 10th, 40th, 70th and
95th percentile of the real (for portraits: the rendered) inner-lip aperture. Each tile is cut
around its own frame's mouth (``CLOSE_UP``, 1.3 x 0.9 IOD).

    .venv/bin/python benchmarks/mouth_grid.py [--data ../shared/data] [--out docs/mouths.png]
        [--after mouth=auto] [--before mouth=painted]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

import talkface
from talkface.demo import demo_face
from talkface.evaluation.benchmark import reversed_video
from talkface.evaluation.mouth import mouth_track
from talkface.face.canonical import face_region_affine
from talkface.face.track import FaceTracker
from talkface.media.audio import SAMPLE_RATE, load_audio, save_wav
from talkface.media.frame import I420Frame
from talkface.media.video import FaceMedia

REPO = Path(__file__).resolve().parents[1]
# (label, face input under data/ or "astronaut", speech under data/ (None: the clip's own))
ROWS = [
    ("HDTF 512x512", "video/hdtf_RD_Radio34_000.mp4", None),
    ("LRS2 160x160", "video/lrs2_00004.mp4", None),
    ("GRID 360x288", "video/grid_lbax4n.mpg", None),
    ("phone 1080x1920", "video/latentsync_demo1.mp4", None),
    ("astronaut (photo)", "astronaut", "audio/en_hdtf_AdamSchiff.wav"),
    ("closed-mouth photo", "image/male_face_dreamtalk.png", "audio/en_hdtf_AdamSchiff.wav"),
]
PERCENTILES = (10, 40, 70, 95)
TILE = (156, 108)  # pixels (width, height) of one close-up
CLOSE_UP = (-0.65, -0.33, 0.65, 0.57)  # its region in the face frame (IOD about the mouth centre)
MAX_SECONDS = 8.0  # speech used per row


def frames_at(path: Path, wanted: list[int]) -> dict[int, np.ndarray]:
    """RGB frames of a video at the ``wanted`` indices (a photo: its one frame for every index)."""
    media = FaceMedia(path)
    if media.is_photo:
        photo = next(media.frames())
        return {i: photo for i in wanted}
    out = {}
    for i, rgb in enumerate(media.frames()):
        if i in wanted:
            out[i] = rgb
        if i >= max(wanted):
            break
    return out


def close_up(rgb: np.ndarray, tracker: FaceTracker) -> np.ndarray:
    """The ``TILE``-sized mouth close-up of one frame (grey if no face is found)."""
    lm = tracker(I420Frame.from_rgb(rgb)).landmarks
    if lm is None:
        return np.full((TILE[1], TILE[0], 3), 128, np.uint8)
    to_frame = face_region_affine(lm, CLOSE_UP, TILE[0] / (CLOSE_UP[2] - CLOSE_UP[0]))
    return cv2.warpAffine(rgb, to_frame, TILE, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)


def parse_options(items: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in items)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "mouths.png")
    p.add_argument("--before", nargs="*", default=["mouth=painted"], help="warp options of 'before'")
    p.add_argument("--after", nargs="*", default=["mouth=auto"], help="warp options of 'after'")
    args = p.parse_args()
    if not (args.data / "video").is_dir():
        sys.exit(f"no clips in {args.data / 'video'}")
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    variants = {"before": parse_options(args.before), "after": parse_options(args.after)}
    tracker = FaceTracker(static=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for label, face, speech in ROWS:
            if face == "astronaut":
                source = demo_face(tmp)
            else:
                source = args.data / face
            audio = args.data / speech if speech else source
            is_video = source.suffix.lower() in (".mp4", ".mpg", ".mov", ".mkv", ".avi")
            face_in = reversed_video(source, tmp / "rev.mp4") if is_video else source
            outs = {}
            for name, options in variants.items():
                outs[name] = tmp / f"{name}.mp4"
                trimmed = tmp / "speech.wav"
                _trim(audio, trimmed, MAX_SECONDS)
                talkface.sync(face_in, outs[name], audio=trimmed, quiet=True, **options)
            driving = mouth_track(source if is_video else outs["after"]).aperture
            n = min(len(driving), len(mouth_track(outs["after"]).aperture))
            valid = np.flatnonzero(np.isfinite(driving[:n]))
            order = valid[np.argsort(driving[valid])]
            picks = sorted({int(order[int(q / 100 * (len(order) - 1))]) for q in PERCENTILES})
            real = frames_at(source, picks)
            made = {name: frames_at(path, picks) for name, path in outs.items()}
            tiles = []
            for i in picks:
                group = [close_up(real[i], tracker)] + [close_up(made[name][i], tracker) for name in variants]
                tiles.append(np.concatenate(group, 1))
                tiles.append(np.full((TILE[1], 6, 3), 255, np.uint8))
            row = np.concatenate(tiles[:-1], 1)
            head = np.full((22, row.shape[1], 3), 255, np.uint8)
            cv2.putText(head, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
            rows.append(np.concatenate([head, row], 0))
            print(f"{label}: frames {picks}", flush=True)
    tracker.close()
    width = max(r.shape[1] for r in rows)
    rows = [
        cv2.copyMakeBorder(r, 0, 0, 0, width - r.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255))
        for r in rows
    ]
    key = np.full((22, width, 3), 255, np.uint8)
    names = "real | before (" + ", ".join(args.before) + ") | after (" + ", ".join(args.after) + ")"
    cv2.putText(key, names, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    grid = np.concatenate([key, *rows], 0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out} ({grid.shape[1]}x{grid.shape[0]})")


def _trim(audio: Path, out: Path, seconds: float) -> None:
    """The first ``seconds`` of ``audio``'s speech as a 16 kHz WAV."""
    samples = load_audio(audio)
    save_wav(out, samples[: int(seconds * SAMPLE_RATE)])


if __name__ == "__main__":
    main()
