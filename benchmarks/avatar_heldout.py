"""Person-specific avatars on held-out footage: warp engine, generic HyperLips and the avatar side by side.

For each long single-person clip of ``../shared/data/video`` (issue 19: ``dfrf_cnn2_jim_acosta_71s``,
``edtalk_hdtf_ted_lieu_60s``): an avatar is trained on the first 80% (``talkface avatar train
--end``), then the held-out last 20% is re-driven from its own frames in reverse time order with its
own speech (so passing the input mouth through scores near zero, as ``lipsync_accuracy.py`` does)
by each engine, and compared with the real frames:

- **aperture r**: inner-lip aperture against the real clip, frame by frame (mediapipe);
- **mouth SSIM / PSNR**: the mouth after canonical alignment (each frame's own face frame: head pose
  taken out, :func:`talkface.evaluation.image.compare_aligned_mouths`), against the real frame;
- **sharpness ratio**: variance of the Laplacian of the aligned mouth, generated over real;
- **LSE-D / LSE-C**: lip sync of the output with its speech by our expert SyncNet.

    .venv/bin/python benchmarks/avatar_heldout.py [--data ../shared/data] [--minutes 15]
        [--work results/avatar_heldout] [--grid docs/avatar_grid.jpg] [--clips NAME ...]

Avatars already trained in ``--work`` are reused (delete the folder to retrain). ``--grid`` writes
mouth close-ups, real / warp / avatar, at six moments of each clip.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from talkface import sync
from talkface.avatar import load_avatar, train_avatar
from talkface.engines.registry import engine_options
from talkface.evaluation.benchmark import lossless_video
from talkface.evaluation.image import aligned_mouth, compare_aligned_mouths
from talkface.evaluation.video import evaluate_video
from talkface.face.track import landmark_track
from talkface.media.audio import SAMPLE_RATE, Speech, load_audio
from talkface.media.video import FaceMedia
from talkface.media.writer import VideoWriter
from talkface.weights import HYPERLIPS_BASE

REPO = Path(__file__).resolve().parents[1]
LONG_CLIPS = ("dfrf_cnn2_jim_acosta_71s", "edtalk_hdtf_ted_lieu_60s")
HELD_OUT = 0.2
GRID_MOMENTS = 6


def segment(
    clip: Path, start: float, end: float, out: Path, reverse: bool = False, audio: bool = True
) -> Path:
    """Frames of ``clip`` from ``start`` to ``end`` seconds (reversed in time if asked), with the
    speech of that span (not reversed) muxed as AAC, or none; x264 at crf 12."""
    media = FaceMedia(clip)
    frames = [f for k, f in media.frames_at(media.fps) if start * media.fps <= k < end * media.fps]
    if reverse:
        frames = frames[::-1]
    samples = load_audio(clip)[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    if not audio:
        return lossless_video(frames, media.fps, out)
    speech = Speech(samples, pcm=samples, pcm_rate=SAMPLE_RATE)
    with VideoWriter(out, media.width, media.height, media.fps, speech) as w:
        for f in frames:
            w.write(f)
        return w.close()


def aligned_scores(video: Path, real: Path, real_lm: np.ndarray) -> dict:
    """Mean aligned-mouth SSIM, PSNR and sharpness ratio of ``video`` against ``real``."""
    lm = landmark_track(video)
    rows = []
    for i, (g, r) in enumerate(zip(FaceMedia(video).frames(), FaceMedia(real).frames(), strict=False)):
        if i >= len(lm) or i >= len(real_lm) or np.isnan(lm[i, 0, 0]) or np.isnan(real_lm[i, 0, 0]):
            continue
        m = compare_aligned_mouths(g, lm[i], r, real_lm[i])
        rows.append((m.ssim, m.psnr, m.sharpness, m.reference_sharpness))
    a = np.array(rows)
    return {
        "ssim": a[:, 0].mean(),
        "psnr": a[:, 1].mean(),
        "sharpness_ratio": a[:, 2].mean() / a[:, 3].mean(),
    }


def mouth_row(video: Path, lm: np.ndarray, moments: list[int]) -> np.ndarray:
    """Aligned mouth close-ups of ``video`` at frame numbers ``moments``, side by side."""
    frames = {i: f for i, f in enumerate(FaceMedia(video).frames()) if i in moments}
    tiles = [
        cv2.resize(aligned_mouth(frames[i], lm[i]), (192, 144), interpolation=cv2.INTER_CUBIC)
        for i in moments
    ]
    return np.concatenate(tiles, axis=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--minutes", type=float, default=15.0, help="avatar training budget per clip")
    p.add_argument("--work", type=Path, default=REPO / "results" / "avatar_heldout")
    p.add_argument("--grid", type=Path, default=None, help="write the mouth close-up grid here (JPEG)")
    p.add_argument("--clips", nargs="*", default=list(LONG_CLIPS))
    args = p.parse_args()
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    clips = [next((args.data / "video").glob(f"{name}.*"), None) for name in args.clips]
    missing = [n for n, c in zip(args.clips, clips, strict=True) if c is None]
    if missing:
        sys.exit(f"avatar_heldout: clips not in {args.data / 'video'}: {', '.join(missing)}")
    table, grid_rows = [], []
    for clip in clips:
        work = args.work / clip.stem
        work.mkdir(parents=True, exist_ok=True)
        seconds = len(load_audio(clip)) / SAMPLE_RATE
        split = round(seconds * (1 - HELD_OUT), 2)
        avatar_dir = work / "avatar"
        if not (avatar_dir / "avatar.json").is_file():
            t0 = time.perf_counter()
            train_avatar(clip, avatar_dir, minutes=args.minutes, end=split)
            print(
                f"{clip.stem}: avatar trained on 0-{split:g} s in {(time.perf_counter() - t0) / 60:.1f} min"
            )
        avatar = load_avatar(avatar_dir)
        real = segment(clip, split, seconds, work / "real.mp4")
        face = segment(clip, split, seconds, work / "reversed.mp4", reverse=True, audio=False)
        real_lm = landmark_track(real)
        engines = {
            "warp": engine_options("warp"),
            "hyperlips generic": engine_options("hyperlips", checkpoint=HYPERLIPS_BASE),
            "avatar": avatar.engine_options(),
        }
        outputs = {}
        for name, options in engines.items():
            out = work / f"{name.replace(' ', '_')}.mp4"
            t0 = time.perf_counter()
            sync(face, out, audio=real, engine=options, quiet=True)
            wall = time.perf_counter() - t0
            ev = evaluate_video(out, real)
            row = {"clip": clip.stem, "engine": name, "aperture_r": ev.aperture_r, "lse_d": ev.lse_d}
            row |= {"lse_c": ev.lse_c, "rtf": wall / (seconds - split), **aligned_scores(out, real, real_lm)}
            table.append(row)
            outputs[name] = out
            print(
                f"{clip.stem:28s} {name:18s} aperture r {row['aperture_r']:+.3f}  "
                f"mouth SSIM {row['ssim']:.3f}  PSNR {row['psnr']:.2f}  sharp {row['sharpness_ratio']:.2f} "
                f"LSE-D {row['lse_d']:.3f}  LSE-C {row['lse_c']:.3f}  RTF {row['rtf']:.2f}",
                flush=True,
            )
        ok = [i for i in range(len(real_lm)) if not np.isnan(real_lm[i, 0, 0])]
        moments = [ok[int(k)] for k in np.linspace(0, len(ok) - 1, GRID_MOMENTS + 2)[1:-1]]
        rows = [mouth_row(real, real_lm, moments)]
        for name in ("warp", "avatar"):
            rows.append(mouth_row(outputs[name], landmark_track(outputs[name]), moments))
        grid_rows.append(np.concatenate(rows, axis=0))
    heads = ("aperture r", "SSIM", "PSNR", "sharp", "LSE-D", "LSE-C")
    print(
        f"\n{'clip':28s} {'engine':18s} "
        + " ".join(f"{h:>{10 if i == 0 else 6}s}" for i, h in enumerate(heads))
    )
    for r in table:
        print(
            f"{r['clip']:28s} {r['engine']:18s} {r['aperture_r']:10.3f} {r['ssim']:6.3f} {r['psnr']:6.2f} "
            f"{r['sharpness_ratio']:6.2f} {r['lse_d']:6.3f} {r['lse_c']:6.3f}"
        )
    if args.grid is not None:
        grid = np.concatenate(grid_rows, axis=0)
        cv2.imwrite(str(args.grid), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        print(f"wrote {args.grid}: per clip, rows real / warp / avatar at {GRID_MOMENTS} held-out moments")


if __name__ == "__main__":
    main()
