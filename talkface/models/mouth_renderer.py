"""The learned mouth renderer: a small U-Net that fills the lower face's mouth region from a sketch.

Person-agnostic inpainting in the face frame (:func:`~talkface.face.canonical.face_frame`, a crop
of :attr:`MouthRendererConfig.region` in interocular distances, IOD, around the mouth). Inputs,
stacked as channels at ``size``:

- the frame with the mouth region masked out (RGB, 0 inside the mask) and the mask itself;
- a sketch of the target lip contours (outer contour, inner contour, the filled inner polygon):
  the landmark-sketch guidance of HyperLips' HRDecoder and of IP_LAP's renderer;
- a reference view of the same face (RGB, unmasked): how this person's lips and teeth look.

The network predicts RGB in [0, 1] everywhere; only the masked region is used. One self-describing
checkpoint (``config`` + ``state_dict``, :func:`save_mouth_renderer` / :func:`load_mouth_renderer`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from talkface.errors import TalkfaceError
from talkface.face import landmarks as L
from talkface.face.canonical import face_region_affine, pushed_out
from talkface.face.landmarks import lip_polygon

FORMAT = "talkface-mouth-renderer"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class MouthRendererConfig:
    """Hyper-parameters of the mouth renderer.

    Attributes:
        size: ``(width, height)`` pixels of the crop the network sees.
        region: ``(u0, v0, u1, v1)`` crop in the face frame, IOD about the mouth centre (v to the chin).
        channels: feature channels per U-Net level (each level halves the resolution).
        mask_margin: IOD by which the mask extends beyond the target lip contour it is made from.
        sketch_width: pixels of the sketch's contour lines.
        mask: what the network fills: ``"mouth"``, the whole mouth region (the outer lips grown by
            ``mask_margin``: lips and interior are redrawn), or ``"interior"``, only the opening
            (the inner lips grown by ``mask_margin``: the lips around it stay, as when a mouth opens).
    """

    size: tuple[int, int] = (128, 96)
    region: tuple[float, float, float, float] = (-0.75, -0.40, 0.75, 0.725)
    channels: tuple[int, ...] = (16, 32, 64, 128, 160)
    mask_margin: float = 0.10
    sketch_width: int = 1
    mask: str = "mouth"

    @property
    def px_per_iod(self) -> float:
        return self.size[0] / (self.region[2] - self.region[0])

    @property
    def in_channels(self) -> int:
        return 3 + 1 + 3 + 3  # masked frame, mask, sketch, reference


# The interior renderer: fills only the opening between the lips (the inner lips grown by 0.035 IOD).
INTERIOR_CONFIG = MouthRendererConfig(mask_margin=0.035, mask="interior")


def _block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, 1),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(c_out, c_out, 3, 1, 1),
        nn.LeakyReLU(0.2, inplace=True),
    )


class MouthRenderer(nn.Module):
    """U-Net: ``(B, 10, H, W)`` float32 inputs in [0, 1] -> ``(B, 3, H, W)`` RGB in [0, 1].

    ``H, W`` must be divisible by ``2 ** (len(channels) - 1)``.
    """

    def __init__(self, config: MouthRendererConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or MouthRendererConfig()
        ch = config.channels
        self.down = nn.ModuleList([_block(config.in_channels, ch[0])])
        for a, b in zip(ch, ch[1:], strict=False):
            self.down.append(_block(a, b, stride=2))
        self.up = nn.ModuleList()
        for a, b in zip(ch[::-1], ch[::-1][1:], strict=False):
            self.up.append(nn.Sequential(nn.Conv2d(a + b, b, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True)))
        self.head = nn.Conv2d(ch[0], 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        skips.pop()
        for block in self.up:
            skip = skips.pop()
            x = nn.functional.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], 1))
        return torch.sigmoid(self.head(x))


def region_affine(lm: np.ndarray, config: MouthRendererConfig) -> np.ndarray:
    """``(2, 3)`` float64 affine from crop pixels ``(c, r)`` to frame pixels for ``(478, 2)`` landmarks
    (:func:`~talkface.face.canonical.face_region_affine` of ``config.region``)."""
    return face_region_affine(lm, config.region, config.px_per_iod)


def lip_contours_in_crop(lm: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outer and inner lip polygons ``(20, 2)`` float32 in crop pixels (upper contour, then lower back)."""
    inv = cv2.invertAffineTransform(affine)

    def poly(upper: list[int], lower: list[int]) -> np.ndarray:
        pts = lip_polygon(lm, upper, lower).astype(np.float64)
        return (pts @ inv[:, :2].T + inv[:, 2]).astype(np.float32)

    return poly(L.UPPER_OUTER, L.LOWER_OUTER), poly(L.UPPER_INNER, L.LOWER_INNER)


