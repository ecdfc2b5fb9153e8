"""The motion model's data: talking clips tracked, measured and featurised (``talkface train motion``).

For every clip: mediapipe landmarks of every frame (:class:`~talkface.face.track.FaceTracker`),
mapped into the clip's canonical face frame; the speech resampled to 16 kHz; the model's audio
features (:func:`~talkface.motion.learned.audio_features`). Clips are grouped by speaker from the
data's ``MANIFEST.tsv``; those listed in ``excluded_clips.txt`` (audio and video out of sync) are
left out.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkface.errors import TalkfaceError
from talkface.media.atomic import save_npz_atomic
from talkface.media.video import VIDEO_SUFFIXES
from talkface.motion.learned import MOTION_POINTS, audio_features, canonical_motion

EXCLUDED_CLIPS = Path(__file__).with_name("excluded_clips.txt")  # clips left out by default


def excluded_clips(path: Path = EXCLUDED_CLIPS) -> set[str]:
    """Clip stems listed in ``path`` (one per line; ``#`` starts a comment).

    Raises:
        TalkfaceError: the file cannot be read.
    """
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise TalkfaceError(f"cannot read the list of excluded clips ({exc.strerror})", path) from None
    return {word for line in lines if (word := line.split("#", 1)[0].strip())}


@dataclass
class MotionClip:
    """One talking clip, measured.

    Attributes:
        name: file stem.
        group: speaker group (folds never split a group).
        features: ``(n, d)`` float32 audio features per video frame.
        motion: ``(n, 2 * len(MOTION_POINTS))`` float32 standardised canonical displacement (NaN rows
            where no face).
        canonical: ``(n, len(MOTION_POINTS), 2)`` float32 canonical lip/chin points (IOD 1).
        aperture, width: ``(n,)`` float32 real inner-lip aperture and mouth width / IOD (NaN: no face).
        loudness: ``(n,)`` float32 log RMS of the speech over each frame.
        heuristic: ``(n, 2)`` float32 heuristic motion (opening, width) drives.
        fps: frame rate in frames/s.
    """

    name: str
    group: str
    features: np.ndarray
    motion: np.ndarray
    canonical: np.ndarray
    aperture: np.ndarray
    width: np.ndarray
    loudness: np.ndarray
    heuristic: np.ndarray
    fps: float


def speaker_groups(data_dir: Path) -> dict[str, str]:
    """Clip stem -> speaker group, from ``MANIFEST.tsv`` next to or above ``data_dir`` (if any)."""
    for manifest in (data_dir / "MANIFEST.tsv", data_dir.parent / "MANIFEST.tsv"):
        if manifest.is_file():
            break
    else:
        return {}
    groups = {}
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            stem = Path(row.get("local_file", "")).stem
            speaker = (row.get("speaker") or "").strip()
            if speaker.startswith("LRS2"):
                groups[stem] = "LRS2"
            elif speaker.startswith("GRID"):
                groups[stem] = "GRID"
            elif not speaker or "unknown" in speaker.lower():
                groups[stem] = stem
            else:
                groups[stem] = speaker.split("(")[0].strip()
    return groups


def measure_clip(path: Path, group: str) -> MotionClip:
    """Track, measure and featurise one clip.

    Raises:
        TalkfaceError: unreadable media, no audio stream, or no face in any frame.
    """
    from talkface.face.canonical import canonical_template, to_canonical
    from talkface.face.landmarks import mouth_aperture, mouth_width
    from talkface.face.track import landmark_track
    from talkface.media.audio import SAMPLE_RATE, load_audio
    from talkface.media.video import FaceMedia
    from talkface.motion.heuristic import heuristic_motion

    media = FaceMedia(path)
    lm = landmark_track(media)
    ok = ~np.isnan(lm).any((1, 2))
    if not ok.any():
        raise TalkfaceError("no face found in any frame", path)
    samples = load_audio(path)
    n = len(lm)
    canonical = to_canonical(lm, canonical_template(np.median(lm[ok], 0)))
    hop = SAMPLE_RATE / media.fps
    loud = np.array(
        [
            np.log(np.sqrt(np.mean(samples[int(k * hop) : int((k + 1) * hop)] ** 2) + 1e-12) + 1e-4)
            for k in range(n)
        ]
    )
    drive = heuristic_motion(samples, n, media.fps)
    return MotionClip(
        name=path.stem,
        group=group,
        features=audio_features(samples, n, media.fps),
        motion=canonical_motion(canonical),
        canonical=canonical[:, MOTION_POINTS],
        aperture=mouth_aperture(lm).astype(np.float32),
        width=mouth_width(lm).astype(np.float32),
        loudness=np.nan_to_num(loud, nan=np.log(1e-4)).astype(np.float32),
        heuristic=np.stack([drive.opening, drive.width], 1),
        fps=media.fps,
    )


def clip_paths(data_dir: Path, exclude: Path = EXCLUDED_CLIPS) -> list[Path]:
    """The talking clips of ``data_dir`` (or of its ``video/`` folder), minus those listed in
    ``exclude`` (:func:`excluded_clips`).

    Raises:
        TalkfaceError: the folder holds no clips.
    """
    folder = data_dir / "video" if (data_dir / "video").is_dir() else data_dir
    if not folder.is_dir():
        raise TalkfaceError("not a folder", folder)
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    excluded = excluded_clips(exclude)
    paths = [p for p in paths if p.stem not in excluded]
    if not paths:
        raise TalkfaceError("no talking clips found", folder)
    return paths


def load_clips(
    data_dir: Path, cache: Path | None = None, log=print, exclude: Path = EXCLUDED_CLIPS
) -> list[MotionClip]:
    """Measure every clip of ``data_dir`` (or its ``video/`` folder), caching each as ``.npz``.

    Raises:
        TalkfaceError: the folder holds no clips.
    """
    paths = clip_paths(data_dir, exclude)
    folder = paths[0].parent
    groups = speaker_groups(folder.parent if folder.name == "video" else folder)
    clips = []
    for i, path in enumerate(paths):
        cached = cache / f"{path.stem}.npz" if cache else None
        group = groups.get(path.stem, path.stem)
        if cached is not None and cached.is_file():
            with np.load(cached) as f:
                clip = MotionClip(
                    **{k: f[k] for k in f.files if k not in ("name", "group", "fps")},
                    name=path.stem,
                    group=group,
                    fps=float(f["fps"]),
                )
        else:
            try:
                clip = measure_clip(path, group)
            except TalkfaceError as exc:
                log(f"skipped {exc}")
                continue
            if cached is not None:
                cache.mkdir(parents=True, exist_ok=True)
                save_npz_atomic(cached, **{k: v for k, v in vars(clip).items() if k not in ("name", "group")})
        log(f"[{i + 1}/{len(paths)}] {path.name}: {len(clip.aperture)} frames, group {group}")
        clips.append(clip)
    return clips
