"""HyperLips (Chen et al. 2023, arXiv 2310.05720; code ``semchan/HyperLips``, ``models/model_hyperlips.py``).

Two stages:

- :class:`HyperLipsBase` (Fig. 2, "hypernetwork-based lip sync"): a MobileNetV3-Large face encoder
  on the 6-channel Wav2Lip input (the target face with its lower half masked, and a reference
  face) gives four scales; :class:`HyperFCNet` encodes the mel window with a second MobileNetV3
  and, per scale, a small MLP (:class:`HyperNetwork`) whose output a :class:`BatchConv2d` turns into
  the weights and biases of two 3x3 convolutions (the paper's *HyperConv*) that edit that scale of
  the face latent; Robust Video Matting's recurrent decoder and two residual convs render the face
  (``(B, 3, 128, 128)`` in [0, 1]).
- :class:`HRDecoder` ("high-resolution decoder"): the base face concatenated with a facial-landmark
  sketch (6 channels at 128 px) -> the face at 128, 256 or 512 px (``rescaling`` 1, 2, 4).
- :class:`HyperCtrolDiscriminator` (the base stage's visual-quality discriminator, Wav2Lip's on the
  lower half) and :class:`HRDecoder_disc_qual` (the HR stage's, on the whole face).

Class names, constructor arguments, module nesting and parameter names are the published ones, so
published state dicts load with ``strict=True``; ``config`` (``width`` < 1) narrows every channel
count for networks trained on these CPUs (width 1.0 = published: 29.7 M parameters). Images are
BGR in [0, 1], as the published data loaders read them with OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from talkface.errors import TalkfaceError
from talkface.models.blocks import Conv2d, Conv2dTranspose, NonNormConv2d, scaled
from talkface.models.checkpoint import read_state_dict, saved_config
from talkface.models.mobilenetv3 import MobileNetV3LargeEncoder
from talkface.models.recurrent_decoder import RecurrentDecoder
from talkface.models.wav2lip import Wav2LipConfig, Wav2LipDiscQual, _fold, _unfold
from talkface.speech.mel import MEL_STEP_SIZE, N_MELS

BASE_SIZE = 128  # pixels: the base network's face crop side
HR_RESCALING = (1, 2, 4)  # HRDecoder output = BASE_SIZE * rescaling
ASPP_CHANNELS = 128  # LR-ASPP output channels at width 1.0
HNET_HDIM = 64  # the hypernetwork's MLP width (HyperFCNet(hnet_hdim=64))


@dataclass(frozen=True)
class HyperLipsConfig:
    """Hyper-parameters of the HyperLips networks (``width`` 1.0 = published).

    ``width`` scales the MobileNetV3 encoders (``make_divisible(c * width, 8)``), the LR-ASPP, the
    decoder, the hypernetwork MLP and the HR decoder's 64 channels; ``rescaling`` is the HR
    decoder's upsampling (1, 2 or 4).
    """

    width: float = 1.0
    rescaling: int = 1

    def __post_init__(self) -> None:
        if self.rescaling not in HR_RESCALING:
            raise ValueError(f"rescaling must be one of {HR_RESCALING}, not {self.rescaling}")
        if not 0 < self.width <= 1.0:
            raise ValueError(f"width must be in (0, 1], not {self.width}")


class LRASPP(nn.Module):
    """Lite R-ASPP head (MobileNetV3 paper, section 6.4):
    ``relu(bn(conv1x1(x))) * sigmoid(conv1x1(pool(x)))``.

    Shapes: ``(B, cin, H, W)`` -> ``(B, cout, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.aspp1 = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(True)
        )
        self.aspp2 = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.aspp1(x) * self.aspp2(x)


class HyperNetwork(nn.Module):
    """The hypernetwork's MLP: ``leaky_relu(lin2(leaky_relu(lin1(x))))``, ``(B, in_dim)`` -> ``(B, h_dim)``.

    Its output is the "hyper input" from which each :class:`BatchConv2d` makes its kernel."""

    def __init__(self, in_dim: int = 1, h_dim: int = 32) -> None:
        super().__init__()
        self.lin1 = nn.Linear(in_dim, h_dim)
        self.lin2 = nn.Linear(h_dim, h_dim)
        self.relu = nn.LeakyReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.lin2(self.relu(self.lin1(x))))