def draw_sketch(outer: np.ndarray, inner: np.ndarray, config: MouthRendererConfig) -> np.ndarray:
    """``(3, H, W)`` float32 sketch in [0, 1]: outer contour, inner contour, filled inner polygon."""
    w, h = config.size
    out = np.zeros((3, h, w), np.float32)
    canvases = [np.zeros((h, w), np.uint8) for _ in range(3)]
    for canvas, poly in ((canvases[0], outer), (canvases[1], inner)):
        cv2.polylines(
            canvas, [np.round(poly * 16).astype(np.int32)], True, 255, config.sketch_width, cv2.LINE_AA, 4
        )
    cv2.fillPoly(canvases[2], [np.round(inner * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    for k in range(3):
        out[k] = canvases[k] / 255.0
    return out


def mouth_mask(outer: np.ndarray, margin_px: float, config: MouthRendererConfig) -> np.ndarray:
    """``(H, W)`` float32 0/1 mask: a lip polygon (``(N, 2)`` crop pixels, the outer one for the
    whole mouth) grown by ``margin_px`` crop pixels, then dilated by half of that."""
    w, h = config.size
    mask = np.zeros((h, w), np.uint8)
    grown = pushed_out(outer, outer.mean(0), margin_px)
    cv2.fillPoly(mask, [np.round(grown * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    k = max(1, int(round(margin_px * 0.5)))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    return mask.astype(np.float32)


def region_mask(
    outer: np.ndarray, inner: np.ndarray, margin_px: float, config: MouthRendererConfig
) -> np.ndarray:
    """``(H, W)`` float32 0/1 mask of what the network fills (``config.mask``): the outer lip
    polygon (``"mouth"``) or the inner one (``"interior"``), grown by ``margin_px`` crop pixels."""
    return mouth_mask(inner if config.mask == "interior" else outer, margin_px, config)


def network_input(
    crop: np.ndarray, mask: np.ndarray, sketch: np.ndarray, reference: np.ndarray
) -> np.ndarray:
    """``(10, H, W)`` float32 input from a ``(H, W, 3)`` uint8 crop, its ``(H, W)`` mask, the
    ``(3, H, W)`` sketch and the ``(H, W, 3)`` uint8 reference crop."""
    frame = crop.transpose(2, 0, 1).astype(np.float32) / 255.0
    ref = reference.transpose(2, 0, 1).astype(np.float32) / 255.0
    return np.concatenate([frame * (1 - mask)[None], mask[None], sketch, ref]).astype(np.float32)


def save_mouth_renderer(model: MouthRenderer, path: str | Path, meta: dict | None = None) -> None:
    """Write a checkpoint: ``{"format", "version", "config", "state_dict", "meta"}`` (fp16 weights)."""
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save(
        {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "config": asdict(model.config),
            "state_dict": state,
            "meta": meta or {},
        },
        str(path),
    )


def load_mouth_renderer(path: str | Path) -> MouthRenderer:
    """Load a :func:`save_mouth_renderer` checkpoint (float32, eval mode).

    Raises:
        TalkfaceError: the file is missing or is not a mouth-renderer checkpoint.
    """
    path = Path(path)
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise TalkfaceError("no such mouth-renderer checkpoint", path) from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file
        raise TalkfaceError(f"not a mouth-renderer checkpoint ({type(exc).__name__})", path) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise TalkfaceError("not a mouth-renderer checkpoint (no talkface-mouth-renderer format tag)", path)
    raw = ckpt["config"]
    config = MouthRendererConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
    model = MouthRenderer(config)
    try:
        model.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    except RuntimeError as exc:
        raise TalkfaceError(f"mouth-renderer weights do not fit its config ({exc})", path) from None
    return model.eval()
