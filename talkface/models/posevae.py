"""SadTalker's PoseVAE (Zhang et al., CVPR 2023, arXiv 2211.12194, section 3.3;
``OpenTalker/SadTalker:src/audio2pose_models``): a conditional VAE over head-pose *residual*
sequences, conditioned on the first frame's pose, the audio and a style (speaker) id.

The classes and parameter names are the published ones (``CVAE`` with ``encoder``/``decoder``,
each with a ``ResUnet`` over the ``(1, seq_len, 6)`` residual "image", an ``MLP``, a per-class
latent bias ``classbias`` and ``linear_audio``; ``PoseSequenceDiscriminator``). Differences:

- the published encoder computes ``logvar`` with ``linear_means`` (a slip that makes the
  variance follow the mean); here ``linear_logvar`` does, as its name says;
- the six pose numbers are ours (:mod:`talkface.face.pose`): pitch, yaw, roll in degrees,
  translation x, y in interocular distances and the log of the scale ratio, each divided by its
  standard deviation over the training clips (:attr:`PoseVAEConfig.pose_std`); the published
  ones are the 3DMM's three angles and three translations;
- the audio embedding is our expert SyncNet's (``talkface/weights/syncnet.pth``, 256-d), frozen,
  as SadTalker froze Wav2Lip's audio encoder (512-d).

Shapes: residuals ``(B, seq_len, 6)`` float32; ``ref`` ``(B, 6)``; audio ``(B, seq_len,
audio_emb_in_size)``; ``class`` ``(B,)`` int64; ``z`` ``(B, latent_size)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

POSE_DIMS = 6  # pitch, yaw, roll, tx, ty, log scale


@dataclass(frozen=True)
class PoseVAEConfig:
    """Hyper-parameters (``MODEL.CVAE`` of SadTalker's ``auido2pose.yaml``; ``num_classes`` is
    ``DATASET.NUM_CLASSES``: the number of training speakers, 46 there).

    ``pose_std``: ``(6,)`` the standard deviation of each pose number over the training clips
    (pose residuals are divided by it); ``styles``: the speaker behind each class id; ``gain``:
    ``(6,)`` factors applied to sampled sequences so that their spread matches the training
    speakers' (a VAE sampled from its prior moves less than the data; set by ``talkface train head``)."""

    seq_len: int = 32
    latent_size: int = 64
    audio_emb_in_size: int = 256
    audio_emb_out_size: int = 6
    encoder_layer_sizes: tuple[int, ...] = (192, 128)
    decoder_layer_sizes: tuple[int, ...] = (128, 192)
    num_classes: int = 46
    filters: tuple[int, ...] = (32, 64, 128, 256)
    pose_std: tuple[float, ...] = (1.0,) * POSE_DIMS
    styles: tuple[str, ...] = ()
    gain: tuple[float, ...] = (1.0,) * POSE_DIMS


