"""`--engine wav2lip` end to end with checkpoints in the published format."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import data_file, probe, read_frames

import talkface
from talkface.errors import TalkfaceError
from talkface.models.wav2lip import Wav2Lip, Wav2LipConfig


@pytest.mark.parametrize("width", [1.0, 0.25])
def test_wav2lip_engine_runs_on_a_real_clip(tmp_path, width: float) -> None:
    torch.manual_seed(0)
    model = Wav2Lip(Wav2LipConfig(width=width))
    ckpt = tmp_path / "wav2lip_gan.pth"
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "optimizer": None, "global_step": 1, "global_epoch": 0}, ckpt)
    clip = data_file("video/grid_brbk7n.mpg")
    out = tmp_path / "out.mp4"
    result = talkface.sync(clip, out, audio=clip, engine="wav2lip", checkpoint=ckpt, quiet=True)
    info = probe(out)
    assert result.faces == result.frames == info["frames"] == round(2.98 * 25)
    assert (info["width"], info["height"]) == (360, 288)
    dst = np.stack(read_frames(out)).astype(int)
    src = np.stack(read_frames(clip)[: len(dst)]).astype(int)
    assert np.abs(src[:, :100] - dst[:, :100]).mean() < 2.0  # above the face: untouched
    assert np.abs(src[:, 150:230, 140:220] - dst[:, 150:230, 140:220]).mean() > 5.0  # mouth: generated


def test_wav2lip_engine_rejects_other_weights(tmp_path) -> None:
    from talkface.models.syncnet import SyncNet

    ckpt = tmp_path / "syncnet.pth"
    torch.save({"state_dict": SyncNet().state_dict()}, ckpt)
    face = data_file("image/chalamet_dreamtalk_f30.png")
    with pytest.raises(TalkfaceError, match="not a Wav2Lip generator checkpoint"):
        talkface.sync(face, tmp_path / "o.mp4", text="hi", engine="wav2lip", checkpoint=ckpt)
    with pytest.raises(TalkfaceError, match="needs --checkpoint"):
        talkface.sync(face, tmp_path / "o.mp4", text="hi", engine="wav2lip")


@pytest.fixture
def generator_and_batch() -> tuple[Wav2Lip, np.ndarray, np.ndarray]:
    """A random width-0.25 generator and a batch of 5 random (mel, faces) inputs."""
    torch.manual_seed(1)
    model = Wav2Lip(Wav2LipConfig(width=0.25)).eval()
    rng = np.random.default_rng(0)
    mel = rng.uniform(-4, 4, (5, 1, 80, 16)).astype(np.float32)
    faces = rng.uniform(0, 1, (5, 6, 96, 96)).astype(np.float32)
    return model, mel, faces


def test_onnx_path_matches_eager(generator_and_batch) -> None:
    import torch

    from talkface.models.accelerate import OnnxRunner, eager

    model, mel, faces = generator_and_batch
    example = (torch.zeros(1, 1, 80, 16), torch.zeros(1, 6, 96, 96))
    fast, slow = OnnxRunner(model, example, ("audio", "face"))(mel, faces), eager(model)(mel, faces)
    assert fast.shape == slow.shape == (5, 3, 96, 96)
    assert np.abs(fast - slow).max() < 1e-4  # stated tolerance: 1e-4 on outputs in [0, 1]


def test_bf16_path_matches_eager(generator_and_batch) -> None:
    from talkface.models.accelerate import bf16, eager

    model, mel, faces = generator_and_batch
    slow = eager(model)(mel, faces)
    fast = bf16(model, channels_last=(1,))(mel, faces)
    assert fast.shape == slow.shape == (5, 3, 96, 96) and fast.dtype == np.float32
    err = np.abs(fast - slow)
    # Stated tolerance: bf16 rounding, mean below 2e-3 and max below 3e-2 on outputs in [0, 1]
    # (a pixel value of 8/255 at worst).
    assert err.mean() < 2e-3 and err.max() < 3e-2
    assert np.std(slow) > 1e-3  # outputs that vary, so the comparison means something


def test_auto_accelerator_takes_bf16_only_on_a_cpu_that_computes_it(monkeypatch) -> None:
    """``auto`` is bf16 where oneDNN computes bf16 natively and the engine's fp32 path elsewhere
    (emulated bf16 is ~13x slower than fp32 for Wav2Lip on an AVX2-only CPU); the training loops
    decide their autocast the same way unless told."""
    from talkface.models import accelerate

    assert accelerate.native_bf16() == bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    for native in (True, False):
        monkeypatch.setattr(accelerate, "native_bf16", lambda native=native: native)
        assert accelerate.resolve("auto", "onnx") == ("bf16" if native else "onnx")
        assert accelerate.resolve("auto", "none") == ("bf16" if native else "none")
        assert accelerate.resolve("none", "onnx") == "none" and accelerate.resolve("bf16", "none") == "bf16"
        assert accelerate.use_bf16(None) is native and accelerate.use_bf16(False) is False
