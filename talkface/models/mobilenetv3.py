"""MobileNetV3-Large (Howard et al. 2019, arXiv 1905.02244), with torchvision's parameter names.

PyPI's torchvision is a CUDA build that does not load beside our CPU torch, so the network is
written here. Module nesting follows ``torchvision.models.mobilenetv3`` (``features.N`` is a
``Conv2dNormActivation`` = ``[conv, batch norm, activation]`` or an ``InvertedResidual`` whose
``block`` holds the expand, depthwise, squeeze-excitation (``fc1``/``fc2``) and project layers), so
torchvision's state dicts, and those of networks built on it (Robust Video Matting's and
HyperLips' ``MobileNetV3LargeEncoder``), load with ``strict=True``.

Only the feature extractor is built (no classifier): the encoders use it as a backbone that returns
four scales.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# torchvision's default batch norm for MobileNetV3 (the first conv of an encoder that replaces it
# keeps nn.BatchNorm2d's defaults, as RVM / HyperLips do).
BN_EPS = 0.001
BN_MOMENTUM = 0.01


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor``, never more than 10% below ``value``
    (the rounding of the TensorFlow reference that torchvision's ``_make_divisible`` copies)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


@dataclass(frozen=True)
class BlockSetting:
    """One row of Table 1 of the paper: an inverted residual block.

    Channel counts are those at width 1.0; ``activation`` is ``"RE"`` (ReLU) or ``"HS"``
    (hard swish); ``dilation`` > 1 replaces the stride (the encoders' last stage).
    """

    input_channels: int
    kernel: int
    expanded_channels: int
    out_channels: int
    use_se: bool
    activation: str
    stride: int
    dilation: int = 1

    def scaled(self, width: float) -> BlockSetting:
        """The same block with its channel counts at ``width`` (``make_divisible(c * width)``)."""
        return BlockSetting(
            make_divisible(self.input_channels * width),
            self.kernel,
            make_divisible(self.expanded_channels * width),
            make_divisible(self.out_channels * width),
            self.use_se,
            self.activation,
            self.stride,
            self.dilation,
        )


# MobileNetV3-Large, Table 1, with the last stage dilated (output stride 16), as the segmentation
# backbones (LR-ASPP, RVM, HyperLips) use it; the stride-2 blocks end the scales C1..C4.
LARGE_DILATED = (
    BlockSetting(16, 3, 16, 16, False, "RE", 1),
    BlockSetting(16, 3, 64, 24, False, "RE", 2),  # C1
    BlockSetting(24, 3, 72, 24, False, "RE", 1),
    BlockSetting(24, 5, 72, 40, True, "RE", 2),  # C2
    BlockSetting(40, 5, 120, 40, True, "RE", 1),
    BlockSetting(40, 5, 120, 40, True, "RE", 1),
    BlockSetting(40, 3, 240, 80, False, "HS", 2),  # C3
    BlockSetting(80, 3, 200, 80, False, "HS", 1),
    BlockSetting(80, 3, 184, 80, False, "HS", 1),
    BlockSetting(80, 3, 184, 80, False, "HS", 1),
    BlockSetting(80, 3, 480, 112, True, "HS", 1),
    BlockSetting(112, 3, 672, 112, True, "HS", 1),
    BlockSetting(112, 5, 672, 160, True, "HS", 2, 2),  # C4
    BlockSetting(160, 5, 960, 160, True, "HS", 1, 2),
    BlockSetting(160, 5, 960, 160, True, "HS", 1, 2),
)


def _activation(name: str | None) -> nn.Module | None:
    return {"RE": nn.ReLU(inplace=True), "HS": nn.Hardswish(inplace=True), None: None}[name]


class Conv2dNormActivation(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d -> activation (torchvision's ``Conv2dNormActivation``).

    Shapes: ``(B, cin, H, W)`` -> ``(B, cout, H / stride, W / stride)``; padding keeps the size
    (``(kernel - 1) // 2 * dilation``).
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        activation: str | None = "RE",
        dilation: int = 1,
        bn_eps: float = BN_EPS,
        bn_momentum: float = BN_MOMENTUM,
    ) -> None:
        padding = (kernel_size - 1) // 2 * dilation
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, kernel_size, stride, padding, dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(cout, eps=bn_eps, momentum=bn_momentum),
        ]
        act = _activation(activation)
        if act is not None:
            layers.append(act)
        super().__init__(*layers)
        self.out_channels = cout


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018, Fig. 1) with a hard-sigmoid gate, as MobileNetV3 uses.

    Shapes: ``(B, C, H, W)`` -> the same, each channel scaled by a gate in [0, 1].
    """

    def __init__(self, channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


class InvertedResidual(nn.Module):
    """MobileNetV3's block (section 5): 1x1 expand, depthwise kxk, optional SE, 1x1 project, with
    the input added when the shape is kept."""

    def __init__(self, s: BlockSetting) -> None:
        super().__init__()
        self.use_res_connect = s.stride == 1 and s.input_channels == s.out_channels
        layers: list[nn.Module] = []
        if s.expanded_channels != s.input_channels:
            layers.append(
                Conv2dNormActivation(s.input_channels, s.expanded_channels, 1, activation=s.activation)
            )
        stride = 1 if s.dilation > 1 else s.stride
        layers.append(
            Conv2dNormActivation(
                s.expanded_channels,
                s.expanded_channels,
                s.kernel,
                stride,
                groups=s.expanded_channels,
                activation=s.activation,
                dilation=s.dilation,
            )
        )
        if s.use_se:
            layers.append(SqueezeExcitation(s.expanded_channels, make_divisible(s.expanded_channels // 4)))
        layers.append(Conv2dNormActivation(s.expanded_channels, s.out_channels, 1, activation=None))
        self.block = nn.Sequential(*layers)
        self.out_channels = s.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.use_res_connect else out


class MobileNetV3LargeEncoder(nn.Module):
    """MobileNetV3-Large features as a four-scale encoder (RVM's / HyperLips' ``MobileNetV3LargeEncoder``).

    ``features[0]`` takes ``in_ch`` channels (3 = an RGB image, normalised with the ImageNet mean
    and std as torchvision expects; any other count is taken as it is, e.g. HyperLips' 6-channel
    face pair or its 1-channel mel spectrogram) and keeps ``nn.BatchNorm2d``'s defaults, as those
    encoders build it. ``width`` scales every channel count (1.0 = published).

    Forward: ``(B, in_ch, H, W)`` float32 (or ``(B, T, in_ch, H, W)``, folded and unfolded) ->
    ``[f1, f2, f3, f4]`` at strides 2, 4, 8, 16 with ``c(16), c(24), c(40), c(960)`` channels.
    """

    IMAGENET_MEAN = (0.485, 0.456, 0.406)
    IMAGENET_STD = (0.229, 0.224, 0.225)

    def __init__(self, in_ch: int = 3, width: float = 1.0) -> None:
        super().__init__()
        self.in_ch = in_ch
        settings = [s.scaled(width) for s in LARGE_DILATED]
        first = settings[0].input_channels
        layers: list[nn.Module] = [
            Conv2dNormActivation(in_ch, first, 3, 2, activation="HS", bn_eps=1e-5, bn_momentum=0.1)
        ]
        layers += [InvertedResidual(s) for s in settings]
        last = settings[-1].out_channels
        layers.append(Conv2dNormActivation(last, 6 * last, 1, activation="HS"))
        self.features = nn.Sequential(*layers)
        self.channels = (
            settings[0].out_channels,
            settings[2].out_channels,
            settings[5].out_channels,
            6 * last,
        )
        self.register_buffer("mean", torch.tensor(self.IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.dim() == 5:
            b, t = x.shape[:2]
            return [f.unflatten(0, (b, t)) for f in self.forward(x.flatten(0, 1))]
        if self.in_ch == 3:
            x = (x - self.mean) / self.std
        scales = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in (1, 3, 6, 16):  # the ends of C1..C4
                scales.append(x)
        return scales
