"""The learned mouth renderer at work: fill a frame's mouth region for a target lip contour.

Wraps :class:`~talkface.models.mouth_renderer.MouthRenderer` for the warp engine. A reference
view of the face (:meth:`LearnedMouth.observe`: the most open mouth seen so far of the input, or
the photo itself) tells the network how this person's lips and teeth look; for each frame the
warped patch is cropped in the face frame, its mouth region masked, the target lip contours
sketched, and the network's output is warped back and blended in through a feathered mask that
ends inside the masked region (so everything outside it stays exactly as the warp left it).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from talkface.errors import TalkfaceError
from talkface.face import landmarks as L
from talkface.face.canonical import pushed_out
from talkface.face.crop import cut_region
from talkface.face.landmarks import lip_polygon, mouth_aperture
from talkface.face.paste import feathered_mask
from talkface.weights import WEIGHTS

MOUTH_RENDERER = WEIGHTS / "mouth_renderer.pt"  # shipped weights: see mouth_renderer.md
PASTE_MARGIN = 1.2  # x the network's mask margin: where the blend mask reaches 0
PASTE_FEATHER = 0.05  # IOD: soft edge of the blend mask
INTERIOR_MARGIN = 0.035  # IOD beyond the inner lips where an interior-only blend reaches 0
INTERIOR_FEATHER = 0.025  # IOD
REFERENCE_APERTURE = 0.12  # IOD: a reference at least this open is kept (it shows the teeth)


class LearnedMouth:
    """Fills mouths with the learned renderer, for one face.

    Args:
        path: a mouth-renderer checkpoint (default: the shipped :data:`MOUTH_RENDERER`).
        eager: load it now (a file the user named: a bad one fails before any work), not on first use.

    Raises:
        TalkfaceError: the checkpoint is missing, or invalid (when loaded).
    """

    def __init__(self, path: str | Path | None = None, eager: bool = False) -> None:
        self.path = Path(path or MOUTH_RENDERER)
        if not self.path.is_file():
            raise TalkfaceError("no such mouth-renderer checkpoint", self.path)
        self.model = None  # loaded (with torch) when a mouth is first filled, or now if eager
        self.reference: np.ndarray | None = None  # (H, W, 3) uint8 crop, made from _reference_frame
        self._reference_frame: tuple[np.ndarray, np.ndarray] | None = None
        self._reference_aperture = -1.0
        if eager:
            self._load()

    def observe(self, rgb: np.ndarray, lm: np.ndarray) -> None:
        """Offer a real frame (``(h, w, 3)`` uint8 RGB, ``(478, 2)`` landmarks in its pixels) as the
        reference view: kept if its mouth is more open than the current reference's (up to
        :data:`REFERENCE_APERTURE`, beyond which teeth show anyway)."""
        aperture = float(mouth_aperture(lm))
        if self._reference_frame is not None and (
            aperture <= self._reference_aperture or self._reference_aperture >= REFERENCE_APERTURE
        ):
            return
        self._reference_frame = (rgb.copy(), lm.copy())
        self._reference_aperture = aperture
        self.reference = None

    def _load(self) -> None:
        """Import torch and load the network (on first use: a video the bank covers never needs it)."""
        import torch

        from talkface.models.mouth_renderer import load_mouth_renderer

        self.torch = torch
        self.model = load_mouth_renderer(self.path)
        self.config = self.model.config

    def fill(self, patch: np.ndarray, dst_lm: np.ndarray, iod: float, interior_only: bool = False) -> bool:
        """Render the mouth for target landmarks into ``patch`` in place.

        Args:
            patch: ``(h, w, 3)`` uint8 RGB pixels around the mouth (the warped frame).
            dst_lm: ``(478, 2)`` float32 landmarks in ``patch``'s pixels, lips at their target.
            iod: interocular distance in pixels.
            interior_only: blend the output only inside the target inner lips (grown by
                :data:`INTERIOR_MARGIN`): the warped real lips stay (a mouth opening), instead of
                the whole masked region (a mouth closing, whose squeezed lips must be redrawn).

        Returns:
            ``False`` (nothing drawn) before any reference was observed.
        """
        if self._reference_frame is None:
            return False
        if self.model is None:
            self._load()
        from talkface.models.mouth_renderer import (
            draw_sketch,
            lip_contours_in_crop,
            mouth_mask,
            network_input,
            region_affine,
        )

        cfg = self.config
        if self.reference is None:
            rgb, lm = self._reference_frame
            self.reference = cut_region(rgb, region_affine(lm, cfg), cfg.size)
        affine = region_affine(dst_lm, cfg)
        crop = cut_region(patch, affine, cfg.size)
        outer, inner = lip_contours_in_crop(dst_lm, affine)
        mask = mouth_mask(outer, cfg.mask_margin * cfg.px_per_iod, cfg)
        x = network_input(crop, mask, draw_sketch(outer, inner, cfg), self.reference)
        # One thread: the decoder, tracker and encoder threads fill the cores, and torch's own pool
        # on a busy machine spins (13 ms a crop on 1 thread, 250 ms on 2 beside two busy processes).
        threads = self.torch.get_num_threads()
        self.torch.set_num_threads(1)
        try:
            with self.torch.inference_mode():
                pred = self.model(self.torch.from_numpy(x[None]))[0].numpy()
        finally:
            self.torch.set_num_threads(threads)
        out = np.clip(pred.transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)
        h, w = patch.shape[:2]
        rendered = cv2.warpAffine(
            out, affine, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        if interior_only:
            lips, grow, feather = (L.UPPER_INNER, L.LOWER_INNER), INTERIOR_MARGIN, INTERIOR_FEATHER
        else:
            grow = PASTE_MARGIN * cfg.mask_margin
            lips, feather = (L.UPPER_OUTER, L.LOWER_OUTER), PASTE_FEATHER
        lips = lip_polygon(dst_lm, *lips)
        alpha = feathered_mask(pushed_out(lips, lips.mean(0), grow, iod), (h, w), feather * iod)
        patch[...] = cv2.blendLinear(rendered, patch, alpha, 1.0 - alpha)
        return True
