"""Training data from a prepared folder (``talkface train prepare``): face crops and mel windows.

Follows Wav2Lip's ``color_syncnet_train.py`` / ``wav2lip_train.py``: crops resized to
:data:`~talkface.models.wav2lip.IMG_SIZE` (BGR, as ``cv2.imread`` gives), windows of
:data:`~talkface.models.syncnet.SYNC_FRAMES` consecutive frames, and the 16-column mel window of
frame ``i`` starting at ``int(80 * i / 25)``. Every clip is decoded once and held in memory
(96x96x3 bytes per frame: 330 MB for the 11,800 crops of ``../shared/data/video``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from talkface.errors import TalkfaceError
from talkface.face.landmarks import N_LANDMARKS
from talkface.media.audio import load_audio
from talkface.models.syncnet import SYNC_FRAMES, lower_halves
from talkface.models.wav2lip import IMG_SIZE
from talkface.speech.mel import MEL_STEP_SIZE, mel_window_start, melspectrogram
from talkface.training.prepare import LANDMARKS_FILE, TRAIN_FPS


@dataclass
class Clip:
    """One prepared clip in memory.

    Attributes:
        name: folder name.
        frames: ``(n, size, size, 3)`` uint8 BGR crops, in frame order (``size`` =
            :data:`~talkface.models.wav2lip.IMG_SIZE` unless loaded at another).
        index: ``(n,)`` int frame number (at 25 fps) of each crop; gaps where no face was found.
        mel: ``(80, m)`` float32 mel spectrogram of the clip's speech.
    """

    name: str
    frames: np.ndarray
    index: np.ndarray
    mel: np.ndarray

    @cached_property
    def starts(self) -> np.ndarray:
        """Positions ``k`` in :attr:`frames` that start :data:`SYNC_FRAMES` consecutive frame numbers
        whose mel window lies inside the speech."""
        n = len(self.index)
        if n < SYNC_FRAMES:
            return np.zeros(0, np.int64)
        k = np.arange(n - SYNC_FRAMES + 1)
        consecutive = self.index[k + SYNC_FRAMES - 1] - self.index[k] == SYNC_FRAMES - 1
        mel_ok = np.array(
            [mel_window_start(int(i), TRAIN_FPS) + MEL_STEP_SIZE <= self.mel.shape[1] for i in self.index[k]]
        )
        return k[consecutive & mel_ok]

    def mel_window(self, frame_number: int) -> np.ndarray:
        """``(80, 16)`` float32 mel window of frame number ``frame_number``."""
        s = mel_window_start(frame_number, TRAIN_FPS)
        return self.mel[:, s : s + MEL_STEP_SIZE]


def load_clip(folder: Path, size: int = IMG_SIZE) -> Clip:
    """Read one prepared clip (numbered ``.jpg`` crops + ``audio.wav``), the crops resized to
    ``size`` x ``size`` pixels (area averaging).

    Raises:
        TalkfaceError: no crops or no audio.
    """
    jpgs = sorted(folder.glob("*.jpg"), key=lambda p: int(p.stem))
    if not jpgs or not (folder / "audio.wav").is_file():
        raise TalkfaceError("not a prepared clip (numbered .jpg crops and audio.wav)", folder)
    frames = np.stack(
        [cv2.resize(cv2.imread(str(p)), (size, size), interpolation=cv2.INTER_AREA) for p in jpgs]
    )
    index = np.array([int(p.stem) for p in jpgs])
    return Clip(folder.name, frames, index, melspectrogram(load_audio(folder / "audio.wav")))


def clip_landmarks(folder: Path, mesh=None) -> np.ndarray:
    """The landmarks of each crop of a prepared clip, in the crops' order: ``(n, 478, 2)`` float32,
    x and y in [0, 1] units of the crop's width and height, NaN for a crop without them.

    ``talkface train prepare`` writes them (:data:`LANDMARKS_FILE`, from the face track); for a
    folder prepared before it did, they are found by running ``mesh``
    (:class:`~talkface.face.track.CropMesh`) on each crop and saved there.

    Raises:
        TalkfaceError: no file and no ``mesh`` to make it.
    """
    jpgs = sorted(folder.glob("*.jpg"), key=lambda p: int(p.stem))
    path = folder / LANDMARKS_FILE
    if path.is_file():
        lm = np.load(path)
        if lm.shape == (len(jpgs), N_LANDMARKS, 2):
            return lm.astype(np.float32)
    if mesh is None:
        raise TalkfaceError(f"no {LANDMARKS_FILE} (run `talkface train prepare` again)", folder)
    out = np.full((len(jpgs), N_LANDMARKS, 2), np.nan, np.float32)
    for i, jpg in enumerate(jpgs):
        bgr = cv2.imread(str(jpg))
        found = mesh(np.ascontiguousarray(bgr[..., ::-1]))
        if found is not None:
            out[i] = found / np.array([bgr.shape[1], bgr.shape[0]], np.float32)
    np.save(path, out)
    return out


def load_split(root: Path, split: str, size: int = IMG_SIZE) -> list[Clip]:
    """The clips listed in ``root/<split>.txt`` (``train`` or ``val``), crops at ``size`` pixels.

    Raises:
        TalkfaceError: missing list, or no usable clip in it.
    """
    listing = root / f"{split}.txt"
    if not listing.is_file():
        raise TalkfaceError(f"no {split}.txt (run `talkface train prepare` first)", root)
    clips = [load_clip(root / name, size) for name in listing.read_text().split()]
    clips = [c for c in clips if len(c.starts)]
    if not clips:
        raise TalkfaceError(f"no clip in {split}.txt has {SYNC_FRAMES} consecutive face crops", root)
    return clips


def sync_batch(
    clips: list[Clip],
    batch: int,
    rng: np.random.Generator,
    min_shift: int = 1,
    augment: bool = False,
    jitter: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A balanced batch of in-sync and off-sync (face window, mel window) pairs.

    Positives take the mel window of the face window's first frame; negatives the mel window of
    another window of the same clip at least ``min_shift`` frames away (the published recipe takes
    any other window: ``min_shift`` 1).

    Args:
        augment: mirror half of the windows left-right and scale each window's brightness by
            0.75-1.25 and its colour channels by 0.9-1.1 (the same for its 5 frames), against
            over-fitting the few speakers of a small dataset. Not in the published recipe.
        jitter: also shift each face window by up to :data:`JITTER_PIXELS` pixels (edges
            repeated) and perturb its mel window (:func:`jitter_mel`). Not in the published recipe.

    Returns:
        ``(mel (B,1,80,16), face (B,15,48,96), y (B,))`` float32.
    """
    mels, faces, ys = [], [], []
    for b in range(batch):
        clip = clips[int(rng.integers(len(clips)))]
        starts = clip.starts
        k = int(starts[rng.integers(len(starts))])
        y = b % 2 == 0
        frame = int(clip.index[k])
        if not y:
            far = starts[np.abs(clip.index[starts] - frame) >= min_shift]
            if len(far) == 0:
                y = True
            else:
                frame = int(clip.index[int(far[rng.integers(len(far))])])
        mels.append(clip.mel_window(frame))
        faces.append(clip.frames[k : k + SYNC_FRAMES])
        ys.append(float(y))
    face = lower_halves(np.stack(faces))  # (B, 15, 48, 96)
    if augment:
        flip = rng.random(batch) < 0.5
        face[flip] = face[flip, :, :, ::-1]
        gain = rng.uniform(0.75, 1.25, (batch, 1, 1, 1, 1)) * rng.uniform(0.9, 1.1, (batch, 1, 3, 1, 1))
        b, c, h, w = face.shape
        face = np.clip(face.reshape(b, c // 3, 3, h, w) * gain.astype(np.float32), 0, 1).reshape(b, c, h, w)
    mel = np.stack(mels)
    if jitter:
        face = np.stack([shift_image(f, *rng.integers(-JITTER_PIXELS, JITTER_PIXELS + 1, 2)) for f in face])
        mel = np.stack([jitter_mel(m, rng) for m in mel])
    return mel[:, None], np.ascontiguousarray(face), np.array(ys, np.float32)


JITTER_PIXELS = 4  # largest shift of a face window by ``sync_batch(jitter=True)``, in pixels (of 96)


def shift_image(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` (C, H, W) moved by ``dy`` rows and ``dx`` columns, the uncovered border repeating the
    nearest edge pixels. Same shape and dtype."""
    _, h, w = image.shape
    rows = np.clip(np.arange(h) - dy, 0, h - 1)
    cols = np.clip(np.arange(w) - dx, 0, w - 1)
    return image[:, rows][:, :, cols]


def jitter_mel(mel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A randomly perturbed copy of a Wav2Lip mel window (80, 16) float32 in [-4, 4].

    Against over-fitting the voices of a few speakers: a gain of +-6 dB (the scale maps 100 dB to 8
    units), Gaussian noise of 0.1 units, a shift of the frequency axis by up to 2 mel bands (a crude
    vocal-tract-length / pitch change) and, half of the time, one masked band of up to 8 mel bands
    (SpecAugment, Park et al. 2019) set to the window's mean.
    """
    n = mel.shape[0]
    out = mel[np.clip(np.arange(n) + int(rng.integers(-2, 3)), 0, n - 1)]
    out = out + rng.uniform(-0.48, 0.48) + rng.normal(0.0, 0.1, out.shape)
    if rng.random() < 0.5:
        width = int(rng.integers(1, 9))
        lo = int(rng.integers(0, n - width))
        out[lo : lo + width] = out.mean()
    return np.clip(out, -4.0, 4.0).astype(np.float32)