class ResidualConv(nn.Module):
    """BN-ReLU-Conv-BN-ReLU-Conv plus a strided conv skip (``networks.ResidualConv``)."""

    def __init__(self, input_dim: int, output_dim: int, stride, padding) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.BatchNorm2d(input_dim),
            nn.ReLU(),
            nn.Conv2d(input_dim, output_dim, kernel_size=3, stride=stride, padding=padding),
            nn.BatchNorm2d(output_dim),
            nn.ReLU(),
            nn.Conv2d(output_dim, output_dim, kernel_size=3, padding=1),
        )
        self.conv_skip = nn.Sequential(
            nn.Conv2d(input_dim, output_dim, kernel_size=3, stride=stride, padding=1),
            nn.BatchNorm2d(output_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_block(x) + self.conv_skip(x)


class Upsample(nn.Module):
    """A transposed convolution (``networks.Upsample``)."""

    def __init__(self, input_dim: int, output_dim: int, kernel, stride) -> None:
        super().__init__()
        self.upsample = nn.ConvTranspose2d(input_dim, output_dim, kernel_size=kernel, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample(x)


class ResUnet(nn.Module):
    """A residual U-Net over the time axis of a ``(B, 1, T, 6)`` sequence (strides ``(2, 1)``:
    time is halved three times, the six pose numbers kept); sigmoid output, same shape.
    ``T`` must be a multiple of 8."""

    def __init__(self, channel: int = 1, filters: tuple[int, ...] = (32, 64, 128, 256)) -> None:
        super().__init__()
        f = list(filters)
        self.input_layer = nn.Sequential(
            nn.Conv2d(channel, f[0], kernel_size=3, padding=1),
            nn.BatchNorm2d(f[0]),
            nn.ReLU(),
            nn.Conv2d(f[0], f[0], kernel_size=3, padding=1),
        )
        self.input_skip = nn.Sequential(nn.Conv2d(channel, f[0], kernel_size=3, padding=1))
        self.residual_conv_1 = ResidualConv(f[0], f[1], stride=(2, 1), padding=1)
        self.residual_conv_2 = ResidualConv(f[1], f[2], stride=(2, 1), padding=1)
        self.bridge = ResidualConv(f[2], f[3], stride=(2, 1), padding=1)
        self.upsample_1 = Upsample(f[3], f[3], kernel=(2, 1), stride=(2, 1))
        self.up_residual_conv1 = ResidualConv(f[3] + f[2], f[2], stride=1, padding=1)
        self.upsample_2 = Upsample(f[2], f[2], kernel=(2, 1), stride=(2, 1))
        self.up_residual_conv2 = ResidualConv(f[2] + f[1], f[1], stride=1, padding=1)
        self.upsample_3 = Upsample(f[1], f[1], kernel=(2, 1), stride=(2, 1))
        self.up_residual_conv3 = ResidualConv(f[1] + f[0], f[0], stride=1, padding=1)
        self.output_layer = nn.Sequential(nn.Conv2d(f[0], 1, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.input_layer(x) + self.input_skip(x)
        x2 = self.residual_conv_1(x1)
        x3 = self.residual_conv_2(x2)
        x4 = self.upsample_1(self.bridge(x3))
        x6 = self.upsample_2(self.up_residual_conv1(torch.cat([x4, x3], dim=1)))
        x8 = self.upsample_3(self.up_residual_conv2(torch.cat([x6, x2], dim=1)))
        return self.output_layer(self.up_residual_conv3(torch.cat([x8, x1], dim=1)))


class ENCODER(nn.Module):
    """q(z | residuals, ref, audio, class): ``(mu, logvar)``, each ``(B, latent_size)``."""

    def __init__(self, config: PoseVAEConfig) -> None:
        super().__init__()
        c = config
        self.resunet = ResUnet(filters=c.filters)
        self.num_classes, self.seq_len = c.num_classes, c.seq_len
        sizes = list(c.encoder_layer_sizes)
        sizes[0] += c.latent_size + c.seq_len * c.audio_emb_out_size + POSE_DIMS
        self.MLP = nn.Sequential()
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            self.MLP.add_module(f"L{i}", nn.Linear(n_in, n_out))
            self.MLP.add_module(f"A{i}", nn.ReLU())
        self.linear_means = nn.Linear(sizes[-1], c.latent_size)
        self.linear_logvar = nn.Linear(sizes[-1], c.latent_size)
        self.linear_audio = nn.Linear(c.audio_emb_in_size, c.audio_emb_out_size)
        self.classbias = nn.Parameter(torch.randn(c.num_classes, c.latent_size))

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        motion, ref, audio = batch["pose_motion_gt"], batch["ref"], batch["audio_emb"]
        bs = motion.shape[0]
        pose_emb = self.resunet(motion.unsqueeze(1)).reshape(bs, -1)
        audio_out = self.linear_audio(audio).reshape(bs, -1)
        x = torch.cat([ref, pose_emb, audio_out, self.classbias[batch["class"]]], dim=-1)
        h = self.MLP(x)
        batch.update(mu=self.linear_means(h), logvar=self.linear_logvar(h))
        return batch


class DECODER(nn.Module):
    """p(residuals | z, ref, audio, class): ``pose_motion_pred`` ``(B, seq_len, 6)``."""

    def __init__(self, config: PoseVAEConfig) -> None:
        super().__init__()
        c = config
        self.resunet = ResUnet(filters=c.filters)
        self.num_classes, self.seq_len = c.num_classes, c.seq_len
        sizes = list(c.decoder_layer_sizes)
        n_in = c.latent_size + c.seq_len * c.audio_emb_out_size + POSE_DIMS
        self.MLP = nn.Sequential()
        for i, (a, b) in enumerate(zip([n_in, *sizes[:-1]], sizes, strict=True)):
            self.MLP.add_module(f"L{i}", nn.Linear(a, b))
            self.MLP.add_module(
                f"A{i}" if i + 1 < len(sizes) else "sigmoid",
                nn.ReLU() if i + 1 < len(sizes) else nn.Sigmoid(),
            )
        self.pose_linear = nn.Linear(POSE_DIMS, POSE_DIMS)
        self.linear_audio = nn.Linear(c.audio_emb_in_size, c.audio_emb_out_size)
        self.classbias = nn.Parameter(torch.randn(c.num_classes, c.latent_size))

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        z, ref, audio = batch["z"], batch["ref"], batch["audio_emb"]
        bs = z.shape[0]
        audio_out = self.linear_audio(audio).reshape(bs, -1)
        z = z + self.classbias[batch["class"]]
        x = self.MLP(torch.cat([ref, z, audio_out], dim=-1)).reshape(bs, self.seq_len, -1)
        pose_emb = self.resunet(x.unsqueeze(1))
        batch["pose_motion_pred"] = self.pose_linear(pose_emb.squeeze(1))
        return batch


class CVAE(nn.Module):
    """The PoseVAE: :class:`ENCODER` and :class:`DECODER`.

    ``forward`` (training) samples ``z`` from the encoder's posterior (reparameterised);
    ``test`` decodes the ``z`` given in the batch (a draw from N(0, I)).
    """

    def __init__(self, config: PoseVAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or PoseVAEConfig()
        self.latent_size = self.config.latent_size
        self.encoder = ENCODER(self.config)
        self.decoder = DECODER(self.config)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        batch = self.encoder(batch)
        batch["z"] = self.reparameterize(batch["mu"], batch["logvar"])
        return self.decoder(batch)

    def test(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.decoder(batch)


class ConvNormRelu(nn.Module):
    """Conv1d (no bias) -> BatchNorm1d -> (Leaky)ReLU (``discriminator.ConvNormRelu``, 1-D, BN)."""

    def __init__(
        self, in_channels: int, out_channels: int, downsample: bool = False, leaky: bool = False
    ) -> None:
        super().__init__()
        k, s, p = (4, 2, 1) if downsample else (3, 1, 1)
        self.conv = nn.Conv1d(in_channels, out_channels, k, s, p, bias=False)
        self.norm = nn.BatchNorm1d(out_channels)
        nn.init.kaiming_normal_(self.conv.weight)
        self.act = nn.LeakyReLU(0.2) if leaky else nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class PoseSequenceDiscriminator(nn.Module):
    """Real/fake scores of pose sequences: ``(B, T, 6)`` -> ``(B, T // 4)`` logits (the published
    layers at a width multiplier: 256/512/1024 channels at ``width`` 1)."""

    def __init__(self, input_channels: int = POSE_DIMS, width: float = 1.0, leaky: bool = False) -> None:
        super().__init__()
        c = [max(1, int(n * width)) for n in (256, 512, 1024)]
        self.seq = nn.Sequential(
            ConvNormRelu(input_channels, c[0], downsample=True, leaky=leaky),
            ConvNormRelu(c[0], c[1], downsample=True, leaky=leaky),
            ConvNormRelu(c[1], c[2], leaky=leaky),
            nn.Conv1d(c[2], 1, kernel_size=3, stride=1, padding=1, bias=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x.reshape(x.size(0), x.size(1), -1).transpose(1, 2)).squeeze(1)
