"""Mouth tracks of a video and how well one follows another (self-reenactment metrics).

Inner-lip aperture is |p13 - p14| and mouth width |p61 - p291|, both over the interocular distance
|p33 - p263| of mediapipe's face mesh (`shared/research/motion-feasibility.md`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkface.face.landmarks import mouth_aperture, mouth_width
from talkface.face.track import landmark_track


@dataclass
class MouthTrack:
    """Per-frame mouth measurements of a video.

    Attributes:
        aperture: ``(n,)`` float32 inner-lip aperture / IOD, NaN where no face was found.
        width: ``(n,)`` float32 mouth width / IOD, NaN where no face was found.
    """

    aperture: np.ndarray
    width: np.ndarray

    @classmethod
    def of_landmarks(cls, landmarks: np.ndarray) -> MouthTrack:
        """The mouth of every frame of ``(n, 478, 2)`` mesh landmarks (NaN rows where no face)."""
        return cls(mouth_aperture(landmarks).astype(np.float32), mouth_width(landmarks).astype(np.float32))


def mouth_track(path: str | Path, max_frames: int | None = None) -> MouthTrack:
    """Track the face through ``path`` and measure the mouth in every frame.

    Raises:
        TalkfaceError: the video cannot be read.
    """
    return MouthTrack.of_landmarks(landmark_track(path, max_frames))


@dataclass
class FollowScore:
    """How a generated mouth track follows a real one, frame by frame.

    Attributes:
        aperture_r: Pearson r of the apertures.
        std_ratio: std of the generated aperture / std of the real one (1 = moves as much).
        width_r: Pearson r of the mouth widths.
        frames: frames compared (both have a face).
    """

    aperture_r: float
    std_ratio: float
    width_r: float
    frames: int


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def follow_score(generated: MouthTrack, real: MouthTrack) -> FollowScore:
    """Compare two mouth tracks frame by frame over their common length (lag 0)."""
    n = min(len(generated.aperture), len(real.aperture))
    ga, ra = generated.aperture[:n], real.aperture[:n]
    gw, rw = generated.width[:n], real.width[:n]
    ok = ~(np.isnan(ga) | np.isnan(ra))
    ga, ra, gw, rw = ga[ok], ra[ok], gw[ok], rw[ok]
    std_ratio = float(ga.std() / ra.std()) if ok.sum() > 2 and ra.std() > 1e-9 else 0.0
    return FollowScore(_pearson(ga, ra), std_ratio, _pearson(gw, rw), int(ok.sum()))
