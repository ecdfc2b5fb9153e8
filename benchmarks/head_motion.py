"""Head motion of photo animation against real speakers (issue 18).

Each shared clip is re-driven from its first frame (as a photo) with its own speech, through the
default pipeline (warp engine, head animation on). The output and the real clip are both tracked
with depth (:func:`talkface.face.pose.pose_track` on the shipped canonical shape) and compared:

- head-pose standard deviation per axis (pitch, yaw, roll, degrees), output / real;
- mean absolute pose velocity per axis (degrees per second), output / real;
- blinks per minute (eyelid aperture under 0.55 of the clip's median), output and real.

Ratios are summarised by their geometric mean over the clips (a clip that barely moves would
dominate an arithmetic mean of ratios). Prints the table and the command.

    .venv/bin/python benchmarks/head_motion.py --clips 20 [--data ../shared/data] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BLINK_THRESHOLD = 0.55


def measure(path: Path, canonical: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Pose std (3,), velocity (3,) in degrees/s, blinks per minute and seconds of a video."""
    from talkface.face.landmarks import eye_aperture
    from talkface.face.pose import pose_track
    from talkface.face.track import landmark_track
    from talkface.media.video import FaceMedia
    from talkface.motion.head import fill_gaps

    fps = FaceMedia(path).fps
    meshes = landmark_track(path, depth=True)
    track = pose_track(meshes, canonical)[:, :3]
    std = np.nanstd(track, 0)
    velocity = np.nanmean(np.abs(np.diff(track, axis=0)), 0) * fps
    ap = fill_gaps(eye_aperture(meshes).mean(-1, keepdims=True).astype(np.float64))[:, 0]
    low = ap < BLINK_THRESHOLD * np.median(ap)
    blinks = int(np.sum(np.diff(low.astype(int)) == 1) + low[0])
    seconds = len(meshes) / fps
    return std, velocity, 60 * blinks / seconds, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
    parser.add_argument("--clips", type=int, default=None, help="only the first N clips")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import cv2

    import talkface
    from talkface.media.video import FaceMedia
    from talkface.motion.head import HeadMotionModel
    from talkface.training.motion_clips import clip_paths

    canonical = HeadMotionModel().canonical
    paths = clip_paths(args.data)[: args.clips]
    rows = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            first = next(FaceMedia(path).frames())
            photo = Path(tmp) / "first.png"
            cv2.imwrite(str(photo), cv2.cvtColor(first, cv2.COLOR_RGB2BGR))
            out = Path(tmp) / "out.mp4"
            talkface.sync(photo, out, audio=path, fps=FaceMedia(path).fps, quiet=True)
            real = measure(path, canonical)
            ours = measure(out, canonical)
            rows.append(
                {
                    "clip": path.stem,
                    "real": [x.tolist() if hasattr(x, "tolist") else x for x in real],
                    "ours": [x.tolist() if hasattr(x, "tolist") else x for x in ours],
                }
            )
            print(
                f"{path.stem[:32]:32s} std real {np.round(real[0], 2)} ours {np.round(ours[0], 2)}  "
                f"blinks/min real {real[2]:5.1f} ours {ours[2]:5.1f}",
                flush=True,
            )
    real_std = np.array([r["real"][0] for r in rows])
    our_std = np.array([r["ours"][0] for r in rows])
    real_vel = np.array([r["real"][1] for r in rows])
    our_vel = np.array([r["ours"][1] for r in rows])
    secs = np.array([r["real"][3] for r in rows])
    real_bpm = np.sum([r["real"][2] * r["real"][3] for r in rows]) / secs.sum()
    our_bpm = np.sum([r["ours"][2] * r["ours"][3] for r in rows]) / secs.sum()
    ratio = np.exp(np.mean(np.log(our_std / np.maximum(real_std, 1e-3)), 0))
    vratio = np.exp(np.mean(np.log(our_vel / np.maximum(real_vel, 1e-3)), 0))
    summary = {
        "clips": len(rows),
        "std_real_mean": real_std.mean(0).round(2).tolist(),
        "std_ours_mean": our_std.mean(0).round(2).tolist(),
        "std_ratio_geomean": ratio.round(3).tolist(),
        "velocity_real_mean": real_vel.mean(0).round(1).tolist(),
        "velocity_ours_mean": our_vel.mean(0).round(1).tolist(),
        "velocity_ratio_geomean": vratio.round(3).tolist(),
        "blinks_per_minute_real": round(float(real_bpm), 1),
        "blinks_per_minute_ours": round(float(our_bpm), 1),
        "seconds": round(time.perf_counter() - start),
    }
    print()
    print("| | pitch | yaw | roll |")
    print("|---|---|---|---|")
    print("| pose std, real (deg, mean) | " + " | ".join(f"{v:.2f}" for v in summary["std_real_mean"]) + " |")
    print("| pose std, ours (deg, mean) | " + " | ".join(f"{v:.2f}" for v in summary["std_ours_mean"]) + " |")
    print(
        "| std ratio (geometric mean) | "
        + " | ".join(f"{v:.2f}" for v in summary["std_ratio_geomean"])
        + " |"
    )
    print(
        "| velocity, real (deg/s) | " + " | ".join(f"{v:.1f}" for v in summary["velocity_real_mean"]) + " |"
    )
    print(
        "| velocity, ours (deg/s) | " + " | ".join(f"{v:.1f}" for v in summary["velocity_ours_mean"]) + " |"
    )
    print(
        "| velocity ratio (geometric mean) | "
        + " | ".join(f"{v:.2f}" for v in summary["velocity_ratio_geomean"])
        + " |"
    )
    print(
        f"blinks per minute: real {summary['blinks_per_minute_real']}, "
        f"ours {summary['blinks_per_minute_ours']}"
    )
    print(f"{len(rows)} clips in {summary['seconds']} s; command: {' '.join(sys.argv)}")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "clips": rows}, indent=1))


if __name__ == "__main__":
    main()