class BatchConv2d(nn.Module):
    """HyperConv: a convolution whose kernel and bias are predicted per sample from the
    hypernetwork's output (``hyperkernel``, ``hyperbias``: linear maps of it).

    Sample ``i`` is convolved with its own kernel ``(out, in, k, k)``, computed as one grouped
    convolution over the batch. Forward: ``x (B, in, H, W)``, ``hyp_out (B, hyp_out_units)`` ->
    ``(B, out, H', W')``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hyp_out_units: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        self.stride, self.padding, self.dilation, self.kernel_size = stride, padding, dilation, kernel_size
        self.in_channels, self.out_channels = in_channels, out_channels
        self.hyperkernel = nn.Linear(hyp_out_units, out_channels * in_channels * kernel_size * kernel_size)
        self.hyperbias = nn.Linear(hyp_out_units, out_channels)

    def forward(self, x: torch.Tensor, hyp_out: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != hyp_out.shape[0]:
            raise ValueError(f"{x.shape[0]} images but {hyp_out.shape[0]} hypernetwork outputs")
        b, c, h, w = x.shape
        k = self.kernel_size
        kernel = self.hyperkernel(hyp_out).view(b * self.out_channels, self.in_channels, k, k)
        out = F.conv2d(
            x.reshape(1, b * c, h, w), kernel, None, self.stride, self.padding, self.dilation, groups=b
        )
        out = out.view(b, self.out_channels, out.shape[-2], out.shape[-1])
        return out + self.hyperbias(hyp_out)[:, :, None, None]


class MultiSequential(nn.Sequential):
    """``nn.Sequential`` that passes the hypernetwork output to its :class:`BatchConv2d` layers."""

    def forward(self, x: torch.Tensor, hyp_out: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        for module in self:
            x = module(x, hyp_out) if isinstance(module, BatchConv2d) else module(x)
        return x


def _even(channels: int, width: float) -> int:
    """A channel count at ``width``, rounded to an even number (the ConvGRUs split it in halves)."""
    return max(2, 2 * round(channels * width / 2))


def _halved(n: int, times: int) -> int:
    for _ in range(times):
        n = (n + 1) // 2  # a stride-2 3x3 conv with padding 1
    return n


class HyperFCNet(nn.Module):
    """The audio branch: a MobileNetV3 on the mel window and, per face scale, a hypernetwork MLP
    that gives the weights of a double HyperConv (``dconv_down0..3``: BatchConv2d, BN, ReLU,
    BatchConv2d, BN, sigmoid) applied to that scale of the face features.

    Forward: ``x (B, 1, 80, 16)`` mel and face features ``f1..f4`` -> the edited ``f1..f4``.
    """

    def __init__(
        self,
        hnet_hdim: int = HNET_HDIM,
        residual: bool = True,
        use_batchnorm: bool = True,
        config: HyperLipsConfig | None = None,
    ) -> None:
        super().__init__()
        self.config = config or HyperLipsConfig()
        w = self.config.width
        self.audio_encoder = MobileNetV3LargeEncoder(in_ch=1, width=w)
        c1, c2, c3, c4 = self.audio_encoder.channels
        aspp = _even(ASPP_CHANNELS, w)
        self.aspp_a = LRASPP(c4, aspp)
        # flattened audio features: the mel window halved once per stride-2 stage (C1..C4; C4 dilated)
        sizes = [_halved(N_MELS, s) * _halved(MEL_STEP_SIZE, s) for s in (1, 2, 3, 4)]
        channels = (c1, c2, c3, aspp)
        self.hnet0, self.hnet1, self.hnet2, self.hnet3 = (
            HyperNetwork(in_dim=c * n, h_dim=hnet_hdim) for c, n in zip(channels, sizes, strict=True)
        )
        self.residual = residual
        self.use_batchnorm = use_batchnorm
        self.dconv_down0, self.dconv_down1, self.dconv_down2, self.dconv_down3 = (
            self.double_conv(c, c, hnet_hdim) for c in channels
        )

    def double_conv(self, in_channels: int, out_channels: int, hnet_hdim: int) -> MultiSequential:
        """Two 3x3 HyperConvs (with batch norm when ``use_batchnorm``), ReLU between, sigmoid after."""
        norm = (lambda c: [nn.BatchNorm2d(c)]) if self.use_batchnorm else (lambda c: [])
        return MultiSequential(
            BatchConv2d(in_channels, out_channels, hnet_hdim, padding=1),
            *norm(out_channels),
            nn.ReLU(inplace=True),
            BatchConv2d(out_channels, out_channels, hnet_hdim, padding=1),
            *norm(out_channels),
            nn.Sigmoid(),
        )

    def forward(
        self, x: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor, f3: torch.Tensor, f4: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        fa0, fa1, fa2, fa3 = self.audio_encoder(x)
        fa3 = self.aspp_a(fa3)
        hnets = (self.hnet0, self.hnet1, self.hnet2, self.hnet3)
        dconvs = (self.dconv_down0, self.dconv_down1, self.dconv_down2, self.dconv_down3)
        out = []
        for fa, f, hnet, dconv in zip((fa0, fa1, fa2, fa3), (f1, f2, f3, f4), hnets, dconvs, strict=True):
            out.append(dconv(f, hnet(fa.reshape(fa.size(0), -1))))
        return tuple(out)


class HyperLipsBase(nn.Module):
    """The base generator: masked face + reference + mel window -> face at 128 px.

    Forward: ``audio_sequences (B, 1, 80, 16)`` (or ``(B, T, 1, 80, 16)``) and ``face_sequences
    (B, 6, 128, 128)`` (or ``(B, 6, T, 128, 128)``), BGR in [0, 1], channels 0-2 the target with its
    lower half zeroed, 3-5 the reference -> ``(B, 3[, T], 128, 128)`` in [0, 1].
    """

    def __init__(self, config: HyperLipsConfig | None = None) -> None:
        super().__init__()
        self.config = config or HyperLipsConfig()
        w = self.config.width
        c32, c40, c64, c80 = (_even(n, w) for n in (32, 40, 64, 80))
        self.up_conv = nn.Sequential(
            Conv2d(c64, c64, 3, 1, 1, residual=True), Conv2d(c64, c64, 3, 1, 1, residual=True)
        )
        self.output_block = nn.Sequential(Conv2d(c64, c32, 3, 1, 1), nn.Conv2d(c32, 3, 1, 1, 0), nn.Sigmoid())
        self.face_encoder = MobileNetV3LargeEncoder(in_ch=6, width=w)
        f1, f2, f3, f4 = self.face_encoder.channels
        aspp = _even(ASPP_CHANNELS, w)
        self.aspp = LRASPP(f4, aspp)
        self.hyper_control_net = HyperFCNet(hnet_hdim=scaled(HNET_HDIM, w), config=self.config)
        self.decoder = RecurrentDecoder([f1, f2, f3, aspp], [c80, c40, c32, c64])

    def forward(self, audio_sequences: torch.Tensor, face_sequences: torch.Tensor) -> torch.Tensor:
        if audio_sequences.dim() == 5:
            audio_sequences = torch.cat(
                [audio_sequences[:, i] for i in range(audio_sequences.size(1))], dim=0
            )
        face, t = _fold(face_sequences)
        fc0, fc1, fc2, fc3 = self.face_encoder(face)
        fc3 = self.aspp(fc3)
        fh = self.hyper_control_net(audio_sequences, fc0, fc1, fc2, fc3)
        hid, *_ = self.decoder(face, *fh)
        return _unfold(self.output_block(self.up_conv(hid)), t)


class HRDecoder(nn.Module):
    """The high-resolution decoder: base face + landmark sketch ``(B, 6, 128, 128)`` (BGR face in
    channels 0-2, the sketch in 3-5, in [0, 1]) -> ``(B, 3, 128 r, 128 r)`` in [0, 1], ``r = rescaling``."""

    def __init__(self, rescaling: int = 1, config: HyperLipsConfig | None = None) -> None:
        super().__init__()
        self.config = config or HyperLipsConfig(rescaling=rescaling)
        if config is not None and config.rescaling != rescaling:
            raise ValueError(f"rescaling {rescaling} but the config says {config.rescaling}")
        self.rescaling = rescaling
        c = scaled(64, self.config.width)
        self.conv_base = nn.Sequential(Conv2d(6, c, 3, 1, 1), Conv2d(c, c, 3, 1, 1, residual=True))
        up: list[nn.Module] = []
        for _ in range(max(1, rescaling.bit_length() - 1)):  # 1 stage at x1 and x2, 2 at x4
            if rescaling > 1:
                up.append(Conv2dTranspose(c, c, 3, 2, 1, 1))  # x2
            up += [Conv2d(c, c, 3, 1, 1, residual=True) for _ in range(2)]
        self.up_conv = nn.Sequential(*up)
        c32 = scaled(32, self.config.width)
        self.output_block = nn.Sequential(Conv2d(c, c32, 3, 1, 1), nn.Conv2d(c32, 3, 1, 1, 0), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output_block(self.up_conv(self.conv_base(x)))


class HRDecoder_disc_qual(nn.Module):  # noqa: N801 - the published class name
    """The HR stage's discriminator on the whole face: ``(B, 3, S, S)`` -> ``(B, 1)`` probability of real."""

    def __init__(self, config: HyperLipsConfig | None = None) -> None:
        super().__init__()
        self.config = config or HyperLipsConfig()
        c32, c64, c128 = (scaled(n, self.config.width) for n in (32, 64, 128))
        self.face_encoder_blocks = nn.ModuleList(
            [
                nn.Sequential(NonNormConv2d(3, c32, 7, 1, 3)),
                nn.Sequential(NonNormConv2d(c32, c64, 5, 2, 2), NonNormConv2d(c64, c64, 5, 1, 2)),
                nn.Sequential(NonNormConv2d(c64, c128, 5, 2, 2), NonNormConv2d(c128, c128, 5, 1, 2)),
                nn.Sequential(NonNormConv2d(c128, c128, 5, 2, 2), NonNormConv2d(c128, c128, 5, 1, 2)),
                nn.Sequential(NonNormConv2d(c128, c128, 3, 2, 1), NonNormConv2d(c128, c128, 3, 1, 1)),
                nn.AdaptiveAvgPool2d(1),
            ]
        )
        self.binary_pred = nn.Sequential(nn.Conv2d(c128, 1, 1, 1, 0), nn.Sigmoid())

    def forward(self, face_sequences: torch.Tensor) -> torch.Tensor:
        x = face_sequences
        for block in self.face_encoder_blocks:
            x = block(x)
        return self.binary_pred(x).view(len(x), -1)


