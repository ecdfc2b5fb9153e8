"""Wav2Lip-compatible mel spectrogram against an independent librosa computation."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import data_file

from talkface.media.audio import load_audio
from talkface.speech import mel

librosa = pytest.importorskip("librosa")


def librosa_wav2lip_mel(x: np.ndarray) -> np.ndarray:
    """Wav2Lip's audio.melspectrogram with librosa keyword arguments and its 0.7 reflect padding."""
    from scipy.signal import lfilter

    emphasised = lfilter([1, -0.97], [1], x)
    spec = np.abs(librosa.stft(y=emphasised, n_fft=800, hop_length=200, win_length=800, pad_mode="reflect"))
    basis = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    db = 20 * np.log10(np.maximum(1e-5, basis @ spec)) - 20
    return np.clip(8 * (db + 100) / 100 - 4, -4, 4)


def test_filterbank_matches_librosa() -> None:
    ours = mel.mel_filterbank()
    ref = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    assert ours.shape == (80, 401)
    np.testing.assert_allclose(ours, ref, atol=1e-6)


@pytest.mark.parametrize("name", ["audio/en_hdtf_RD_Radio31_000.wav", "video/lrs2_00016.mp4"])
def test_melspectrogram_matches_librosa(name: str) -> None:
    x = load_audio(data_file(name)).astype(np.float64)
    ours = mel.melspectrogram(x)
    ref = librosa_wav2lip_mel(x)
    assert ours.shape == ref.shape == (80, 1 + len(x) // mel.HOP_LENGTH)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_window_start_per_video_frame() -> None:
    assert [mel.mel_window_start(i, 25) for i in range(4)] == [0, 3, 6, 9]
    assert mel.mel_window_start(30, 30.0) == 80


def test_blockwise_melspectrogram_matches_librosa_across_blocks() -> None:
    """30 s: three blocks of MEL_BLOCK frames, seams included; and any frame range alone."""
    x = load_audio(data_file("audio/en_hdtf_AdamSchiff.wav"))
    ours = mel.melspectrogram(x)
    assert ours.shape[1] > 2 * mel.MEL_BLOCK
    np.testing.assert_allclose(ours, librosa_wav2lip_mel(x.astype(np.float64)), atol=1e-4)
    for start, stop in [
        (0, 5),
        (1000, 1030),
        (mel.MEL_BLOCK - 3, mel.MEL_BLOCK + 3),
        (ours.shape[1] - 7, ours.shape[1]),
    ]:
        np.testing.assert_allclose(mel.melspectrogram_frames(x, start, stop), ours[:, start:stop], atol=1e-5)
    short = x[:300]  # shorter than half a window: the whole-signal path
    np.testing.assert_allclose(
        mel.melspectrogram(short), librosa_wav2lip_mel(short.astype(np.float64)), atol=1e-4
    )
