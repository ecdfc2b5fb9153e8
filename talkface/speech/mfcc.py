"""MFCC features as syncnet_python feeds its audio stream (``python_speech_features.mfcc`` defaults).

16 kHz speech, pre-emphasis 0.97, rectangular 25 ms windows every 10 ms (400 / 160 samples,
the last window zero-padded), power spectrum of a 512-point FFT divided by 512, 26 triangular
mel filters (HTK mel scale 2595 log10(1 + f/700), 0-8000 Hz, edges on FFT bins), natural log,
orthonormal DCT-II keeping 13 coefficients, sinusoidal lifter L = 22, and coefficient 0 replaced
by the log frame energy. 100 frames per second: 4 per video frame at 25 fps.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.fft import dct

from talkface.media.audio import SAMPLE_RATE

MFCC_WINDOW = 400  # samples (25 ms)
MFCC_HOP = 160  # samples (10 ms): 100 MFCC frames per second
MFCC_FFT = 512
MFCC_FILTERS = 26
MFCC_COEFFS = 13
MFCC_LIFTER = 22
PRE_EMPHASIS = 0.97
INT16_SCALE = 32768.0  # syncnet_python reads 16-bit PCM as integers, not as floats in [-1, 1]
_EPS = np.finfo(float).eps


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595 * np.log10(1 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700 * (10 ** (mel / 2595.0) - 1)


@lru_cache(maxsize=1)
def mfcc_filterbank() -> np.ndarray:
    """``(26, 257)`` float64 triangular mel filters on the bins of a 512-point FFT at 16 kHz."""
    mel = np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), MFCC_FILTERS + 2)
    bins = np.floor((MFCC_FFT + 1) * _mel_to_hz(mel) / SAMPLE_RATE).astype(int)
    bank = np.zeros((MFCC_FILTERS, MFCC_FFT // 2 + 1))
    for j in range(MFCC_FILTERS):
        lo, mid, hi = bins[j], bins[j + 1], bins[j + 2]
        i = np.arange(lo, mid)
        bank[j, lo:mid] = (i - lo) / (mid - lo)
        i = np.arange(mid, hi)
        bank[j, mid:hi] = (hi - i) / (hi - mid)
    return bank


def mfcc(samples: np.ndarray) -> np.ndarray:
    """13 MFCCs per 10 ms of 16 kHz speech, as ``python_speech_features.mfcc(int16_audio, 16000)``.

    Args:
        samples: ``(n,)`` float32 mono speech at :data:`~talkface.media.audio.SAMPLE_RATE`, in
            [-1, 1]; scaled to the 16-bit integer range first, as syncnet_python reads its WAV.

    Returns:
        ``(13, m)`` float32, ``m = 1 + ceil((n - 400) / 160)`` frames (1 for ``n <= 400``).
    """
    x = np.asarray(samples, np.float64) * INT16_SCALE
    if len(x) == 0:
        x = np.zeros(1)
    x = np.append(x[0], x[1:] - PRE_EMPHASIS * x[:-1])
    n = 1 if len(x) <= MFCC_WINDOW else 1 + int(np.ceil((len(x) - MFCC_WINDOW) / MFCC_HOP))
    x = np.concatenate([x, np.zeros((n - 1) * MFCC_HOP + MFCC_WINDOW - len(x))])
    frames = x[np.arange(MFCC_WINDOW)[None, :] + MFCC_HOP * np.arange(n)[:, None]]
    power = np.abs(np.fft.rfft(frames, MFCC_FFT)) ** 2 / MFCC_FFT
    energy = power.sum(1)
    energy[energy == 0] = _EPS
    feat = power @ mfcc_filterbank().T
    feat[feat == 0] = _EPS
    cep = dct(np.log(feat), type=2, axis=1, norm="ortho")[:, :MFCC_COEFFS]
    cep *= 1 + (MFCC_LIFTER / 2.0) * np.sin(np.pi * np.arange(MFCC_COEFFS) / MFCC_LIFTER)
    cep[:, 0] = np.log(energy)
    return cep.T.astype(np.float32)
