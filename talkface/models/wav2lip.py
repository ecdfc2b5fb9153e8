"""Wav2Lip generator and visual-quality discriminator (Prajwal et al. 2020, ``models/wav2lip.py``).

Generator input: ``(B, 6, 96, 96)`` = the target frame with its lower half zeroed (channels 0-2)
and a reference frame (3-5), BGR /255, plus a mel window ``(B, 1, 80, 16)``; output
``(B, 3, 96, 96)`` BGR in [0, 1]. A 5-D ``(B, C, T, H, W)`` input is folded into the batch and
unfolded at the output, as in the published code. Module nesting and parameter names are the
published ones, so ``wav2lip.pth`` / ``wav2lip_gan.pth`` load with ``strict=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from talkface.errors import TalkfaceError
from talkface.models.blocks import Conv2d, Conv2dTranspose, NonNormConv2d, audio_encoder, scaled
from talkface.models.checkpoint import read_state_dict, saved_config

IMG_SIZE = 96  # pixels, face crop side
FIRST_CONV = "face_encoder_blocks.0.0.conv_block.0.weight"


@dataclass(frozen=True)
class Wav2LipConfig:
    """Hyper-parameters of :class:`Wav2Lip` (``width`` 1.0 = published, 36,298,035 parameters)."""

    width: float = 1.0


def generator_config(checkpoint: str | Path) -> Wav2LipConfig:
    """The :class:`Wav2LipConfig` of a generator checkpoint: the one it was saved with here, or for
    a published file the width read from its first convolution (16 filters = 1.0).

    Raises:
        TalkfaceError: unreadable file, or not a Wav2Lip generator.
    """
    config = saved_config(checkpoint, "Wav2Lip", Wav2LipConfig)
    if config is not None:
        return config
    state = read_state_dict(checkpoint)
    if FIRST_CONV not in state:
        raise TalkfaceError("not a Wav2Lip generator checkpoint", checkpoint)
    return Wav2LipConfig(width=state[FIRST_CONV].shape[0] / 16)


def _fold(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``(B, C, T, H, W)`` -> ``(B*T, C, H, W)``; 4-D input passes through (T = 0)."""
    if x.dim() == 5:
        b, _, t = x.shape[:3]
        return torch.cat([x[:, :, i] for i in range(t)], dim=0), t
    return x, 0


