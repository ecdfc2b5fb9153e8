"""Robust Video Matting's decoder (Lin et al. 2021, arXiv 2108.11515, ``model/decoder.py``), as
HyperLips uses it: four upsampling stages over the encoder's scales, each concatenating the
source image pooled to its size, with a ConvGRU on half the channels.

Parameter names are the published ones (``decode4.gru.ih.0``, ``decode3.conv.1``, ...). HyperLips
folds time into the batch and calls it with no recurrent state, so each ConvGRU starts from a zero
hidden state; only that 4-D ``(B, C, H, W)`` form is built here.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvGRU(nn.Module):
    """Convolutional GRU cell: ``r, z = sigmoid(conv([x, h]))``, ``c = tanh(conv([x, r*h]))``,
    ``h' = (1 - z) h + z c``. Shapes: ``(B, C, H, W)`` in and out; ``h`` None = zeros."""

    def __init__(self, channels: int, kernel_size: int = 3, padding: int = 1) -> None:
        super().__init__()
        self.channels = channels
        self.ih = nn.Sequential(
            nn.Conv2d(channels * 2, channels * 2, kernel_size, padding=padding), nn.Sigmoid()
        )
        self.hh = nn.Sequential(nn.Conv2d(channels * 2, channels, kernel_size, padding=padding), nn.Tanh())

    def forward(self, x: torch.Tensor, h: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if h is None:
            h = torch.zeros_like(x)
        r, z = self.ih(torch.cat([x, h], dim=1)).split(self.channels, dim=1)
        c = self.hh(torch.cat([x, r * h], dim=1))
        h = (1 - z) * h + z * c
        return h, h


class BottleneckBlock(nn.Module):
    """The deepest scale: a ConvGRU on the second half of the channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.gru = ConvGRU(channels // 2)

    def forward(self, x: torch.Tensor, r: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = x.split(self.channels // 2, dim=1)
        b, r = self.gru(b, r)
        return torch.cat([a, b], dim=1), r


class UpsamplingBlock(nn.Module):
    """x2 bilinear upsampling, concatenated with the skip feature and the pooled source, a 3x3
    conv + BN + ReLU, and a ConvGRU on half its output channels."""

    def __init__(self, in_channels: int, skip_channels: int, src_channels: int, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels + skip_channels + src_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(True),
        )
        self.gru = ConvGRU(out_channels // 2)

    def forward(
        self, x: torch.Tensor, f: torch.Tensor, s: torch.Tensor, r: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.upsample(x)[:, :, : s.size(2), : s.size(3)]
        x = self.conv(torch.cat([x, f, s], dim=1))
        a, b = x.split(self.out_channels // 2, dim=1)
        b, r = self.gru(b, r)
        return torch.cat([a, b], dim=1), r


class OutputBlock(nn.Module):
    """x2 bilinear upsampling to the source's size, concatenated with it, two 3x3 conv + BN + ReLU."""

    def __init__(self, in_channels: int, src_channels: int, out_channels: int) -> None:
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels + src_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(True),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(True),
        )

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        x = self.upsample(x)[:, :, : s.size(2), : s.size(3)]
        return self.conv(torch.cat([x, s], dim=1))


class AvgPool(nn.Module):
    """The source at 1/2, 1/4 and 1/8 of its size (2x2 average pooling, ceil mode)."""

    def __init__(self) -> None:
        super().__init__()
        self.avgpool = nn.AvgPool2d(2, 2, count_include_pad=False, ceil_mode=True)

    def forward(self, s0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        s1 = self.avgpool(s0)
        s2 = self.avgpool(s1)
        return s1, s2, self.avgpool(s2)


class RecurrentDecoder(nn.Module):
    """RVM's decoder over encoder features ``f1..f4`` (strides 2..16) and the source ``s0``.

    Args:
        feature_channels: channels of ``f1..f4``.
        decoder_channels: output channels of ``decode3``, ``decode2``, ``decode1``, ``decode0``.
        src_channels: channels of the source image (HyperLips: 6, the masked face and reference).

    Forward: ``s0 (B, src, H, W)`` and the features -> ``(x0, r1, r2, r3, r4)``: ``x0`` is
    ``(B, decoder_channels[3], H, W)``; ``r*`` are the ConvGRU states after this step.
    """

    def __init__(
        self, feature_channels: list[int], decoder_channels: list[int], src_channels: int = 6
    ) -> None:
        super().__init__()
        f, d = feature_channels, decoder_channels
        self.avgpool = AvgPool()
        self.decode4 = BottleneckBlock(f[3])
        self.decode3 = UpsamplingBlock(f[3], f[2], src_channels, d[0])
        self.decode2 = UpsamplingBlock(d[0], f[1], src_channels, d[1])
        self.decode1 = UpsamplingBlock(d[1], f[0], src_channels, d[2])
        self.decode0 = OutputBlock(d[2], src_channels, d[3])

    def forward(
        self,
        s0: torch.Tensor,
        f1: torch.Tensor,
        f2: torch.Tensor,
        f3: torch.Tensor,
        f4: torch.Tensor,
        r1: torch.Tensor | None = None,
        r2: torch.Tensor | None = None,
        r3: torch.Tensor | None = None,
        r4: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        s1, s2, s3 = self.avgpool(s0)
        x4, r4 = self.decode4(f4, r4)
        x3, r3 = self.decode3(x4, f3, s3, r3)
        x2, r2 = self.decode2(x3, f2, s2, r2)
        x1, r1 = self.decode1(x2, f1, s1, r1)
        return self.decode0(x1, s0), r1, r2, r3, r4
