"""Phones timed from a transcript: English by forced alignment (pocketsphinx's bundled en-us model),
other languages by espeak-ng's phonemes of each recognised word, timed within the word.

Free phone recognition (:mod:`talkface.speech.phones`) guesses every phone from the sound alone.
Given the words (from Whisper, :mod:`talkface.speech.whisper`, or from ``--text``), pocketsphinx
can instead align their dictionary pronunciations to the speech: a Viterbi pass through the
chain of the words' phone HMMs, with optional silence between words. The labels come out in the
same form as :func:`~talkface.speech.phones.phone_labels` (one of :data:`PHONES` per 10 ms).

Words are normalised first (:func:`spoken_words`: lower case, digits spelt out, letters and
digits split: "E5" -> "e five"); words missing from the CMU dictionary are left out of the
alignment (their sound goes to the neighbouring words or to silence).

For other languages (:func:`espeak_phone_labels`), espeak-ng phonemizes each word in the
recognised language; its phonemes keep espeak's relative durations, scaled into the word's time,
and map to the nearest of the 39 CMU phones (:func:`cmu_phone`: German /y/ is rounded, so UW;
Mandarin's retroflexes are SH/ZH/CH). :func:`transcript_phone_labels` picks the way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from talkface.errors import TalkfaceError
from talkface.speech.phones import PHONE_FRAMES_PER_SECOND, PHONES, n_phone_labels, pcm16, phone_labels

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen".split()
_ONES += "fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
if TYPE_CHECKING:
    from talkface.speech.whisper import Word

# espeak-ng consonant mnemonics (length, palatalisation and aspiration marks stripped) -> CMU phone.
_CONSONANTS = {
    "p": "P", "b": "B", "m": "M", "f": "F", "v": "V", "t": "T", "d": "D", "n": "N", "N": "NG",
    "l": "L", "L": "L", "s": "S", "z": "Z", "k": "K", "g": "G", "h": "HH", "x": "HH", "X": "HH",
    "C": "HH", "S": "SH", "Z": "ZH", "s.": "SH", "z.": "ZH", "tS": "CH", "dZ": "JH", "ts": "CH",
    "t_s": "CH", "dz": "JH", "ts.": "CH", "T": "TH", "D": "DH", "r": "R", "R": "R", "w": "W",
    "j": "Y", "J": "N", "Q": "G", "B": "V", "?": "SIL",
}  # fmt: skip
# espeak-ng vowel letters -> CMU vowel (the first vowel letter of a mnemonic decides, save for the
# diphthongs below).
_VOWELS = {
    "a": "AA", "A": "AA", "e": "EY", "E": "EH", "i": "IY", "I": "IH", "o": "OW", "O": "AO",
    "0": "AO", "u": "UW", "U": "UH", "@": "AH", "3": "ER", "V": "AH", "y": "UW", "Y": "UH",
    "W": "UH", "&": "AE",
}  # fmt: skip
_DIPHTHONGS = {"aI": "AY", "aU": "AW", "Au": "AW", "OI": "OY", "eI": "EY", "oU": "OW", "ai": "AY", "au": "AW"}
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*|\d+")


def number_words(n: int) -> list[str]:
    """English words for a non-negative integer (``2024`` -> ``two thousand twenty four``); digit by
    digit from a million on."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + (number_words(n % 10) if n % 10 else [])
    if n < 1000:
        return number_words(n // 100) + ["hundred"] + (number_words(n % 100) if n % 100 else [])
    if n < 1_000_000:
        return number_words(n // 1000) + ["thousand"] + (number_words(n % 1000) if n % 1000 else [])
    return [_ONES[int(d)] for d in str(n)]


def spoken_words(text: str) -> list[str]:
    """The words of ``text`` as spoken: lower case, punctuation dropped, digits spelt out, letters and
    digits split (``"E5, now!"`` -> ``["e", "five", "now"]``)."""
    words: list[str] = []
    for token in _TOKEN.findall(text.lower()):
        words += number_words(int(token)) if token.isdigit() else [token]
    return words


def _decoder():
    """A new decoder per alignment (0.1 s), as :func:`~talkface.speech.phones.phone_labels` does: one
    that decoded an earlier utterance decodes the next differently."""
    from pocketsphinx import Decoder

    return Decoder(samprate=16000, bestpath=False, loglevel="FATAL")


def aligned_phone_labels(samples: np.ndarray, words: Sequence[str]) -> np.ndarray | None:
    """The phone of every 10 ms frame, by aligning ``words`` to the speech.

    Args:
        samples: ``(n,)`` float32 waveform at 16 kHz.
        words: the transcript, as words (normalised here by :func:`spoken_words`).

    Returns:
        ``(n // 160 + 1,)`` int64 indices into :data:`~talkface.speech.phones.PHONES` (0, silence,
        between words), or ``None`` when no word is in the dictionary or the alignment fails
        (then use :func:`~talkface.speech.phones.phone_labels`).
    """
    decoder = _decoder()
    known = [w for w in spoken_words(" ".join(words)) if decoder.lookup_word(w) is not None]
    if not known or len(samples) == 0:
        return None
    pcm = b"".join(pcm16(samples))

    def decode() -> None:
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()

    try:
        decoder.set_align_text(" ".join(known))
        decode()  # the word sequence
        decoder.set_alignment()
        decode()  # its phones and states
        alignment = decoder.get_alignment()
    except RuntimeError:
        return None
    if alignment is None:
        return None
    labels = np.zeros(n_phone_labels(len(samples)), np.int64)
    index = {p: i for i, p in enumerate(PHONES)}
    for word in alignment:
        for phone in word:
            if phone.name in index:
                labels[phone.start : phone.start + phone.duration] = index[phone.name]
    return labels


def cmu_phone(mnemonic: str) -> str:
    """The nearest of :data:`~talkface.speech.phones.PHONES` for an espeak-ng phoneme mnemonic
    (``"'u:"`` -> ``UW``, ``"tS;"`` -> ``CH``); ``SIL`` for pauses and unknown symbols."""
    name = mnemonic.lstrip("',")
    for candidate in (name, name.rstrip(":;-\\#2h"), name.rstrip(":;-\\#2")):
        if candidate in _CONSONANTS:
            return _CONSONANTS[candidate]
        if candidate[:2] in _DIPHTHONGS:
            return _DIPHTHONGS[candidate[:2]]
    for c in name:
        if c in _VOWELS:
            return _VOWELS[c]
    return "SIL"


def espeak_phone_labels(n_samples: int, words: Sequence[Word], language: str) -> np.ndarray | None:
    """The phone of every 10 ms frame from espeak-ng's phonemes of each word, timed within the word.

    Args:
        n_samples: length of the speech at 16 kHz.
        words: recognised words with their times in seconds.
        language: the words' language (an espeak-ng voice: ``de``, ``zh``, ``es`` ...).

    Returns:
        ``(n_samples // 160 + 1,)`` int64 indices into :data:`~talkface.speech.phones.PHONES`
        (silence between words), or ``None`` if espeak-ng has no voice for ``language`` or no
        word gave phonemes.
    """
    from talkface.speech.tts import synthesize

    timed = []
    for word in words:
        try:
            _, _, phonemes = synthesize(word.text, language)
        except TalkfaceError:  # no voice, or nothing to say (punctuation)
            continue
        if not phonemes:
            continue
        t0, t1 = phonemes[0][0], phonemes[-1][1]
        scale = (word.end - word.start) / max(t1 - t0, 1e-6)
        timed += [(word.start + (a - t0) * scale, word.start + (b - t0) * scale, p) for a, b, p in phonemes]
    return timed_phone_labels(n_samples, timed) if timed else None


def timed_phone_labels(n_samples: int, phonemes: Sequence[tuple[float, float, str]]) -> np.ndarray:
    """The phone of every 10 ms frame from timed espeak-ng phonemes (synthesised speech's exact
    timing, or :func:`espeak_phone_labels`'s).

    Args:
        n_samples: length of the speech at 16 kHz.
        phonemes: ``[(start_s, end_s, espeak mnemonic), ...]``.

    Returns:
        ``(n_samples // 160 + 1,)`` int64 indices into :data:`~talkface.speech.phones.PHONES`
        (:func:`cmu_phone` of each phoneme; silence outside them).
    """
    labels = np.zeros(n_phone_labels(n_samples), np.int64)
    index = {p: i for i, p in enumerate(PHONES)}
    for start, end, name in phonemes:
        a = round(start * PHONE_FRAMES_PER_SECOND)
        b = round(end * PHONE_FRAMES_PER_SECOND)
        labels[max(a, 0) : max(b, a + 1)] = index[cmu_phone(name)]
    return labels


def transcript_phone_labels(
    samples: np.ndarray, words: Sequence[Word], language: str
) -> tuple[np.ndarray, str]:
    """Phones of every 10 ms frame from a transcript, the best way available.

    English words are force-aligned (:func:`aligned_phone_labels`); other languages are timed by
    espeak-ng within the words (:func:`espeak_phone_labels`); with no words, or when both fail,
    the phones are recognised freely (:func:`~talkface.speech.phones.phone_labels`).

    Args:
        samples: ``(n,)`` float32 waveform at 16 kHz.
        words: the recognised words with their times (seconds).
        language: their ISO 639-1 language code.

    Returns:
        ``(labels, way)``: ``(n // 160 + 1,)`` int64 indices into
        :data:`~talkface.speech.phones.PHONES`, and ``"aligned"``, ``"espeak"`` or ``"recognised"``.
    """
    if words and language == "en":
        labels = aligned_phone_labels(samples, [w.text for w in words])
        if labels is not None:
            return labels, "aligned"
    if words:
        labels = espeak_phone_labels(len(samples), words, language)
        if labels is not None:
            return labels, "espeak"
    return phone_labels(samples), "recognised"
