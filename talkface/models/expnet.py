"""SadTalker's ExpNet (Zhang et al., CVPR 2023, arXiv 2211.12194, Sec. 3.2): audio -> expression
coefficients, with the published module and parameter names (``src/audio2exp_models/networks.py``
of OpenTalker/SadTalker: ``SimpleWrapperV2``).

Per video frame: Wav2Lip's audio encoder reads the frame's mel window; its embedding, the
reference (first frame's) expression and the frame's eye-blink ratio go through one linear layer,
``mapping1``, to the frame's expression coefficients (paper Eq. 2, ``beta_t = Phi_M(Phi_A(a_t),
beta_0, z_blink)``). The published network reads 64 3DMM coefficients; here ``n_exp`` is the size
of our landmark basis (:mod:`talkface.face.expression`), and ``width`` scales the audio
encoder's channels (1.0 = published; 0.5 = the width of our shipped expert SyncNet, whose audio
encoder initialises it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from talkface.models.blocks import audio_encoder, scaled


@dataclass(frozen=True)
class ExpNetConfig:
    """Hyper-parameters of :class:`SimpleWrapperV2` (defaults: the published network).

    Attributes:
        width: audio-encoder channel scale (1.0: 32-512 channels).
        n_exp: expression coefficients (published: 64 3DMM coefficients).
    """

    width: float = 1.0
    n_exp: int = 64

    @property
    def audio_size(self) -> int:
        """Length of the audio embedding (512 at width 1)."""
        return scaled(512, self.width)


class SimpleWrapperV2(nn.Module):
    """ExpNet.

    Shapes:
        ``x``: ``(B, 1, 80, 16)`` float32 mel windows (Wav2Lip's, one per frame);
        ``ref``: ``(b, T, n_exp)`` reference coefficients, ``b * T = B``;
        ``ratio``: ``(b, T, 1)`` eye-blink ratio (0 open, 1 shut);
        returns ``(b, T, n_exp)`` float32 coefficients.
    """

    def __init__(self, config: ExpNetConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ExpNetConfig()
        self.audio_encoder = audio_encoder(c.width, stage4_residuals=1)
        self.mapping1 = nn.Linear(c.audio_size + c.n_exp + 1, c.n_exp)
        nn.init.constant_(self.mapping1.bias, 0.0)

    def forward(self, x: torch.Tensor, ref: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        a = self.audio_encoder(x).view(x.size(0), -1)
        y = self.mapping1(torch.cat([a, ref.reshape(x.size(0), -1), ratio.reshape(x.size(0), -1)], dim=1))
        return y.reshape(ref.shape[0], ref.shape[1], -1)


def published_state_dict(checkpoint: dict) -> dict[str, torch.Tensor]:
    """The ``SimpleWrapperV2`` state dict of a published checkpoint: ``{"model": state, "epoch"}``
    (``auido2exp_00300-model.pth``), the ``audio2exp.`` entries of SadTalker's safetensors file,
    or a bare state dict.

    Raises:
        KeyError: no ExpNet parameters in it.
    """
    state = checkpoint.get("model", checkpoint)
    if any(k.startswith("audio2exp.") for k in state):
        state = {k[len("audio2exp.") :]: v for k, v in state.items() if k.startswith("audio2exp.")}
    if "mapping1.weight" not in state:
        raise KeyError("no ExpNet parameters (mapping1.weight)")
    return state


def config_of(state: dict[str, torch.Tensor]) -> ExpNetConfig:
    """The :class:`ExpNetConfig` of a state dict, read from its shapes."""
    width = state["audio_encoder.0.conv_block.0.weight"].shape[0] / 32
    n_exp = state["mapping1.weight"].shape[0]
    return ExpNetConfig(width=width, n_exp=int(n_exp))
