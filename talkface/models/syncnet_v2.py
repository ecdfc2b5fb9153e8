"""syncnet_python's model ``S`` (Chung & Zisserman, "Out of time", ACCV 2016 workshops), whose
published weights ``syncnet_v2.model`` define LSE-D / LSE-C (``shared/research/anchors.md`` §6).

Same modules and parameter names as ``SyncNetModel.S`` (``netcnnaud``, ``netfcaud``, ``netcnnlip``,
``netfclip``), so a user's ``syncnet_v2.model`` (a plain state dict) loads with ``strict=True``.

- Lip stream: ``(B, 3, 5, 224, 224)`` float32 BGR face crops, 0-255, not normalised -> ``(B, 1024)``.
- Audio stream: ``(B, 1, 13, 20)`` float32 MFCC (:func:`talkface.speech.mfcc.mfcc`, 20 frames =
  0.2 s) -> ``(B, 1024)``. Embeddings are not normalised; LSE uses their Euclidean distance.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from talkface.errors import TalkfaceError

LIP_FRAMES = 5  # video frames per window
LIP_SIZE = 224  # pixels: side of the face crop
MFCC_FRAMES = 20  # MFCC frames per window (0.2 s)
EMBEDDING = 1024


def _conv2d(cin: int, cout: int, kernel, padding) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, kernel_size=kernel, padding=padding),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


def _conv3d(cin: int, cout: int, kernel, stride=1, padding=0) -> list[nn.Module]:
    return [
        nn.Conv3d(cin, cout, kernel_size=kernel, stride=stride, padding=padding),
        nn.BatchNorm3d(cout),
        nn.ReLU(inplace=True),
    ]


def _head() -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, EMBEDDING))


class SyncNetV2(nn.Module):
    """The audio-visual sync network ``S`` of syncnet_python (13.6 M parameters)."""

    def __init__(self) -> None:
        super().__init__()
        self.netcnnaud = nn.Sequential(
            *_conv2d(1, 64, 3, 1),
            nn.MaxPool2d(kernel_size=1, stride=1),
            *_conv2d(64, 192, 3, 1),
            nn.MaxPool2d(kernel_size=3, stride=(1, 2)),
            *_conv2d(192, 384, 3, 1),
            *_conv2d(384, 256, 3, 1),
            *_conv2d(256, 256, 3, 1),
            nn.MaxPool2d(kernel_size=3, stride=2),
            *_conv2d(256, 512, (5, 4), 0),
        )
        self.netfcaud = _head()
        self.netfclip = _head()
        self.netcnnlip = nn.Sequential(
            *_conv3d(3, 96, (5, 7, 7), (1, 2, 2)),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            *_conv3d(96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            *_conv3d(256, 256, (1, 3, 3), 1, (0, 1, 1)),
            *_conv3d(256, 256, (1, 3, 3), 1, (0, 1, 1)),
            *_conv3d(256, 256, (1, 3, 3), 1, (0, 1, 1)),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            *_conv3d(256, 512, (1, 6, 6)),
        )

    def forward_aud(self, mfcc: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 13, 20)`` MFCC windows -> ``(B, 1024)`` audio embeddings."""
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

    def forward_lip(self, faces: torch.Tensor) -> torch.Tensor:
        """``(B, 3, 5, 224, 224)`` BGR 0-255 face windows -> ``(B, 1024)`` lip embeddings."""
        return self.netfclip(self.netcnnlip(faces).flatten(1))


def load_syncnet_v2(path: str | Path) -> SyncNetV2:
    """A :class:`SyncNetV2` in eval mode with the weights of ``syncnet_v2.model`` (a state dict).

    Raises:
        TalkfaceError: missing or unreadable file, or a state dict of another network.
    """
    path = Path(path)
    if not path.is_file():
        raise TalkfaceError("file not found", path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise TalkfaceError(f"not a PyTorch state dict ({type(exc).__name__})", path) from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    model = SyncNetV2()
    try:
        model.load_state_dict({k.removeprefix("module."): v for k, v in state.items()}, strict=True)
    except (RuntimeError, AttributeError) as exc:
        raise TalkfaceError(
            f"not syncnet_python's syncnet_v2.model ({str(exc).splitlines()[0][:120]})", path
        ) from None
    return model.eval()
