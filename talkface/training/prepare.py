"""Dataset preparation: any folder of talking clips -> the LRS2-style layout Wav2Lip trains on.

``OUT/<clip>/<i>.jpg`` are 25 fps face crops (the landmark box plus pads, as ``preprocess.py``
writes S3FD crops), ``OUT/<clip>/audio.wav`` the speech at 16 kHz mono,
``OUT/<clip>/landmarks.npy`` each crop's 478 landmarks in [0, 1] crop units (HyperLips' sketches
and lip masks), and ``OUT/train.txt`` /
``OUT/val.txt`` list clip names. Frames without a face are skipped (gaps, as in the original);
clips without a face in most frames or without speech are skipped and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from talkface.errors import TalkfaceError
from talkface.face.crop import WAV2LIP_PADS
from talkface.face.landmarks import face_box
from talkface.face.quiet import native_stderr_silenced
from talkface.face.track import FaceTracker
from talkface.media.audio import SAMPLE_RATE, load_audio, save_wav
from talkface.media.video import VIDEO_SUFFIXES, FaceMedia
from talkface.speech.vad import speech_mask

LANDMARKS_FILE = "landmarks.npy"  # (n, 478, 2) float32: each crop's landmarks in crop units

TRAIN_FPS = 25.0  # frames/s of the prepared crops (Wav2Lip's hparams.fps)
MIN_FACE_FRACTION = 0.8  # clips with faces in fewer of their frames are skipped
MIN_SPEECH_SECONDS = 0.5
VAL_FRACTION = 0.2


@dataclass
class PrepareSummary:
    """What :func:`prepare_dataset` wrote and skipped."""

    prepared: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # clip -> reason
    frames: int = 0

    def __str__(self) -> str:
        lines = [
            f"prepared {len(self.prepared)} clips ({self.frames} face crops), skipped {len(self.skipped)}"
        ]
        lines += [f"  skipped {name}: {why}" for name, why in sorted(self.skipped.items())]
        return "\n".join(lines)


def prepare_clip(
    clip: Path, out_dir: Path, span: tuple[float, float] | None = None
) -> tuple[int, str | None]:
    """Write one clip's crops and audio; return ``(crops written, reason skipped or None)``.

    Args:
        clip: the video.
        out_dir: the clip's folder (made here).
        span: ``(start, end)`` seconds: only that part of the clip (frames renumbered from 0, the
            speech cut to match); ``None``: all of it.
    """
    try:
        samples = load_audio(clip)
        media = FaceMedia(clip)
    except TalkfaceError as exc:
        return 0, exc.problem
    first, last = 0, None
    if span is not None:
        first, last = int(round(span[0] * TRAIN_FPS)), int(round(span[1] * TRAIN_FPS))
        samples = samples[int(first / TRAIN_FPS * SAMPLE_RATE) : int(last / TRAIN_FPS * SAMPLE_RATE)]
    n_frames = int(round(len(samples) / SAMPLE_RATE * TRAIN_FPS))
    if speech_mask(samples, n_frames, TRAIN_FPS).sum() / TRAIN_FPS < MIN_SPEECH_SECONDS:
        return 0, "no speech"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = total = 0
    crop_landmarks = []
    with native_stderr_silenced():
        tracker = FaceTracker(static=media.is_photo)
        try:
            for i, rgb in media.frames_at(TRAIN_FPS):
                if last is not None and i >= last:
                    break
                if i < first:
                    continue
                i -= first
                total += 1
                lm = tracker(rgb).landmarks
                if lm is None:
                    continue
                x0, y0, x1, y1 = face_box(lm, rgb.shape, WAV2LIP_PADS)
                cv2.imwrite(str(out_dir / f"{i}.jpg"), cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2BGR))
                crop_landmarks.append(
                    (lm - np.array([x0, y0], np.float32)) / np.array([x1 - x0, y1 - y0], np.float32)
                )
                written += 1
        finally:
            tracker.close()
    if total == 0 or written / total < MIN_FACE_FRACTION:
        for f in out_dir.glob("*.jpg"):
            f.unlink()
        out_dir.rmdir()
        return 0, f"face in only {written} of {total} frames"
    np.save(out_dir / LANDMARKS_FILE, np.stack(crop_landmarks).astype(np.float32))
    save_wav(out_dir / "audio.wav", samples)
    return written, None


def prepare_dataset(src: Path, out: Path, val_fraction: float = VAL_FRACTION) -> PrepareSummary:
    """Prepare every video in ``src`` into ``out`` (see the module docstring).

    The split is by clip: every ``1/val_fraction``-th prepared clip (sorted by name) goes to
    ``val.txt``, so no clip has frames in both lists.

    Raises:
        TalkfaceError: ``src`` is not a folder or holds no video.
    """
    if not src.is_dir():
        raise TalkfaceError("not a folder", src)
    clips = sorted(p for p in src.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not clips:
        raise TalkfaceError("no video files", src)
    out.mkdir(parents=True, exist_ok=True)
    summary = PrepareSummary()
    for clip in clips:
        name = clip.stem
        written, reason = prepare_clip(clip, out / name)
        if reason:
            summary.skipped[name] = reason
        else:
            summary.prepared.append(name)
            summary.frames += written
    every = max(2, int(round(1 / val_fraction))) if val_fraction > 0 else 0
    val = [n for k, n in enumerate(summary.prepared) if every and k % every == every - 1]
    train = [n for n in summary.prepared if n not in val]
    (out / "train.txt").write_text("".join(f"{n}\n" for n in train))
    (out / "val.txt").write_text("".join(f"{n}\n" for n in val))
    return summary
