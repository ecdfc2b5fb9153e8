"""English phones by forced alignment of a known transcript (pocketsphinx, its bundled en-us model).

Free phone recognition (:mod:`talkface.speech.phones`) guesses every phone from the sound alone.
Given the words (from Whisper, :mod:`talkface.speech.whisper`, or from ``--text``), pocketsphinx
can instead align their dictionary pronunciations to the speech: a Viterbi pass through the
chain of the words' phone HMMs, with optional silence between words. The labels come out in the
same form as :func:`~talkface.speech.phones.phone_labels` (one of :data:`PHONES` per 10 ms).

Words are normalised first (:func:`spoken_words`: lower case, digits spelt out, letters and
digits split: "E5" -> "e five"); words missing from the CMU dictionary are left out of the
alignment (their sound goes to the neighbouring words or to silence).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from talkface.speech.phones import PHONES, n_phone_labels, pcm16

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen".split()
_ONES += "fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
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


@lru_cache(maxsize=1)
def _decoder():
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
    try:
        decoder.set_align_text(" ".join(known))
        for _ in range(2):  # first pass: the word sequence; second: its phone and state alignment
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            if _ == 0:
                decoder.set_alignment()
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
