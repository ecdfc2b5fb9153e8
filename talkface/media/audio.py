"""Speech audio in: decode any PyAV-readable file (or a video's audio track) to 16 kHz mono float32.

Like ``whisper/audio.py`` this module opens with the constants the rest of the package imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from talkface.errors import TalkfaceError
from talkface.media.files import check_input_file, media_error

SAMPLE_RATE = 16000  # Hz, analysis rate of every speech model (Wav2Lip, SyncNet, silero-vad)


@dataclass
class Speech:
    """Speech to drive a face.

    Attributes:
        samples: ``(n,)`` float32 mono waveform at :data:`SAMPLE_RATE`, in [-1, 1], for analysis.
        source: path of the file the speech came from; its audio track is muxed into the output
            at its own sample rate (never downgraded to 16 kHz). ``None`` when ``pcm`` is set.
        pcm: ``(n,)`` float32 mono waveform at ``pcm_rate`` Hz to mux instead of ``source``
            (synthesised speech).
        pcm_rate: sample rate of ``pcm`` in Hz.
        phonemes: optional exact phoneme timing ``[(start_s, end_s, phoneme), ...]`` (text input).
        voice: who spoke it, for text input (``piper`` or ``espeak``).
    """

    samples: np.ndarray
    source: Path | None = None
    pcm: np.ndarray | None = None
    pcm_rate: int = SAMPLE_RATE
    phonemes: list[tuple[float, float, str]] | None = None
    voice: str | None = None

    @property
    def duration(self) -> float:
        """Length of the speech in seconds."""
        return len(self.samples) / SAMPLE_RATE


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode the first audio stream of ``path`` to mono float32 at ``sample_rate`` Hz.

    Any container/codec PyAV (FFmpeg) reads works: wav, mp3, flac, m4a, ogg, or the audio track
    of a video. Channels are averaged; resampling uses FFmpeg's swresample.

    Args:
        path: audio or video file.
        sample_rate: output rate in Hz.

    Returns:
        ``(n,)`` float32 array in [-1, 1].

    Raises:
        TalkfaceError: the file is missing, a folder, empty, not media, cannot be decoded, has no
            audio stream, or holds no sound.
    """
    path = check_input_file(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise media_error(exc, path) from None
    with container:
        if not container.streams.audio:
            raise TalkfaceError("no audio stream", path)
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        # Filled in place (no list of chunks plus its concatenation: 3x the speech at the peak),
        # sized from the container's duration and grown if that was short.
        seconds = min(float(container.duration / av.time_base), 3600.0) if container.duration else 60.0
        samples = np.empty(int(seconds * sample_rate) + sample_rate, np.float32)
        n = 0
        try:
            for out in resampled(container.decode(stream), resampler):
                chunk = out.to_ndarray().reshape(-1)
                if n + len(chunk) > len(samples):
                    samples = np.resize(samples, max(n + len(chunk), len(samples) * 3 // 2))
                samples[n : n + len(chunk)] = chunk
                n += len(chunk)
        except av.error.FFmpegError as exc:
            raise media_error(exc, path, "decode audio") from None
    samples = samples[:n].copy() if n < len(samples) - sample_rate else samples[:n]
    np.clip(samples, -1.0, 1.0, out=samples)  # FFmpeg's stereo -> mono matrix can exceed full scale
    if len(samples) < sample_rate // 25:
        raise TalkfaceError("audio is empty", path)
    return samples


def resampled(frames: Iterable[av.AudioFrame], resampler: av.AudioResampler) -> Iterator[av.AudioFrame]:
    """``frames`` through ``resampler``, then what it still holds (flushed once they are done)."""
    for frame in frames:
        yield from resampler.resample(frame)
    yield from resampler.resample(None)


def save_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write ``(n,)`` float mono samples in [-1, 1] (clipped) as a 16-bit PCM wav at ``sample_rate`` Hz."""
    import wave

    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return Path(path)


def resample(samples: np.ndarray, rate_from: int, rate_to: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling of a mono float waveform from ``rate_from`` to ``rate_to`` Hz.

    Returns:
        ``(round(n * rate_to / rate_from),)`` float32 array.
    """
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(rate_from), int(rate_to))
    return resample_poly(samples, rate_to // g, rate_from // g).astype(np.float32)