class HyperCtrolDiscriminator(Wav2LipDiscQual):
    """The base stage's visual-quality discriminator: Wav2Lip's
    (:class:`~talkface.models.wav2lip.Wav2LipDiscQual`, on the lower half of each face) with a
    global average pool after its last block, so that it takes 128 px faces.

    Forward: ``(B, 3, 128, 128)`` or ``(B, 3, T, 128, 128)`` -> ``(B[*T], 1)``.
    """

    def __init__(self, config: HyperLipsConfig | None = None) -> None:
        hl = config or HyperLipsConfig()
        super().__init__(Wav2LipConfig(width=hl.width))
        self.config = hl
        self.face_encoder_blocks.append(nn.AdaptiveAvgPool2d(1))


BASE_FIRST_CONV = "face_encoder.features.0.0.weight"
HR_FIRST_CONV = "conv_base.0.conv_block.0.weight"


def base_config(checkpoint: str | Path) -> HyperLipsConfig:
    """The :class:`HyperLipsConfig` of a :class:`HyperLipsBase` checkpoint: the one it was saved
    with here, or for a published file (width 1.0) read from its weights.

    Raises:
        TalkfaceError: unreadable file, not a HyperLips base network, or a published-format file
            of a width other than 1.0 (its width cannot be read back).
    """
    config = saved_config(checkpoint, "HyperLipsBase", HyperLipsConfig)
    if config is not None:
        return config
    state = read_state_dict(checkpoint)
    if BASE_FIRST_CONV not in state or "hyper_control_net.hnet0.lin1.weight" not in state:
        raise TalkfaceError("not a HyperLips base checkpoint", checkpoint)
    if state[BASE_FIRST_CONV].shape[0] != 16:
        raise TalkfaceError("a narrowed HyperLips base without its talkface config", checkpoint)
    return HyperLipsConfig()


def hr_config(checkpoint: str | Path) -> HyperLipsConfig:
    """The :class:`HyperLipsConfig` of an :class:`HRDecoder` checkpoint (its width and rescaling):
    saved here, or for a published file read from its weights (64 channels; 0, 1 or 2 transposed
    convolutions for rescaling 1, 2, 4).

    Raises:
        TalkfaceError: unreadable file, or not an HR decoder.
    """
    config = saved_config(checkpoint, "HRDecoder", HyperLipsConfig)
    if config is not None:
        return config
    state = read_state_dict(checkpoint)
    if HR_FIRST_CONV not in state or "up_conv.0.conv_block.0.weight" not in state:
        raise TalkfaceError("not a HyperLips HRDecoder checkpoint", checkpoint)
    n_up = len({k.split(".")[1] for k in state if k.startswith("up_conv.")})
    rescaling = {2: 1, 3: 2, 6: 4}.get(n_up)
    if rescaling is None or state[HR_FIRST_CONV].shape[0] != 64:
        raise TalkfaceError("an HRDecoder of an unknown shape without its talkface config", checkpoint)
    return HyperLipsConfig(rescaling=rescaling)
