"""The learned mouth renderer at work: fill a frame's mouth region for a target lip contour.

Wraps :class:`~talkface.models.mouth_renderer.MouthRenderer` for the warp engine. A reference
view of the face (:meth:`LearnedMouth.observe`: the most open mouth seen so far of the input, or
the photo itself) tells the network how this person's lips and teeth look; for each frame the
warped patch is cropped in the face frame, its mouth region masked, the target lip contours
sketched, and the network's output is warped back and blended in through a feathered mask that
ends inside the masked region (so everything outside it stays exactly as the warp left it).

A mouth that opens from a reference that was never open (a closed-mouth photo) is the hard case:
the main network, which learned teeth from the reference, fills the opening with lip-coloured
pixels. With ``--mouth auto`` such an opening goes to an interior renderer when the user gives one
(``--mouth-interior-model``: a network that fills only the opening,
:data:`~talkface.models.mouth_renderer.INTERIOR_CONFIG`; none is shipped, see the model card of
``mouth_renderer.pt``), else :meth:`LearnedMouth.fill` declines and the warp engine paints it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from talkface.errors import TalkfaceError
from talkface.face import landmarks as L
from talkface.face.canonical import pushed_out
from talkface.face.crop import cut_region
from talkface.face.landmarks import lip_polygon, mouth_aperture
from talkface.face.paste import feathered_mask
from talkface.weights import WEIGHTS

if TYPE_CHECKING:
    from talkface.models.mouth_renderer import MouthRendererConfig

MOUTH_RENDERER = WEIGHTS / "mouth_renderer.pt"  # shipped weights: see mouth_renderer.md
PASTE_MARGIN = 1.2  # x the network's mask margin: where the blend mask reaches 0
PASTE_FEATHER = 0.05  # IOD: soft edge of the blend mask
INTERIOR_MARGIN = 0.035  # IOD beyond the inner lips where an interior-only blend reaches 0
INTERIOR_FEATHER = 0.025  # IOD
REFERENCE_APERTURE = 0.12  # IOD: a reference at least this open is kept (it shows the teeth)
# IOD: with mouth auto, the main network opens a mouth only from a reference at least this open.
# From a closed one it fills the opening with lip-coloured pixels that read as closed lips (photo
# mode, lrs2_00024: measured aperture 0.012 IOD where the real speaker's is 0.064).
OPENING_REFERENCE = 0.04


class LearnedMouth:
    """Fills mouths with the learned renderer, for one face.

    Args:
        path: a mouth-renderer checkpoint (default: the shipped :data:`MOUTH_RENDERER`).
        eager: load it now (a file the user named: a bad one fails before any work), not on first use.
        opening_reference: the main network opens a mouth only when the reference view is at least
            this open (IOD; 0: always, as ``--mouth learned`` does).
        interior: an interior-renderer checkpoint (config mask ``"interior"``) for the openings the
            main network declines; ``None``: :meth:`fill` declines them.

    Raises:
        TalkfaceError: a checkpoint is missing, or invalid (when loaded).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        eager: bool = False,
        opening_reference: float = 0.0,
        interior: str | Path | None = None,
    ) -> None:
        self.path = Path(path or MOUTH_RENDERER)
        self.interior_path = Path(interior) if interior is not None else None
        for p in (self.path, self.interior_path):
            if p is not None and not p.is_file():
                raise TalkfaceError("no such mouth-renderer checkpoint", p)
        self.opening_reference = opening_reference
        self.model = None  # loaded (with torch) when a mouth is first filled, or now if eager
        self.interior_model = None
        # (H, W, 3) uint8 crops of _reference_frame, one per network config
        self.reference: dict[MouthRendererConfig, np.ndarray] = {}
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
        self.reference = {}

    def _load(self) -> None:
        """Import torch and load the network (on first use: a video the bank covers never needs it)."""
        import torch

        from talkface.models.mouth_renderer import load_mouth_renderer

        self.torch = torch
        self.model = load_mouth_renderer(self.path)
        if self.interior_path is not None:
            self.interior_model = load_mouth_renderer(self.interior_path)
            if self.interior_model.config.mask != "interior":
                problem = "not an interior renderer (its mask is the whole mouth)"
                raise TalkfaceError(problem, self.interior_path)

    def declines(self, interior_only: bool = False) -> bool:
        """Whether :meth:`fill` would draw nothing (same arguments): no reference observed yet, or an
        opening from a reference less open than ``opening_reference`` without an interior renderer."""
        if self._reference_frame is None:
            return True
        return self._blind(interior_only) and self.interior_path is None

    def _blind(self, interior_only: bool) -> bool:
        """An opening from a reference less open than ``opening_reference`` (the main network would
        fill it with lips)."""
        return interior_only and self._reference_aperture < self.opening_reference

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
            ``False`` (nothing drawn) before any reference was observed, or for an opening from a
            reference less open than ``opening_reference`` without an interior renderer.
        """
        if self.declines(interior_only):
            return False
        blind = self._blind(interior_only)
        if self.model is None:
            self._load()
        from talkface.models.mouth_renderer import (
            draw_sketch,
            lip_contours_in_crop,
            network_input,
            region_affine,
            region_mask,
        )

        model = self.interior_model if blind else self.model
        cfg = model.config
        if cfg not in self.reference:
            rgb, lm = self._reference_frame
            self.reference[cfg] = cut_region(rgb, region_affine(lm, cfg), cfg.size)
        affine = region_affine(dst_lm, cfg)
        crop = cut_region(patch, affine, cfg.size)
        outer, inner = lip_contours_in_crop(dst_lm, affine)
        mask = region_mask(outer, inner, cfg.mask_margin * cfg.px_per_iod, cfg)
        x = network_input(crop, mask, draw_sketch(outer, inner, cfg), self.reference[cfg])
        # One thread: the decoder, tracker and encoder threads fill the cores, and torch's own pool
        # on a busy machine spins (13 ms a crop on 1 thread, 250 ms on 2 beside two busy processes).
        threads = self.torch.get_num_threads()
        self.torch.set_num_threads(1)
        try:
            with self.torch.inference_mode():
                pred = model(self.torch.from_numpy(x[None]))[0].numpy()
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
