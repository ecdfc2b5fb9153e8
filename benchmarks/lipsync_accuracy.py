"""Lip-sync accuracy by self-reenactment on the real clips of shared/data/video.

Every clip is re-driven with its own speech twice: from its first frame as a photo, and from its
frames in reverse time order as the face video (an engine that passed the input mouth through
would score near zero there). The output's inner-lip aperture and mouth width (mediapipe) are
compared frame by frame with the real clip's: Pearson r, the ratio of aperture standard
deviations, and the width r, per clip and as means; and the lip shape, as LMD (mean distance of
the 40 lip landmarks in a canonical face frame, % of the interocular distance), beside the
frozen-mouth floor: the LMD of the input photo's own lips held still for the whole clip (what a
photo mode that never moved the mouth would score). The same figures are given a second time with
the head pose taken out in 3D (each frame's mesh, depth included, mapped back onto the canonical
face shape by the inverse of its fitted pose, :func:`talkface.face.pose.canonical_coordinates`):
there a head that turns or nods differently from the real one costs nothing, the mouth alone is
compared (the photo mode's head motion is generated, not copied).

    .venv/bin/python benchmarks/lipsync_accuracy.py [--data ../shared/data] [--clips N] [--json out.json]
        [--motion learned|heuristic] [--fold-models DIR] [--mouth auto|bank|learned|painted]
        [--modes photo,reversed] [--still] [--no-blink]

Photo mode animates the head (issue 18) unless ``--still``; ``--modes photo`` runs photo mode only.

With ``--motion learned`` (the default) every clip is driven by the shipped model; the clips it
was trained on (listed in ``talkface/weights/motion.cv.json``) are marked "seen", the others
(left out of training as out of sync) "held-out". With ``--fold-models DIR`` (written by
``talkface train motion --fold-models DIR``) each training clip is driven by the
cross-validation model of the fold that held its speaker out, so every clip is held out. Means
are printed over all clips and over held-out clips.

Note: the heuristic motion's two weights were chosen on these same clips (see
talkface/motion/heuristic.py), so every clip counts as seen for it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import talkface
from talkface.engines.warp import MOUTHS
from talkface.evaluation.benchmark import first_face_frame, reversed_video
from talkface.evaluation.landmarks import lmd
from talkface.evaluation.mouth import MouthTrack, follow_score
from talkface.face.canonical import canonical_template, to_canonical
from talkface.face.pose import canonical_coordinates
from talkface.face.track import landmark_track
from talkface.media.video import FaceMedia
from talkface.motion import MOTION_SOURCES
from talkface.motion.head import HeadMotionModel
from talkface.motion.learned import DEFAULT_WEIGHTS

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--clips", type=int, default=None, help="only the first N clips (alphabetical)")
    p.add_argument("--json", type=Path, default=None, help="also write per-clip results here")
    p.add_argument("--motion", choices=MOTION_SOURCES, default="learned")
    p.add_argument("--fold-models", type=Path, default=None, help="held-out models: fold<k>.npz + folds.json")
    p.add_argument("--mouth", choices=MOUTHS, default=MOUTHS[0], help="what fills the mouth (warp --mouth)")
    p.add_argument("--modes", default="photo,reversed", help="comma-separated: photo, reversed")
    p.add_argument("--still", action="store_true", help="photo mode without head motion or blinks")
    p.add_argument("--no-blink", action="store_true", help="photo mode with head motion but no blinks")
    args = p.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if not modes or set(modes) - {"photo", "reversed"}:
        sys.exit(f"--modes: choose from photo, reversed, not {args.modes!r}")
    folds = json.loads((args.fold_models / "folds.json").read_text()) if args.fold_models else {}
    # The clips the shipped model was trained on (its cross-validation report lists them).
    report = json.loads(DEFAULT_WEIGHTS.with_suffix(".cv.json").read_text())
    trained = {row["clip"] for row in report["clips"]}
    clips = sorted((args.data / "video").glob("*"))[: args.clips]
    if not clips:
        sys.exit(f"no clips in {args.data / 'video'}")
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    rows = []
    t0 = time.perf_counter()
    shape = HeadMotionModel().canonical  # the canonical face shape the pose is fitted to

    def frontal(meshes: np.ndarray) -> np.ndarray:
        return canonical_coordinates(meshes, shape)[..., :2]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for clip in clips:
            real_mesh = landmark_track(clip, depth=True)
            real_lm = real_mesh[..., :2]
            real = MouthTrack.of_landmarks(real_lm)
            front_real = frontal(real_mesh)
            faces = np.flatnonzero(~np.isnan(real_lm[:, 0, 0]))
            template = canonical_template(real_lm[faces[0]])
            canon_real = to_canonical(real_lm, template)
            # The photo is the first frame with a face: its lips held still.
            frozen = np.repeat(real_lm[faces[:1]], len(real_lm), axis=0)
            fps = FaceMedia(clip).fps
            fold = folds.get(clip.stem)
            model = args.fold_models / f"fold{fold}.npz" if fold is not None else None
            # Seen: the model that drives the clip was trained on it.
            seen = args.motion == "heuristic" or (fold is None and clip.stem in trained)
            row = {"clip": clip.name, "frames": len(real.aperture), "held_out": not seen}
            inputs = {}
            if "photo" in modes:
                inputs["photo"] = (first_face_frame(clip, tmp / "face.png"), fps)
            if "reversed" in modes:
                inputs["reversed"] = (reversed_video(clip, tmp / "rev.mp4"), None)
            for mode, (face, photo_fps) in inputs.items():
                out = tmp / f"{mode}.mp4"
                talkface.sync(
                    face,
                    out,
                    audio=clip,
                    fps=photo_fps,
                    quiet=True,
                    motion=args.motion,
                    motion_model=model if args.motion == "learned" else None,
                    mouth=args.mouth,
                    still=args.still and mode == "photo",
                    no_blink=(args.still or args.no_blink) and mode == "photo",
                )
                out_mesh = landmark_track(out, depth=True)
                out_lm = out_mesh[..., :2]
                row[mode] = vars(follow_score(MouthTrack.of_landmarks(out_lm), real))
                row[mode]["lmd"] = 100 * lmd(to_canonical(out_lm, template), canon_real)
                front_out = frontal(out_mesh)
                pose_free = vars(
                    follow_score(MouthTrack.of_landmarks(front_out), MouthTrack.of_landmarks(front_real))
                )
                pose_free["lmd"] = 100 * lmd(front_out, front_real)
                row[mode]["pose_free"] = pose_free
            row["frozen_lmd"] = 100 * lmd(to_canonical(frozen, template), canon_real)
            rows.append(row)
            cells = []
            for mode in inputs:
                m = row[mode]
                cells.append(
                    f"{mode} r {m['aperture_r']:+.2f} sd {m['std_ratio']:.2f} w {m['width_r']:+.2f} "
                    f"LMD {m['lmd']:.2f}"
                )
            mark = "held-out" if row["held_out"] else "seen"
            print(
                f"{clip.name:42s} {mark:8s} " + " | ".join(cells) + f" | frozen LMD {row['frozen_lmd']:.2f}",
                flush=True,
            )
    print()
    print(
        f"{'mode':18s} {'clips':>5s} {'aperture r':>10s} {'median r':>9s} {'std ratio':>9s} {'width r':>8s} "
        f"{'LMD':>6s} {'frozen LMD':>10s}"
    )
    summary = {}
    held = [row for row in rows if row["held_out"]]
    sets = {"all": rows, "held-out": held} if held else {"all": rows}
    for label, chosen in sets.items():
        for mode in modes:
            r = np.array([row[mode]["aperture_r"] for row in chosen])
            sd = np.array([row[mode]["std_ratio"] for row in chosen])
            w = np.array([row[mode]["width_r"] for row in chosen])
            d = np.nanmean([row[mode]["lmd"] for row in chosen])
            floor = np.nanmean([row["frozen_lmd"] for row in chosen])
            name = f"{mode} {label}"
            summary[name] = {
                "aperture_r": r.mean(),
                "std_ratio": sd.mean(),
                "width_r": w.mean(),
                "lmd": d,
                "frozen_lmd": floor,
            }
            print(
                f"{name:18s} {len(chosen):5d} {r.mean():10.3f} {np.median(r):9.3f} {sd.mean():9.2f} "
                f"{w.mean():8.3f} {d:6.2f} {floor:10.2f}"
            )
    print("\nthe same with the head pose taken out in 3D (canonical face shape; LMD % IOD):")
    for label, chosen in sets.items():
        for mode in modes:
            m = {
                k: np.array([row[mode]["pose_free"][k] for row in chosen])
                for k in ("aperture_r", "std_ratio", "width_r", "lmd")
            }
            name = f"{mode} {label}"
            summary[f"{name} pose-free"] = {k: float(np.nanmean(v)) for k, v in m.items()}
            print(
                f"{name:18s} {len(chosen):5d} {m['aperture_r'].mean():10.3f} "
                f"{np.median(m['aperture_r']):9.3f} {m['std_ratio'].mean():9.2f} {m['width_r'].mean():8.3f} "
                f"{np.nanmean(m['lmd']):6.2f}"
            )
    source = f"fold models {args.fold_models}" if args.fold_models else "shipped model"
    detail = f"learned motion, {source}" if args.motion == "learned" else "heuristic motion"
    detail += ", photo head still" if args.still else ", photo head animated"
    detail += ", no blinks" if args.no_blink and not args.still else ""
    print(
        f"({len(rows)} clips in {time.perf_counter() - t0:.0f} s; engine warp, mouth {args.mouth}, {detail})"
    )
    if args.json:
        args.json.write_text(json.dumps({"clips": rows, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
