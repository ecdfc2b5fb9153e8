"""HyperLips' networks against the published code: strict loading and the same outputs.

The reference outputs were made by the published networks (semchan/HyperLips) with seeded weights
(``tests/hyperlips_reference.py``); here the same weights are written as a published-format
checkpoint, loaded into ours and run on the same inputs.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest
import torch
from hyperlips_reference import FIXTURE, NETWORKS, seeded_inputs, seeded_state_dict

from talkface.errors import TalkfaceError
from talkface.models.checkpoint import load_checkpoint, save_checkpoint
from talkface.models.hyperlips import (
    HRDecoder,
    HRDecoder_disc_qual,
    HyperCtrolDiscriminator,
    HyperLipsBase,
    HyperLipsConfig,
)
from talkface.models.mobilenetv3 import MobileNetV3LargeEncoder

OURS = {
    "HyperLipsBase": HyperLipsBase,
    "HRDecoder1": lambda: HRDecoder(1),
    "HRDecoder2": lambda: HRDecoder(2),
    "HRDecoder4": lambda: HRDecoder(4),
    "HyperCtrolDiscriminator": HyperCtrolDiscriminator,
    "HRDecoder_disc_qual": HRDecoder_disc_qual,
}


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return dict(data)


def published_checkpoint(path, keys, shapes, seed, gain) -> None:
    """The seeded weights saved as the published trainers save them (from ``nn.DataParallel``)."""
    state = seeded_state_dict(keys, shapes, seed, gain)
    torch.save(
        {
            "state_dict": {f"module.{k}": v for k, v in state.items()},
            "optimizer": None,
            "global_step": 12000,
            "global_epoch": 3,
        },
        path,
    )


@pytest.mark.parametrize("name", list(NETWORKS))
def test_published_network_loads_strictly_and_matches(name: str, reference, tmp_path) -> None:
    _, _, input_shapes, gain = NETWORKS[name]
    i = list(NETWORKS).index(name)
    keys = [str(k) for k in reference[f"{name}/keys"]]
    shapes = ast.literal_eval(str(reference[f"{name}/shapes"]))
    ours = OURS[name]()
    assert list(ours.state_dict()) == keys  # the published order, as well as names
    path = tmp_path / f"{name}.pth"
    published_checkpoint(path, keys, shapes, i, gain)
    data = load_checkpoint(path, ours)
    assert data["global_step"] == 12000
    ours.eval()
    with torch.no_grad():
        out = ours(*seeded_inputs(input_shapes, seed=100 + i)).numpy()
    expected = reference[f"{name}/output"]
    assert out.shape == expected.shape
    assert expected.std() > 0.01  # the reference is not a saturated constant
    np.testing.assert_allclose(out, expected, atol=1e-4, rtol=0)


def test_base_output_depends_on_the_audio(reference, tmp_path) -> None:
    """The hypernetwork path is live: another mel window changes the face."""
    name = "HyperLipsBase"
    _, _, input_shapes, gain = NETWORKS[name]
    model = HyperLipsBase()
    model.load_state_dict(
        seeded_state_dict(model.state_dict().keys(), [v.shape for v in model.state_dict().values()], 0, gain)
    )
    model.eval()
    mel, face = seeded_inputs(input_shapes, seed=100)
    with torch.no_grad():
        a, b = model(mel, face), model(-mel, face)
    assert (a - b).abs().mean() > 1e-3


def test_published_sizes() -> None:
    assert sum(p.numel() for p in HyperLipsBase().parameters()) == 29_716_503  # the paper's 29.7 M
    assert sum(p.numel() for p in HRDecoder(2).parameters()) == 170_499


def test_narrow_networks_and_5d_input() -> None:
    config = HyperLipsConfig(width=0.25)
    model = HyperLipsBase(config).eval()
    n = sum(p.numel() for p in model.parameters())
    assert n < 2_500_000
    with torch.no_grad():
        out = model(torch.randn(2, 5, 1, 80, 16), torch.rand(2, 6, 5, 128, 128))
    assert out.shape == (2, 3, 5, 128, 128)
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    hr = HRDecoder(4, HyperLipsConfig(width=0.25, rescaling=4)).eval()
    with torch.no_grad():
        assert hr(torch.rand(1, 6, 128, 128)).shape == (1, 3, 512, 512)
    f = MobileNetV3LargeEncoder(in_ch=3, width=0.5)(torch.rand(1, 3, 64, 64))
    assert [tuple(x.shape[1:]) for x in f] == [(8, 32, 32), (16, 16, 16), (24, 8, 8), (480, 4, 4)]


def test_checkpoint_of_another_width_is_refused(tmp_path) -> None:
    path = save_checkpoint(tmp_path / "narrow.pth", HyperLipsBase(HyperLipsConfig(width=0.25)))
    with pytest.raises(TalkfaceError, match="config"):
        load_checkpoint(path, HyperLipsBase(HyperLipsConfig(width=0.5)))
    with pytest.raises(TalkfaceError, match="HRDecoder"):
        load_checkpoint(path, HRDecoder(1))
