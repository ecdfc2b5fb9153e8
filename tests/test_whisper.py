"""The bundled Whisper base (speech/whisper.py): its checked weights, recognition and features."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import data_file

from talkface.errors import TalkfaceError
from talkface.media.audio import SAMPLE_RATE, load_audio
from talkface.speech.whisper import ENCODER_WIDTH, WHISPER_FILES, Whisper, check_model, whisper_model_dir


def test_a_corrupted_model_file_is_refused_in_one_line(tmp_path: Path) -> None:
    folder = whisper_model_dir()
    for name in WHISPER_FILES:
        shutil.copyfile(folder / name, tmp_path / name)
    data = bytearray((folder / "model.bin").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte flipped, size unchanged
    (tmp_path / "model.bin").write_bytes(data)
    with pytest.raises(TalkfaceError) as caught:
        check_model(tmp_path)
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path / "model.bin") in message and "sha256" in message
    with pytest.raises(TalkfaceError):
        Whisper(tmp_path)


def test_a_grid_sentence_gives_its_words_in_order_with_times(whisper: Whisper) -> None:
    # GRID's sentence "set blue with e five now" (speaker file sbwe5n).
    language, words = whisper.transcribe(load_audio(data_file("video/grid_sbwe5n.mpg")), language=None)
    assert language == "en"
    said = [w.text.lower().strip(".,!?") for w in words]
    expected = ["set", "blue", "with", "now"]
    found = [said.index(w) for w in expected]  # ValueError: a word is missing
    assert found == sorted(found)
    starts = [w.start for w in words]
    assert starts == sorted(starts) and 0 <= starts[0] and words[-1].end <= 3.1


@pytest.mark.parametrize("fps", [25.0, 30.0])
def test_features_have_one_row_per_video_frame_across_windows(whisper: Whisper, fps: float) -> None:
    speech = load_audio(data_file("video/edtalk_obama_20s_av_fixed.mp4"))
    samples = np.concatenate([speech, speech])  # about 40 s: two 30 s windows
    n_frames = int(len(samples) / SAMPLE_RATE * fps)
    features = whisper.frame_features(samples, n_frames, fps)
    assert features.shape == (n_frames, ENCODER_WIDTH) and features.dtype == np.float32
    assert np.isfinite(features).all()
    # The same speech in the second copy lines up with the first frame for frame: its features are
    # closest at zero shift (Whisper's features also depend on the place in the window, so the
    # copies are not equal).
    per_copy = len(speech) / SAMPLE_RATE * fps
    rows = np.arange(60, int(per_copy) - 60)

    def similarity(shift: int) -> float:
        a, b = features[rows], features[np.round(rows + per_copy + shift).astype(int)]
        return float(np.median((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))))

    aligned = similarity(0)
    assert aligned > 0.25 and all(aligned > similarity(s) + 0.15 for s in (-8, -3, 3, 8))
