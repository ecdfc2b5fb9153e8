"""Speech analysis: mel spectrogram (Wav2Lip-compatible), voice activity, text-to-speech (the Piper
neural voice for English, espeak-ng for every language).

This package module imports nothing heavy: the options and the command line read its constants.
"""

from __future__ import annotations

from talkface.errors import TalkfaceError

VOICES = ("auto", "piper", "espeak")
"""Voices of text input: ``auto`` = Piper for English, espeak-ng otherwise."""
PIPER_LANGUAGES = ("en", "en-us")
"""Language codes the Piper voice (American English) speaks."""


def choose_voice(voice: str, lang: str) -> str:
    """The voice that speaks text in ``lang``: ``piper`` or ``espeak``.

    Args:
        voice: one of :data:`VOICES`.
        lang: the text's language code (``en``, ``zh``, ...).

    Raises:
        TalkfaceError: ``piper`` asked for a language it does not speak, or an unknown voice.
    """
    english = lang.strip().lower() in PIPER_LANGUAGES
    if voice == "auto":
        return "piper" if english else "espeak"
    if voice == "piper" and not english:
        raise TalkfaceError(f"the piper voice speaks English only, not {lang!r} (use voice espeak or auto)")
    if voice not in VOICES:
        raise TalkfaceError(f"unknown voice {voice!r} (choose from {', '.join(VOICES)})")
    return voice
