"""The motion model's data: talking clips tracked, measured and featurised (``talkface train motion``).

For every clip: mediapipe landmarks of every frame (:class:`~talkface.face.track.FaceTracker`),
mapped into the clip's canonical face frame; the speech resampled to 16 kHz; the model's audio
features (:func:`~talkface.motion.learned.audio_features`). Clips are grouped by speaker from the
data's ``MANIFEST.tsv``; those listed in ``excluded_clips.txt`` (audio and video out of sync) are
left out.
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkface.errors import TalkfaceError
from talkface.media.atomic import save_npz_atomic
from talkface.media.video import VIDEO_SUFFIXES
from talkface.motion.learned import CONFIG, INPUTS, MOTION_POINTS, MotionConfig, canonical_motion

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
        blocks: every audio feature block of :data:`~talkface.motion.learned.INPUTS` (name ->
            ``(n, width)`` float32 per video frame, as in
            :func:`~talkface.motion.learned.audio_features`); :meth:`features` puts a model's
            side by side.
        motion: ``(n, 2 * len(MOTION_POINTS))`` float32 standardised canonical displacement (NaN rows
            where no face).
        canonical: ``(n, len(MOTION_POINTS), 2)`` float32 canonical lip/chin points (IOD 1).
        aperture, width: ``(n,)`` float32 real inner-lip aperture and mouth width / IOD (NaN: no face).
        loudness: ``(n,)`` float32 log RMS of the speech over each frame.
        heuristic: ``(n, 2)`` float32 heuristic motion (opening, width) drives.
        fps: frame rate in frames/s.
        language: ISO 639-1 code of the speech (the ``language`` column of ``MANIFEST.tsv``;
            ``""`` if unknown).
    """

    name: str
    group: str
    blocks: dict[str, np.ndarray]
    motion: np.ndarray
    canonical: np.ndarray
    aperture: np.ndarray
    width: np.ndarray
    loudness: np.ndarray
    heuristic: np.ndarray
    fps: float
    language: str = ""

    def features(self, config: MotionConfig = CONFIG) -> np.ndarray:
        """The model input of ``config`` (its :attr:`~MotionConfig.inputs`): ``(n, config.n_features)``."""
        return np.concatenate([self.blocks[name] for name in config.inputs], axis=1)


# Blocks measured for training: the model's inputs, and two more for the model card's ingredients
# table: phones force-aligned to Whisper's transcript (not a model input: ASR costs 0.25 s per
# second of speech) and the Whisper encoder's final output (what CTranslate2 gives).
TRAINING_BLOCKS = (*INPUTS, "aligned_phones", "whisper_final")