def _unfold(x: torch.Tensor, t: int) -> torch.Tensor:
    """Inverse of :func:`_fold`: ``(B*T, C, H, W)`` -> ``(B, C, T, H, W)``."""
    if not t:
        return x
    return torch.stack(torch.split(x, x.size(0) // t, dim=0), dim=2)


class Wav2Lip(nn.Module):
    """The generator: identity encoder, speech encoder and face decoder with skip connections."""

    def __init__(self, config: Wav2LipConfig | None = None) -> None:
        super().__init__()
        self.config = config or Wav2LipConfig()
        w = self.config.width
        c16, c32, c64, c80, c128, c160, c256, c320, c384, c512, c768, c1024 = (
            scaled(n, w) for n in (16, 32, 64, 80, 128, 160, 256, 320, 384, 512, 768, 1024)
        )
        self.face_encoder_blocks = nn.ModuleList(
            [
                nn.Sequential(Conv2d(6, c16, 7, 1, 3)),
                nn.Sequential(
                    Conv2d(c16, c32, 3, 2, 1),
                    Conv2d(c32, c32, 3, 1, 1, residual=True),
                    Conv2d(c32, c32, 3, 1, 1, residual=True),
                ),
                nn.Sequential(
                    Conv2d(c32, c64, 3, 2, 1),
                    *[Conv2d(c64, c64, 3, 1, 1, residual=True) for _ in range(3)],
                ),
                nn.Sequential(
                    Conv2d(c64, c128, 3, 2, 1),
                    *[Conv2d(c128, c128, 3, 1, 1, residual=True) for _ in range(2)],
                ),
                nn.Sequential(
                    Conv2d(c128, c256, 3, 2, 1),
                    *[Conv2d(c256, c256, 3, 1, 1, residual=True) for _ in range(2)],
                ),
                nn.Sequential(Conv2d(c256, c512, 3, 2, 1), Conv2d(c512, c512, 3, 1, 1, residual=True)),
                nn.Sequential(Conv2d(c512, c512, 3, 1, 0), Conv2d(c512, c512, 1, 1, 0)),
            ]
        )
        self.audio_encoder = audio_encoder(w, stage4_residuals=1)

        def up(cin: int, cout: int, n_res: int, k_stride_pad) -> nn.Sequential:
            return nn.Sequential(
                Conv2dTranspose(cin, cout, *k_stride_pad),
                *[Conv2d(cout, cout, 3, 1, 1, residual=True) for _ in range(n_res)],
            )

        self.face_decoder_blocks = nn.ModuleList(
            [
                nn.Sequential(Conv2d(c512, c512, 1, 1, 0)),
                up(c1024, c512, 1, (3, 1, 0)),
                up(c1024, c512, 2, (3, 2, 1, 1)),
                up(c768, c384, 2, (3, 2, 1, 1)),
                up(c512, c256, 2, (3, 2, 1, 1)),
                up(c320, c128, 2, (3, 2, 1, 1)),
                up(c160, c64, 2, (3, 2, 1, 1)),
            ]
        )
        self.output_block = nn.Sequential(Conv2d(c80, c32, 3, 1, 1), nn.Conv2d(c32, 3, 1, 1, 0), nn.Sigmoid())

    def forward(self, audio: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
        """``audio`` (B[,T],1,80,16) and ``face`` (B,6[,T],96,96) -> ``(B,3[,T],96,96)`` in [0, 1]."""
        if audio.dim() == 5:  # (B, T, 1, 80, 16)
            audio = torch.cat([audio[:, i] for i in range(audio.size(1))], dim=0)
        face, t = _fold(face)
        x = self.audio_encoder(audio)
        feats = []
        h = face
        for block in self.face_encoder_blocks:
            h = block(h)
            feats.append(h)
        for block in self.face_decoder_blocks:
            x = torch.cat((block(x), feats.pop()), dim=1)
        return _unfold(self.output_block(x), t)


class Wav2LipDiscQual(nn.Module):
    """Visual-quality discriminator (``Wav2Lip_disc_qual``) on the lower half of each face.

    Forward: ``(B, 3, 96, 96)`` or ``(B, 3, T, 96, 96)`` -> ``(B[*T], 1)`` probability of real.
    """

    def __init__(self, config: Wav2LipConfig | None = None) -> None:
        super().__init__()
        self.config = config or Wav2LipConfig()
        c32, c64, c128, c256, c512 = (scaled(n, self.config.width) for n in (32, 64, 128, 256, 512))
        self.face_encoder_blocks = nn.ModuleList(
            [
                nn.Sequential(NonNormConv2d(3, c32, 7, 1, 3)),
                nn.Sequential(NonNormConv2d(c32, c64, 5, (1, 2), 2), NonNormConv2d(c64, c64, 5, 1, 2)),
                nn.Sequential(NonNormConv2d(c64, c128, 5, 2, 2), NonNormConv2d(c128, c128, 5, 1, 2)),
                nn.Sequential(NonNormConv2d(c128, c256, 5, 2, 2), NonNormConv2d(c256, c256, 5, 1, 2)),
                nn.Sequential(NonNormConv2d(c256, c512, 3, 2, 1), NonNormConv2d(c512, c512, 3, 1, 1)),
                nn.Sequential(NonNormConv2d(c512, c512, 3, 2, 1), NonNormConv2d(c512, c512, 3, 1, 1)),
                nn.Sequential(NonNormConv2d(c512, c512, 3, 1, 0), NonNormConv2d(c512, c512, 1, 1, 0)),
            ]
        )
        self.binary_pred = nn.Sequential(nn.Conv2d(c512, 1, 1, 1, 0), nn.Sigmoid())

    def forward(self, face: torch.Tensor) -> torch.Tensor:
        face, _ = _fold(face)
        x = face[:, :, face.size(2) // 2 :]
        for block in self.face_encoder_blocks:
            x = block(x)
        return self.binary_pred(x).view(len(x), -1)

    def perceptual_loss(self, generated: torch.Tensor) -> torch.Tensor:
        """The generator's adversarial term: BCE(D(generated), 1)."""
        pred = self.forward(generated)
        return F.binary_cross_entropy(pred, torch.ones_like(pred))
