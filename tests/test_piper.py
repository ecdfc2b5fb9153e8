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


def test_english_text_is_spoken_by_the_neural_voice_with_its_timing() -> None:
    """Text in English (voice auto) is the Piper voice's, its sounds timed as espeak-ng mnemonics
    that the mouth motion reads; other languages stay with espeak-ng; Piper refuses them."""
    from talkface.motion.learned import DEFAULT_WEIGHTS, LearnedMotion
    from talkface.pipeline import load_speech
    from talkface.speech.alignment import timed_phone_labels
    from talkface.speech.phones import PHONES
    from talkface.speech.vad import phoneme_speech_mask

    speech = load_speech(text="Hello there. I bought a new chair.", lang="en")
    assert speech.voice == "piper" and speech.pcm_rate == 22050 and len(speech.pcm) % HOP_LENGTH == 0
    names = [name for _, _, name in speech.phonemes]
    assert names[:4] == ["h", "@", "l", "oU"] and "aI" in names and "tS" in names, names  # merged pairs
    labels = timed_phone_labels(len(speech.samples), speech.phonemes)
    heard = [PHONES[labels[int((a + b) / 2 * 100)]] for a, b, _ in speech.phonemes]
    assert heard[:4] == ["HH", "AH", "L", "OW"] and "AY" in heard and "CH" in heard, heard
    # The exact timing: where the voice makes a sound it is loud, in its sentence pause quiet.
    # The voice samples its noise, so every run differs; the pause's first and last fifth hold the
    # decay of the sounds around it (their rms over the whole pause was 0.06-0.16 of the speech's
    # in six runs), its middle is silence (0.0003-0.0006 of it).
    rate = speech.pcm_rate
    pairs = zip(speech.phonemes, speech.phonemes[1:], strict=False)
    gaps = [(a, b) for (_, a, _), (b, _, _) in pairs if b - a > 0.1]
    assert gaps, "no pause at the full stop"
    a, b = gaps[0]
    edge = 0.2 * (b - a)
    rms = [
        np.sqrt(np.mean(speech.pcm[int(s * rate) : int(e * rate)] ** 2))
        for s, e in ((a + edge, b - edge), (0, a))
    ]
    assert rms[0] < 0.02 * rms[1], rms
    # The learned motion takes its speech mask from that timing, not from a VAD.
    fps = 25.0
    n = int(speech.duration * fps)
    motion = LearnedMotion.load(DEFAULT_WEIGHTS).motion(speech.samples, n, fps, speech.phonemes)
    assert np.array_equal(motion.speech, phoneme_speech_mask(speech.phonemes, n, fps))

    assert load_speech(text="Guten Tag.", lang="de").voice == "espeak"
    assert load_speech(text="Hello.", lang="en", voice="espeak").voice == "espeak"
    with pytest.raises(TalkfaceError) as caught:
        load_speech(text="Guten Tag.", lang="de", voice="piper")
    assert "English only" in str(caught.value) and "\n" not in str(caught.value)
