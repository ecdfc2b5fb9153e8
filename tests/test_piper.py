"""The Piper neural voice (speech/piper.py): its checked model, its speech and its exact timing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkface.errors import TalkfaceError
from talkface.speech.piper import HOP_LENGTH, PiperVoice, default_voice_files, ipa_phonemes, shared_piper


def test_a_corrupted_voice_is_refused_in_one_line(tmp_path: Path) -> None:
    model, config = default_voice_files()
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte flipped, size unchanged
    bad = tmp_path / model.name
    bad.write_bytes(data)
    with pytest.raises(TalkfaceError) as caught:
        PiperVoice(bad, config)
    message = str(caught.value)
    assert "\n" not in message and str(bad) in message and "sha256" in message


def test_ipa_keeps_clause_punctuation() -> None:
    ipa = ipa_phonemes("Hello there, my friend. Are you well?")
    assert ipa.count(",") == 1 and ipa.count(".") == 1 and ipa.endswith("?"), ipa
    with pytest.raises(TalkfaceError):
        ipa_phonemes(" ... ")


def test_the_voice_speaks_the_words_with_exact_sound_timing() -> None:
    from talkface.speech.whisper import shared_whisper

    voice = shared_piper()
    text = "Good morning. Please send the report to the whole team before noon."
    pcm, rate, sounds = voice.synthesize(text)
    assert rate == 22050 and pcm.dtype == np.float32 and np.abs(pcm).max() <= 1
    # The durations cover the audio exactly: frames x hop length (the last pads are pauses).
    assert sounds[-1][1] <= len(pcm) / rate + 1e-6 and len(pcm) % HOP_LENGTH == 0
    starts = np.array([s for s, _, _ in sounds])
    ends = np.array([e for _, e, _ in sounds])
    assert np.all(ends > starts) and np.all(starts[1:] >= ends[:-1] - 1e-9)
    assert "".join(p for _, _, p in sounds[:4]) == "ɡʊdm"  # "good m..."
    # Where the voice says it is silent (the sentence pause), it is; where it speaks, it is loud.
    gaps = [(a, b) for (_, a, _), (b, _, _) in zip(sounds, sounds[1:], strict=False) if b - a > 0.1]
    assert gaps, "no pause at the full stop"
    a, b = gaps[0]
    quiet = np.sqrt(np.mean(pcm[int((a + 0.03) * rate) : int((b - 0.03) * rate)] ** 2))
    loud = np.sqrt(np.mean(pcm[int(sounds[0][0] * rate) : int(a * rate)] ** 2))
    assert quiet < 0.1 * loud, (quiet, loud)
    # Whisper hears the words.
    samples = np.interp(np.arange(int(len(pcm) * 16000 / rate)) * rate / 16000, np.arange(len(pcm)), pcm)
    _, words = shared_whisper().transcribe(samples.astype(np.float32))
    heard = " ".join(w.text.strip(" .,").lower() for w in words)
    for word in ("morning", "please", "report", "team", "noon"):
        assert word in heard, heard
