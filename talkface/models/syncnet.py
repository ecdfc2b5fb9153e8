"""Wav2Lip's colour lip-sync expert ``SyncNet_color`` (Prajwal et al. 2020, ``models/syncnet.py``).

Face: 5 consecutive lower-half frames (BGR, /255) stacked on channels, ``(B, 15, 48, 96)``.
Audio: one Wav2Lip mel window ``(B, 1, 80, 16)``. Both become L2-normalised, non-negative 512-d
embeddings; their cosine similarity in [0, 1] is the sync probability (BCE loss, ``cosine_bce``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from talkface.errors import TalkfaceError
from talkface.models.blocks import Conv2d, audio_encoder, scaled
from talkface.models.checkpoint import load_checkpoint, read_state_dict, saved_config
from talkface.models.wav2lip import IMG_SIZE

SYNC_FRAMES = 5  # frames per window (T)


@dataclass(frozen=True)
class SyncNetConfig:
    """Hyper-parameters of :class:`SyncNet` (``width`` 1.0 = published, 16,435,072 parameters)."""

    width: float = 1.0


class SyncNet(nn.Module):
    """The expert lip-sync discriminator.

    Forward: ``(audio (B,1,80,16), face (B,15,48,96))`` float32 -> ``(audio_emb, face_emb)``, each
    ``(B, 512*width)`` float32, L2-normalised.
    """

    def __init__(self, config: SyncNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or SyncNetConfig()
        c = [scaled(n, self.config.width) for n in (32, 64, 128, 256, 512)]
        self.face_encoder = nn.Sequential(
            Conv2d(3 * SYNC_FRAMES, c[0], 7, 1, 3),
            Conv2d(c[0], c[1], 5, (1, 2), 1),
            Conv2d(c[1], c[1], 3, 1, 1, residual=True),
            Conv2d(c[1], c[1], 3, 1, 1, residual=True),
            Conv2d(c[1], c[2], 3, 2, 1),
            Conv2d(c[2], c[2], 3, 1, 1, residual=True),
            Conv2d(c[2], c[2], 3, 1, 1, residual=True),
            Conv2d(c[2], c[2], 3, 1, 1, residual=True),
            Conv2d(c[2], c[3], 3, 2, 1),
            Conv2d(c[3], c[3], 3, 1, 1, residual=True),
            Conv2d(c[3], c[3], 3, 1, 1, residual=True),
            Conv2d(c[3], c[4], 3, 2, 1),
            Conv2d(c[4], c[4], 3, 1, 1, residual=True),
            Conv2d(c[4], c[4], 3, 1, 1, residual=True),
            Conv2d(c[4], c[4], 3, 2, 1),
            Conv2d(c[4], c[4], 3, 1, 0),
            Conv2d(c[4], c[4], 1, 1, 0),
        )
        self.audio_encoder = audio_encoder(self.config.width, stage4_residuals=2)

    def forward(self, audio: torch.Tensor, face: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        face_emb = self.face_encoder(face).flatten(1)
        audio_emb = self.audio_encoder(audio).flatten(1)
        return F.normalize(audio_emb, p=2, dim=1), F.normalize(face_emb, p=2, dim=1)


def cosine_bce(audio_emb: torch.Tensor, face_emb: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Wav2Lip's sync loss: BCE of the cosine similarity (in [0, 1]) against ``target`` (1 = in sync).

    Shapes: embeddings ``(B, D)``, target ``(B,)`` float32.
    """
    sim = F.cosine_similarity(audio_emb, face_emb).clamp(1e-7, 1 - 1e-7)
    return F.binary_cross_entropy(sim, target)


def expert_config(checkpoint: str | Path) -> SyncNetConfig:
    """The :class:`SyncNetConfig` of a SyncNet checkpoint: the one it was saved with here, or for a
    published file the width read from its first convolution (32 filters = 1.0).

    Raises:
        TalkfaceError: unreadable, or not a SyncNet checkpoint.
    """
    config = saved_config(checkpoint, "SyncNet", SyncNetConfig)
    if config is not None:
        return config
    state = read_state_dict(checkpoint)
    key = "face_encoder.0.conv_block.0.weight"
    if key not in state or state[key].shape[1] != 3 * SYNC_FRAMES:
        raise TalkfaceError("not a SyncNet checkpoint", checkpoint)
    return SyncNetConfig(width=state[key].shape[0] / 32)


def load_expert(checkpoint: str | Path) -> SyncNet:
    """The frozen expert SyncNet from a checkpoint (published format, any width), in eval mode.

    Raises:
        TalkfaceError: missing or unreadable file, or not a SyncNet checkpoint.
    """
    model = SyncNet(expert_config(checkpoint))
    load_checkpoint(checkpoint, model)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def lower_halves(frames: np.ndarray) -> np.ndarray:
    """SyncNet face input from a window of crops.

    Args:
        frames: ``(..., T, IMG_SIZE, IMG_SIZE, 3)`` uint8 BGR.

    Returns:
        ``(..., 3T, IMG_SIZE/2, IMG_SIZE)`` float32 in [0, 1]: the lower halves, channels stacked
        frame after frame (as ``color_syncnet_train.py`` concatenates them).
    """
    x = frames[..., IMG_SIZE // 2 :, :, :].astype(np.float32) / 255.0  # (..., T, 48, 96, 3)
    x = np.moveaxis(x, -1, -3)  # (..., T, 3, 48, 96)
    return x.reshape(*x.shape[:-4], -1, *x.shape[-2:])
