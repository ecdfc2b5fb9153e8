"""English phones by forced alignment of a transcript (speech/alignment.py), on real speech."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import data_file

from talkface.media.audio import load_audio
from talkface.speech.alignment import aligned_phone_labels, cmu_phone, spoken_words, transcript_phone_labels
from talkface.speech.phones import PHONE_FRAMES_PER_SECOND, PHONES, phone_labels
from talkface.speech.whisper import Whisper


def _runs(labels: np.ndarray) -> list[str]:
    """The phones in order, one per run, silence left out."""
    cut = np.flatnonzero(np.diff(labels)) + 1
    return [PHONES[run[0]] for run in np.split(labels, cut) if run[0] != 0]


def test_spoken_words() -> None:
    assert spoken_words("Set blue with E5, now!") == ["set", "blue", "with", "e", "five", "now"]
    assert spoken_words("in 2024 it's 15") == ["in", "two", "thousand", "twenty", "four", "it's", "fifteen"]


def test_a_grid_sentence_aligns_to_its_phones_in_order_and_time(whisper: Whisper) -> None:
    samples = load_audio(data_file("video/grid_sbwe5n.mpg"))
    _, words = whisper.transcribe(samples)  # "set blue with E5 now"
    labels = aligned_phone_labels(samples, [w.text for w in words])
    assert labels is not None and labels.shape == phone_labels(samples).shape
    assert _runs(labels) == "S EH T B L UW W IH DH IY F AY V N AW".split()
    # The speaker starts after 0.4 s of silence (the mouth opens at frame 11 of 25 fps), which
    # Whisper's word times miss (it starts "set" at 0.0 s).
    onset = np.flatnonzero(labels)[0] / PHONE_FRAMES_PER_SECOND
    assert 0.3 < onset < 0.55


def test_words_outside_the_dictionary_are_left_out_and_no_words_give_none() -> None:
    samples = load_audio(data_file("video/grid_sbwe5n.mpg"))
    labels = aligned_phone_labels(samples, ["set", "blue", "qzxvbn", "with", "e", "five", "now"])
    assert labels is not None and _runs(labels)[:6] == "S EH T B L UW".split()
    assert aligned_phone_labels(samples, ["qzxvbn"]) is None
    assert aligned_phone_labels(samples, []) is None


@pytest.mark.parametrize(
    "name, language", [("de_dreamtalk_German1.wav", "de"), ("zh_musetalk_sun.wav", "zh")]
)
def test_german_and_mandarin_speech_give_phones_timed_in_the_words(
    name: str, language: str, whisper: Whisper
) -> None:
    samples = load_audio(data_file(f"audio/{name}"))
    detected, words = whisper.transcribe(samples)
    assert detected == language and len(words) >= 5
    labels, way = transcript_phone_labels(samples, words, detected)
    assert way == "espeak" and labels.shape == phone_labels(samples).shape
    assert len(set(_runs(labels))) >= 12
    # Phones lie inside the words' times, silence outside them.
    inside = np.zeros(len(labels), bool)
    for w in words:
        inside[round(w.start * PHONE_FRAMES_PER_SECOND) : round(w.end * PHONE_FRAMES_PER_SECOND) + 1] = True
    assert not labels[~inside].any() and (labels[inside] > 0).mean() > 0.9


def test_the_phone_map_covers_espeak_mnemonics() -> None:
    assert [cmu_phone(m) for m in ("'u:", "tS;", "s.", "'Au", "y:", "t_s\\", "_:")] == [
        "UW", "CH", "SH", "AW", "UW", "CH", "SIL"
    ]  # fmt: skip
