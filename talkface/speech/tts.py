"""Text-to-speech with espeak-ng (library and voice data from the ``espeakng-loader`` wheel).

espeak-ng is driven through ctypes in synchronous mode; its phoneme events give the exact start
time of every phoneme, which the motion stage can use as viseme timing.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from talkface.errors import TalkfaceError

# espeak-ng API constants (speak_lib.h)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_WORD = 1
_EVENT_END = 5
_EVENT_PHONEME = 7
_PHONEMES_IPA = 0x02  # espeak_TextToPhonemes phonememode: IPA

LANGUAGE_VOICES = {"zh": "cmn", "zh-cn": "cmn", "mandarin": "cmn", "cantonese": "yue"}
"""Common language codes mapped to espeak-ng voice names; other codes are passed through."""


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)
_lock = threading.Lock()
_engine: dict = {}


def _load() -> dict:
    """Load and initialise libespeak-ng once per process; return the library and its sample rate."""
    if _engine:
        return _engine
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    data_dir = espeakng_loader.get_data_path()
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_ng_InitializePath.argtypes = [ctypes.c_char_p]
    lib.espeak_ng_InitializePath(data_dir.encode())
    rate = lib.espeak_Initialize(
        _AUDIO_OUTPUT_SYNCHRONOUS,
        0,
        data_dir.rsplit("/", 1)[0].encode(),
        _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT,
    )
    if rate <= 0:
        raise TalkfaceError("espeak-ng failed to initialise")
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
    _engine.update(lib=lib, rate=rate)
    return _engine


def _set_voice(lib, lang: str) -> str:
    """Select the espeak-ng voice for ``lang`` (caller holds ``_lock``); return its name."""
    voice = LANGUAGE_VOICES.get(lang.lower(), lang)
    if not voice or lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise TalkfaceError(f"unknown language {lang!r} (espeak-ng has no voice {voice!r})")
    return voice


def check_language(lang: str) -> str:
    """The espeak-ng voice for ``lang`` (see :data:`LANGUAGE_VOICES`).

    Raises:
        TalkfaceError: espeak-ng has no such voice.
    """
    with _lock:
        return _set_voice(_load()["lib"], lang)


def ipa(texts: list[str], lang: str = "en") -> list[str]:
    """espeak-ng's IPA for each of ``texts`` (``espeak_TextToPhonemes``; stress marks included,
    clause punctuation dropped), e.g. ``["Hi there"]`` -> ``["hˈaɪ ðˈɛɹ"]``.

    Raises:
        TalkfaceError: unknown language.
    """
    out = []
    with _lock:
        lib = _load()["lib"]
        _set_voice(lib, lang)
        for text in texts:
            buf = ctypes.c_char_p(text.encode("utf-8"))
            parts = []
            while buf.value:  # one clause per call
                parts.append(lib.espeak_TextToPhonemes(ctypes.pointer(buf), _CHARS_UTF8, _PHONEMES_IPA))
            out.append(" ".join(part.decode("utf-8").strip() for part in parts))
    return out


def synthesize(text: str, lang: str = "en") -> tuple[np.ndarray, int, list[tuple[float, float, str]]]:
    """Speak ``text`` with espeak-ng.

    Args:
        text: the words to speak (UTF-8; Mandarin in Han characters).
        lang: language code or espeak-ng voice name (``en``, ``en-us``, ``zh``/``cmn``, ``de``, ...).

    Returns:
        ``(pcm, sample_rate, phonemes)``: ``(n,)`` float32 mono waveform in [-1, 1], its rate in Hz
        (22050 for espeak-ng), and ``[(start_s, end_s, phoneme), ...]`` in espeak-ng's phoneme
        mnemonics, pauses excluded.

    Raises:
        TalkfaceError: empty text, unknown language, or no audio produced.
    """
    if not text or not text.strip():
        raise TalkfaceError("text is empty")
    with _lock:
        engine = _load()
        lib, rate = engine["lib"], engine["rate"]
        _set_voice(lib, lang)
        chunks: list[np.ndarray] = []
        events: list[tuple[int, str]] = []  # (sample offset, phoneme)
        done = [0]

        def on_synth(wav, n, ev) -> int:
            if n > 0:
                chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            i = 0
            while ev[i].type != 0:  # espeakEVENT_LIST_TERMINATED
                e = ev[i]
                if e.type == _EVENT_PHONEME:
                    name = bytes(e.id.string).split(b"\0", 1)[0].decode("utf-8", "replace")
                    events.append((e.sample, name))
                i += 1
            done[0] += n
            return 0

        callback = _CALLBACK(on_synth)
        lib.espeak_SetSynthCallback(callback)
        data = text.encode("utf-8") + b"\0"
        lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
    if not chunks:
        raise TalkfaceError("espeak-ng produced no audio for the text")
    pcm = np.concatenate(chunks).astype(np.float32) / 32768.0
    phonemes: list[tuple[float, float, str]] = []
    for k, (sample, name) in enumerate(events):
        end = events[k + 1][0] if k + 1 < len(events) else len(pcm)
        if name and not name.startswith(("_", "|")):  # "_", "_:", "_|", "||" ... are pauses
            phonemes.append((sample / rate, end / rate, name))
    return pcm, rate, phonemes