def aligned_phone_block(samples: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """Phone fractions per frame (as the ``phones`` block) of the phones of Whisper's transcript
    (:func:`~talkface.speech.alignment.transcript_phone_labels`: force-aligned in English,
    espeak-ng-timed in other languages, recognised if there are no words).

    Returns:
        ``(n_frames, len(PHONES))`` float32.
    """
    from talkface.speech.alignment import transcript_phone_labels
    from talkface.speech.phones import phone_fractions
    from talkface.speech.whisper import shared_whisper

    language, words = shared_whisper().transcribe(samples)
    labels, _ = transcript_phone_labels(samples, words, language)
    return phone_fractions(samples, n_frames, fps, labels)


def clip_blocks(
    samples: np.ndarray, n_frames: int, fps: float, names: tuple[str, ...] = TRAINING_BLOCKS
) -> dict[str, np.ndarray]:
    """Feature blocks (default :data:`TRAINING_BLOCKS`) for one clip's speech.

    Args:
        samples: ``(n,)`` float32 waveform at 16 kHz.
        n_frames: video frames.
        fps: frame rate in frames/s.

    Raises:
        TalkfaceError: the bundled Whisper model is missing or corrupt.
    """
    from talkface.motion.learned import audio_features
    from talkface.speech.whisper import FINAL_LAYER

    out = {}
    for name in names:
        if name == "aligned_phones":
            out[name] = aligned_phone_block(samples, n_frames, fps)
        elif name == "whisper_final":
            config = dataclasses.replace(CONFIG, inputs=("whisper",), whisper_layer=FINAL_LAYER)
            out[name] = audio_features(samples, n_frames, fps, config=config)
        else:
            out[name] = audio_features(
                samples, n_frames, fps, config=dataclasses.replace(CONFIG, inputs=(name,))
            )
    return out


def _manifest_rows(data_dir: Path) -> list[dict[str, str]]:
    """The rows of ``MANIFEST.tsv`` next to or above ``data_dir`` (none if there is no manifest)."""
    for manifest in (data_dir / "MANIFEST.tsv", data_dir.parent / "MANIFEST.tsv"):
        if manifest.is_file():
            with open(manifest, newline="") as f:
                return list(csv.DictReader(f, delimiter="\t"))
    return []


def clip_languages(data_dir: Path) -> dict[str, str]:
    """Clip stem -> language code, from ``MANIFEST.tsv`` next to or above ``data_dir`` (if any)."""
    return {
        Path(row.get("local_file", "")).stem: (row.get("language") or "").strip()
        for row in _manifest_rows(data_dir)
    }


def language_group(code: str) -> str:
    """``"English"`` for ``en``, else ``"other"`` (unknown languages included)."""
    return "English" if code == "en" else "other"


def speaker_groups(data_dir: Path) -> dict[str, str]:
    """Clip stem -> speaker group, from ``MANIFEST.tsv`` next to or above ``data_dir`` (if any)."""
    groups = {}
    for row in _manifest_rows(data_dir):
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
        blocks=clip_blocks(samples, n, media.fps),
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
    root = folder.parent if folder.name == "video" else folder
    groups, languages = speaker_groups(root), clip_languages(root)
    clips = []
    for i, path in enumerate(paths):
        cached = cache / f"{path.stem}.npz" if cache else None
        group = groups.get(path.stem, path.stem)
        clip = _cached_clip(cached, path, group) if cached is not None and cached.is_file() else None
        if clip is None:
            try:
                clip = measure_clip(path, group)
            except TalkfaceError as exc:
                log(f"skipped {exc}")
                continue
            if cached is not None:
                _save_clip(cached, clip)
        clip.language = languages.get(path.stem, "")
        log(f"[{i + 1}/{len(paths)}] {path.name}: {len(clip.aperture)} frames, group {group}")
        clips.append(clip)
    return clips


def _save_clip(path: Path, clip: MotionClip) -> None:
    """Cache a measured clip as ``.npz`` (blocks as ``block_<name>``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: v for k, v in vars(clip).items() if k not in ("name", "group", "blocks", "language")}
    blocks = {f"block_{k}": v for k, v in clip.blocks.items()}
    save_npz_atomic(path, **arrays, **blocks, whisper_layer=np.array(CONFIG.whisper_layer))


def _cached_clip(path: Path, media: Path, group: str) -> MotionClip:
    """A clip from its cache file. A cache of an older talkface (one ``features`` array of mel and
    phones) is split into blocks; blocks it lacks (Whisper, or Whisper of another encoder layer
    than :attr:`MotionConfig.whisper_layer`) are computed from ``media``'s speech and the cache is
    rewritten."""
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    blocks = {k.removeprefix("block_"): arrays.pop(k) for k in list(arrays) if k.startswith("block_")}
    if int(arrays.pop("whisper_layer", -1)) != CONFIG.whisper_layer:
        blocks.pop("whisper", None)  # made from another encoder layer
    legacy = arrays.pop("features", None)
    if legacy is not None:
        n_mel = CONFIG.width("mel")
        blocks.setdefault("mel", legacy[:, :n_mel])
        blocks.setdefault("phones", legacy[:, n_mel:])
    fps = float(arrays.pop("fps"))
    clip = MotionClip(**arrays, blocks=blocks, name=media.stem, group=group, fps=fps)
    missing = tuple(name for name in TRAINING_BLOCKS if name not in blocks)
    if missing:
        from talkface.media.audio import load_audio

        clip.blocks.update(clip_blocks(load_audio(media), len(clip.aperture), fps, missing))
        _save_clip(path, clip)
    return clip
