"""Reference outputs of the published HyperLips networks, for ``tests/test_hyperlips.py``.

The published networks are 120 MB of weights at random initialisation, too big to commit, so the
weights are made from a seed by :func:`seeded_state_dict`, the same way on both sides: from the
published state dict's key order and shapes (stored in the fixture), never from our code. Run by
hand against a checkout of semchan/HyperLips (tests never need it)::

    .venv/bin/python tests/hyperlips_reference.py PATH/TO/HyperLips

It builds each published network (torchvision, which the published MobileNetV3 imports only for
``normalize``, is stubbed; the 6- and 1-channel encoders never call it), loads the seeded weights,
runs it in eval mode on seeded inputs and writes ``tests/fixtures/hyperlips_reference.npz``:
per network its keys, shapes, input shapes and output.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import torch

FIXTURE = Path(__file__).parent / "fixtures" / "hyperlips_reference.npz"

# name -> (published class, constructor arguments, input shapes, weight gain); the HR decoder and its
# discriminator are fully convolutional, so they are checked on small inputs (the base network needs
# 128 px). The discriminators (no batch norm, leaky ReLUs) need He's gain 2 to keep their signal.
NETWORKS = {
    "HyperLipsBase": ("HyperLipsBase", (), [(2, 1, 80, 16), (2, 6, 128, 128)], 1.0),
    "HRDecoder1": ("HRDecoder", (1,), [(2, 6, 32, 32)], 1.0),
    "HRDecoder2": ("HRDecoder", (2,), [(2, 6, 32, 32)], 1.0),
    "HRDecoder4": ("HRDecoder", (4,), [(1, 6, 32, 32)], 1.0),
    "HyperCtrolDiscriminator": ("HyperCtrolDiscriminator", (), [(1, 3, 3, 128, 128)], 2.0),  # (B, C, T, H, W)
    "HRDecoder_disc_qual": ("HRDecoder_disc_qual", (), [(3, 3, 64, 64)], 2.0),
}


def seeded_state_dict(
    keys: list[str], shapes: list[tuple[int, ...]], seed: int, gain: float = 1.0
) -> dict[str, torch.Tensor]:
    """Weights for a state dict with these keys and shapes, from ``seed``, at scales that keep a
    random network's activations away from saturation: convolution and linear weights
    ``N(0, gain / fan_in)`` (a hypernetwork's kernel head also divided by the square root of the
    kernel size it makes), biases ``N(0, 0.1)``, batch-norm scales and variances ``U(0.5, 1.5)``,
    means ``N(0, 0.1)``, ``num_batches_tracked`` 0."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in zip(keys, shapes, strict=True):
        name = key.rsplit(".", 1)[-1]
        if name == "num_batches_tracked":
            state[key] = torch.zeros((), dtype=torch.long)
        elif name in ("running_var",) or (name == "weight" and len(shape) == 1):
            state[key] = 0.5 + torch.rand(shape, generator=g)
        elif name in ("running_mean", "bias"):
            state[key] = 0.1 * torch.randn(shape, generator=g)
        else:
            fan_in = int(np.prod(shape[1:]))
            scale = (gain / fan_in) ** 0.5
            if "hyperkernel" in key:
                scale /= (shape[0] / 9) ** 0.25 * 3  # ~ 1 / sqrt(in * 9) for a square kernel
            state[key] = scale * torch.randn(shape, generator=g)
    return state


def seeded_inputs(shapes: list[tuple[int, ...]], seed: int) -> list[torch.Tensor]:
    """Images in [0, 1), each sample at its own brightness and contrast (so that a discriminator's
    pooled output differs between samples), or mel windows (80 rows) ``2 N(0, 1)`` clipped to [-4, 4]."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for shape in shapes:
        if len(shape) == 4 and shape[2] == 80:
            out.append((torch.randn(shape, generator=g) * 2).clamp(-4, 4))
        else:
            gain = torch.rand((shape[0],) + (1,) * (len(shape) - 1), generator=g)
            out.append(
                gain * torch.rand(shape, generator=g) + (1 - gain) * torch.rand(gain.shape, generator=g)
            )
    return out


def _stub_torchvision() -> None:
    from torch import nn

    def module(name: str, **attrs) -> None:
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        m.__path__ = []
        sys.modules[name] = m

    module("torchvision")
    module("torchvision.transforms")
    module("torchvision.transforms.functional", normalize=lambda x, mean, std: x)
    module("torchvision.models")
    module("torchvision.models.resnet", ResNet=nn.Module, Bottleneck=nn.Module)


def main(repo: Path) -> None:
    _stub_torchvision()
    sys.path.insert(0, str(repo))
    from models import model_hyperlips as published  # noqa: PLC0415 - the published repository

    arrays: dict[str, np.ndarray] = {}
    for i, (name, (cls, args, input_shapes, gain)) in enumerate(NETWORKS.items()):
        net = getattr(published, cls)(*args)
        keys = list(net.state_dict())
        shapes = [tuple(v.shape) for v in net.state_dict().values()]
        net.load_state_dict(seeded_state_dict(keys, shapes, seed=i, gain=gain), strict=True)
        net.eval()
        with torch.no_grad():
            out = net(*seeded_inputs(input_shapes, seed=100 + i))
        arrays[f"{name}/keys"] = np.array(keys)
        arrays[f"{name}/shapes"] = np.array(repr(shapes))
        arrays[f"{name}/output"] = out.numpy()
        stats = f"mean {out.mean():.3f} std {out.std():.3f}"
        print(f"{name}: {len(keys)} tensors, output {tuple(out.shape)} {stats}")
    FIXTURE.parent.mkdir(exist_ok=True)
    np.savez_compressed(FIXTURE, **arrays)
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
