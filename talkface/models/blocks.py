"""Building blocks shared by Wav2Lip's networks (``Wav2Lip:models/conv.py``).

Parameter names follow the published code (``conv_block.0`` = conv, ``conv_block.1`` = batch norm)
so that published state dicts load with ``strict=True``.
"""

from __future__ import annotations

import torch
from torch import nn


def scaled(channels: int, width: float) -> int:
    """Channel count at a width multiplier (1.0 = published)."""
    return max(1, int(round(channels * width)))


class Conv2d(nn.Module):
    """Conv2d -> BatchNorm2d -> ReLU; with ``residual`` the input is added before the ReLU.

    Shapes: ``(B, cin, H, W)`` float32 -> ``(B, cout, H', W')``.
    """

    def __init__(self, cin: int, cout: int, kernel_size, stride, padding, residual: bool = False) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.Conv2d(cin, cout, kernel_size, stride, padding), nn.BatchNorm2d(cout)
        )
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return self.act(out)


class Conv2dTranspose(nn.Module):
    """ConvTranspose2d -> BatchNorm2d -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size, stride, padding, output_padding: int = 0) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, kernel_size, stride, padding, output_padding), nn.BatchNorm2d(cout)
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


class NonNormConv2d(nn.Module):
    """Conv2d -> LeakyReLU(0.01), the visual-quality discriminator's block."""

    def __init__(self, cin: int, cout: int, kernel_size, stride, padding) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel_size, stride, padding))
        self.act = nn.LeakyReLU(0.01, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


def audio_encoder(width: float, stage4_residuals: int) -> nn.Sequential:
    """Mel encoder shared by the generator (1 residual at 256 ch) and SyncNet (2).

    Shapes: ``(B, 1, 80, 16)`` mel -> ``(B, 512*width, 1, 1)``.
    """
    c = [scaled(n, width) for n in (32, 64, 128, 256, 512)]
    layers = [
        Conv2d(1, c[0], 3, 1, 1),
        Conv2d(c[0], c[0], 3, 1, 1, residual=True),
        Conv2d(c[0], c[0], 3, 1, 1, residual=True),
        Conv2d(c[0], c[1], 3, (3, 1), 1),
        Conv2d(c[1], c[1], 3, 1, 1, residual=True),
        Conv2d(c[1], c[1], 3, 1, 1, residual=True),
        Conv2d(c[1], c[2], 3, 3, 1),
        Conv2d(c[2], c[2], 3, 1, 1, residual=True),
        Conv2d(c[2], c[2], 3, 1, 1, residual=True),
        Conv2d(c[2], c[3], 3, (3, 2), 1),
        *[Conv2d(c[3], c[3], 3, 1, 1, residual=True) for _ in range(stage4_residuals)],
        Conv2d(c[3], c[4], 3, 1, 0),
        Conv2d(c[4], c[4], 1, 1, 0),
    ]
    return nn.Sequential(*layers)
