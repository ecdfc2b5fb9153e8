"""Mel spectrogram identical to Wav2Lip's ``audio.melspectrogram`` (librosa 0.7 semantics).

Constants first, as in ``whisper/audio.py``; every other module imports them from here.
Pipeline (Prajwal et al. 2020, Wav2Lip ``hparams.py``): pre-emphasis 0.97, centred reflect-padded
STFT (n_fft 800, hop 200, Hann window 800), magnitude, 80 Slaney-normalised mel bands 55-7600 Hz,
20*log10(max(1e-5, .)) - 20 dB, then symmetric normalisation of [-100, 0] dB to [-4, 4].
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from talkface.media.audio import SAMPLE_RATE

N_FFT = 800
HOP_LENGTH = 200  # samples: 12.5 ms, i.e. 80 mel frames per second
WIN_LENGTH = 800
N_MELS = 80
FMIN, FMAX = 55.0, 7600.0  # Hz
PREEMPHASIS = 0.97
REF_LEVEL_DB = 20.0
MIN_LEVEL_DB = -100.0
MAX_ABS_VALUE = 4.0
MEL_FRAMES_PER_SECOND = SAMPLE_RATE / HOP_LENGTH  # 80.0
MEL_STEP_SIZE = 16  # mel frames in the window fed with one video frame (0.2 s)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa ``htk=False``): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(
        f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp
    )


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@lru_cache(maxsize=4)
def mel_filterbank(
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = N_FFT,
    n_mels: int = N_MELS,
    fmin: float = FMIN,
    fmax: float = FMAX,
) -> np.ndarray:
    """Slaney-area-normalised triangular mel filters, as ``librosa.filters.mel`` (norm='slaney').

    Returns:
        ``(n_mels, n_fft // 2 + 1)`` float32 matrix mapping an STFT magnitude to mel bands.
    """
    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mel_pts = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_pts[2 : n_mels + 2] - mel_pts[:n_mels]))[:, None]
    return weights.astype(np.float32)


def stft_magnitude(samples: np.ndarray, block: int = 2048) -> np.ndarray:
    """Centred, reflect-padded STFT magnitude with a periodic Hann window.

    Computed ``block`` frames at a time, so temporary memory does not grow with the audio length.

    Args:
        samples: ``(n,)`` float waveform.
        block: STFT frames per block.

    Returns:
        ``(N_FFT // 2 + 1, 1 + n // HOP_LENGTH)`` float32 magnitudes.
    """
    x = np.pad(np.asarray(samples, np.float64), N_FFT // 2, mode="reflect")
    n_frames = 1 + (len(x) - N_FFT) // HOP_LENGTH
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN_LENGTH) / WIN_LENGTH)
    out = np.empty((N_FFT // 2 + 1, n_frames), np.float32)
    for start in range(0, n_frames, block):
        stop = min(start + block, n_frames)
        idx = np.arange(N_FFT)[None, :] + HOP_LENGTH * np.arange(start, stop)[:, None]
        out[:, start:stop] = np.abs(np.fft.rfft(x[idx] * window, n=N_FFT, axis=1)).T
    return out


MEL_BLOCK = 1024  # mel frames computed at a time (12.8 s): temporaries stay small at any length


def n_mel_frames(n_samples: int) -> int:
    """Mel frames of :func:`melspectrogram` for ``n_samples`` samples: ``1 + n // HOP_LENGTH``."""
    return 1 + n_samples // HOP_LENGTH


def _emphasised(samples: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Samples ``lo..hi`` (may reach past either end) of the pre-emphasised signal, reflect-padded
    as ``np.pad(mode="reflect")`` pads it, in float64. Needs ``len(samples) > N_FFT // 2``."""
    n = len(samples)
    j = np.abs(np.arange(lo, hi))
    j = np.where(j > n - 1, 2 * (n - 1) - j, j)
    x = samples[j].astype(np.float64)
    e = x - PREEMPHASIS * samples[np.maximum(j - 1, 0)].astype(np.float64)
    e[j == 0] = x[j == 0]  # the first sample has no predecessor
    return e


def melspectrogram_frames(samples: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Frames ``start..stop`` of :func:`melspectrogram`, computed from the samples they cover.

    Args:
        samples: ``(n,)`` float waveform at :data:`SAMPLE_RATE` Hz in [-1, 1].
        start, stop: mel frame range, ``0 <= start <= stop <= n_mel_frames(n)``.

    Returns:
        ``(N_MELS, stop - start)`` float32, equal to those columns of the whole spectrogram.
    """
    if len(samples) <= N_FFT // 2:  # too short to pad by reflection once: the whole, it is tiny
        return _melspectrogram_whole(samples)[:, start:stop]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN_LENGTH) / WIN_LENGTH)
    out = np.empty((N_MELS, stop - start), np.float32)
    for a in range(start, stop, MEL_BLOCK):
        b = min(a + MEL_BLOCK, stop)
        seg = _emphasised(samples, a * HOP_LENGTH - N_FFT // 2, (b - 1) * HOP_LENGTH + N_FFT // 2)
        idx = np.arange(N_FFT)[None, :] + HOP_LENGTH * np.arange(b - a)[:, None]
        magnitude = np.abs(np.fft.rfft(seg[idx] * window, n=N_FFT, axis=1)).T.astype(np.float32)
        out[:, a - start : b - start] = _normalised_db(mel_filterbank() @ magnitude)
    return out


def _normalised_db(mel: np.ndarray) -> np.ndarray:
    """Mel magnitudes to Wav2Lip's normalised dB scale, [-4, 4]."""
    db = 20 * np.log10(np.maximum(1e-5, mel)) - REF_LEVEL_DB
    norm = 2 * MAX_ABS_VALUE * (db - MIN_LEVEL_DB) / -MIN_LEVEL_DB - MAX_ABS_VALUE
    return np.clip(norm, -MAX_ABS_VALUE, MAX_ABS_VALUE).astype(np.float32)


def _melspectrogram_whole(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples, np.float64)
    emphasised = np.append(x[0], x[1:] - PREEMPHASIS * x[:-1]) if len(x) else x
    return _normalised_db(mel_filterbank() @ stft_magnitude(emphasised))


def melspectrogram(samples: np.ndarray) -> np.ndarray:
    """Wav2Lip's normalised log-mel spectrogram, :data:`MEL_BLOCK` frames at a time (temporary
    memory does not grow with the length: 10 minutes need the 15 MB result only).

    Args:
        samples: ``(n,)`` float32 waveform at :data:`SAMPLE_RATE` Hz in [-1, 1].

    Returns:
        ``(N_MELS, 1 + n // HOP_LENGTH)`` float32 in [-4, 4], 80 frames per second.
    """
    return melspectrogram_frames(samples, 0, n_mel_frames(len(samples)))


def mel_window_start(frame_index: int, fps: float) -> int:
    """First mel frame of the 16-frame window for video frame ``frame_index``: ``int(80 * i / fps)``."""
    return int(MEL_FRAMES_PER_SECOND * frame_index / fps)
