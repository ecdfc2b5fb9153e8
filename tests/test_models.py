"""Wav2Lip's networks: published sizes and parameter names, checkpoint round trips."""

from __future__ import annotations

import pytest
import torch

from talkface.errors import TalkfaceError
from talkface.models.checkpoint import load_checkpoint, save_checkpoint
from talkface.models.syncnet import SyncNet, SyncNetConfig, cosine_bce, expert_config
from talkface.models.wav2lip import Wav2Lip, Wav2LipConfig, Wav2LipDiscQual, generator_config

PUBLISHED = [(Wav2Lip, 36_298_035, 352), (Wav2LipDiscQual, 14_113_793, 28), (SyncNet, 16_435_072, 217)]


@pytest.mark.parametrize(("cls", "params", "keys"), PUBLISHED)
def test_published_sizes(cls, params: int, keys: int) -> None:
    model = cls()
    assert sum(p.numel() for p in model.parameters()) == params
    assert len(model.state_dict()) == keys


def test_published_key_scheme() -> None:
    keys = Wav2Lip().state_dict().keys()
    for key in (
        "face_encoder_blocks.0.0.conv_block.0.weight",
        "face_encoder_blocks.6.1.conv_block.1.running_var",
        "audio_encoder.12.conv_block.1.num_batches_tracked",
        "face_decoder_blocks.6.2.conv_block.0.bias",
        "output_block.0.conv_block.0.weight",
        "output_block.1.weight",
    ):
        assert key in keys
    assert "binary_pred.0.weight" in Wav2LipDiscQual().state_dict()
    assert "audio_encoder.13.conv_block.0.weight" in SyncNet().state_dict()  # two residuals at 256 ch


def test_published_format_checkpoint_loads_strictly(tmp_path) -> None:
    torch.manual_seed(0)
    source = Wav2Lip()
    optimizer = torch.optim.Adam(source.parameters(), lr=1e-4)
    source(torch.randn(2, 1, 80, 16), torch.rand(2, 6, 96, 96)).mean().backward()
    optimizer.step()
    path = tmp_path / "wav2lip_gan.pth"
    torch.save(
        {
            "state_dict": {f"module.{k}": v for k, v in source.state_dict().items()},  # DataParallel
            "optimizer": optimizer.state_dict(),
            "global_step": 253000,
            "global_epoch": 41,
        },
        path,
    )
    target = Wav2Lip()
    data = load_checkpoint(path, target)
    assert data["global_step"] == 253000
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_checkpoint_round_trip_and_mismatch(tmp_path) -> None:
    net = SyncNet(SyncNetConfig(width=0.25))
    path = save_checkpoint(tmp_path / "syncnet.pth", net, global_step=7)
    assert load_checkpoint(path, SyncNet(SyncNetConfig(width=0.25)))["global_step"] == 7
    # Written here, the file describes itself: its config is rebuilt, a mismatch is refused.
    assert expert_config(path) == SyncNetConfig(width=0.25)
    with pytest.raises(TalkfaceError, match=r"saved with config \{'width': 0.25\}"):
        load_checkpoint(path, SyncNet())
    with pytest.raises(TalkfaceError, match="holds a SyncNet, not a Wav2Lip"):
        generator_config(path)
    # A published file (no "talkface" entry) loads as before; its width is read from the weights.
    published = tmp_path / "published.pth"
    data = torch.load(path, weights_only=True)
    del data["talkface"]
    torch.save(data, published)
    assert expert_config(published) == SyncNetConfig(width=0.25)
    with pytest.raises(TalkfaceError, match="weights do not fit SyncNet"):
        load_checkpoint(published, SyncNet())
    with pytest.raises(TalkfaceError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "none.pth", net)


def test_shapes_and_sync_loss() -> None:
    g = Wav2Lip(Wav2LipConfig(width=0.25)).eval()
    with torch.no_grad():
        out = g(torch.randn(2, 5, 1, 80, 16), torch.rand(2, 6, 5, 96, 96))
        assert out.shape == (2, 3, 5, 96, 96) and 0 <= out.min() and out.max() <= 1
        assert Wav2LipDiscQual(Wav2LipConfig(width=0.25))(out).shape == (10, 1)
        audio, face = SyncNet(SyncNetConfig(width=0.25))(torch.randn(4, 1, 80, 16), torch.rand(4, 15, 48, 96))
    assert torch.allclose(audio.norm(dim=1), torch.ones(4)) and (face >= 0).all()
    loss_sync = cosine_bce(audio, audio, torch.ones(4))
    loss_off = cosine_bce(audio, audio, torch.zeros(4))
    assert loss_sync < 0.01 < loss_off
