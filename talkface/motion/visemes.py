"""Visemes from exact phoneme timing (text spoken by espeak-ng).

Each espeak-ng phoneme (English or Mandarin mnemonics, stress marks stripped) maps to a mouth
target: opening in [0, 1] and spread in [-1, 1] (negative = rounded). Bilabials close the lips,
labiodentals nearly; open vowels open most; /u/, /o/, /w/ and the post-alveolars round. Targets are
keyed at phoneme centres (a diphthong moves from its first to its second part), interpolated per
video frame and lightly smoothed for coarticulation; time outside phonemes (pauses) is silence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from talkface.errors import TalkfaceError
from talkface.motion import MouthMotion, smooth_curve
from talkface.motion.heuristic import ROUNDING_Z, SILENCE_Z
from talkface.speech.vad import phoneme_speech_mask

if TYPE_CHECKING:
    from talkface.media.audio import Speech

# (opening, spread) per viseme class
VOWELS = {
    "a": (1.0, 0.2),  # /a/ /A/ /aa/
    "e": (0.6, 0.5),  # /e/ /E/
    "i": (0.3, 0.8),  # /i/ /I/ /j/ /y/
    "o": (0.7, -0.8),  # /o/ /O/ /0/
    "u": (0.3, -1.0),  # /u/ /U/ /w/
    "@": (0.45, 0.0),  # schwa, /3:/ /V/
}
_VOWEL_CLASS = {
    "a": "a",
    "A": "a",
    "e": "e",
    "E": "e",
    "i": "i",
    "I": "i",
    "j": "i",
    "y": "i",
    "o": "o",
    "O": "o",
    "0": "o",
    "u": "u",
    "U": "u",
    "w": "u",
    "@": "@",
    "3": "@",
    "V": "@",
}
BILABIAL = (0.0, 0.0)
LABIODENTAL = (0.08, 0.0)
POSTALVEOLAR = (0.2, -0.4)  # /S/ /Z/ /tS/ /dZ/, Mandarin retroflexes: lips protrude
OTHER_CONSONANT = (0.25, 0.0)
OPENING_MEAN, OPENING_SCALE = 0.45, 0.3  # viseme opening -> z units of the opening drive
SPREAD_Z = 1.5  # viseme spread -> z units of the width drive
SMOOTH_SIGMA = 0.8  # video frames: keeps a two-frame bilabial closure visible


def _targets(phoneme: str) -> list[tuple[float, float]]:
    """Mouth targets (opening, spread) for one phoneme: one, or two for a diphthong."""
    name = phoneme.lstrip("',")
    base = name.rstrip("#.;:2h") or name  # drop length, aspiration and variant marks
    if base in ("p", "b", "m"):
        return [BILABIAL]
    if base in ("f", "v"):
        return [LABIODENTAL]
    vowels = [_VOWEL_CLASS[c] for c in base if c in _VOWEL_CLASS]
    if base in ("S", "Z", "tS", "dZ", "r") or (name.rstrip("h").endswith((";", ".")) and not vowels):
        return [POSTALVEOLAR]
    if base[0] not in _VOWEL_CLASS:  # other consonants: t d n l s z k g h N T D X kh th ...
        return [OTHER_CONSONANT]
    first, last = VOWELS[vowels[0]], VOWELS[vowels[-1]]
    return [first] if first == last else [first, last]


def viseme_motion(phonemes: list[tuple[float, float, str]], n_frames: int, fps: float) -> MouthMotion:
    """Mouth drive from ``[(start_s, end_s, phoneme), ...]`` for ``n_frames`` frames at ``fps``.

    Returns:
        :class:`MouthMotion` in the same z units as the acoustic heuristic.
    """
    times, opening, spread = [], [], []
    for start, end, name in phonemes:
        if end <= start:
            continue
        parts = _targets(name)
        for k, (o, s) in enumerate(parts):
            times.append(start + (end - start) * (k + 1) / (len(parts) + 1))
            opening.append(o)
            spread.append(s)
    speech = phoneme_speech_mask(phonemes, n_frames, fps, hangover=0.0)
    t = (np.arange(n_frames) + 0.5) / fps
    if times:
        op = np.interp(t, times, opening)
        sp = np.interp(t, times, spread)
    else:
        op, sp = np.zeros(n_frames), np.zeros(n_frames)
    open_z = np.where(speech, (op - OPENING_MEAN) / OPENING_SCALE, SILENCE_Z)
    width_z = np.where(speech, sp * SPREAD_Z, 0.0)
    open_z = smooth_curve(open_z, SMOOTH_SIGMA).astype(np.float32)
    width_z = smooth_curve(width_z, SMOOTH_SIGMA).astype(np.float32)
    return MouthMotion(open_z, width_z, np.clip(-width_z / ROUNDING_Z, 0, 1).astype(np.float32), speech)


def viseme_source(speech: Speech, n_frames: int, fps: float) -> MouthMotion:
    """:func:`viseme_motion` of ``speech.phonemes`` (the ``visemes`` :class:`~talkface.motion.MotionSource`).

    Raises:
        TalkfaceError: the speech has no phoneme timing (it was not synthesised from text).
    """
    if not speech.phonemes:
        raise TalkfaceError(
            "motion visemes needs the exact phoneme timing of synthesised speech (--text); "
            "for an audio file use learned or heuristic"
        )
    return viseme_motion(speech.phonemes, n_frames, fps)
