"""The mouth renderer's data: mouth-region crops of real talking clips, in the face frame.

For every clip of a folder: the face tracked in every frame (:class:`~talkface.face.track.FaceTracker`),
and up to :data:`MAX_PER_CLIP` evenly spaced frames kept as crops of the renderer's region
(:func:`~talkface.models.mouth_renderer.region_affine`) with their outer and inner lip polygons
in crop pixels. Frames with a small or turned face are skipped (as the mouth bank does). Clips
are grouped by speaker (``MANIFEST.tsv``) so that held-out clips are held-out people.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkface.face.crop import cut_region
from talkface.face.quiet import native_stderr_silenced
from talkface.face.track import FaceTracker
from talkface.media.atomic import save_npz_atomic
from talkface.media.video import VIDEO_SUFFIXES, FaceMedia
from talkface.models.mouth_renderer import MouthRendererConfig, lip_contours_in_crop, region_affine
from talkface.render.mouth_bank import MouthBank
from talkface.training.motion_clips import speaker_groups

MAX_PER_CLIP = 240  # crops kept per clip (long clips do not outweigh many short ones)


@dataclass
class MouthCrops:
    """Mouth crops of many clips.

    Attributes:
        crops: ``(n, H, W, 3)`` uint8 RGB crops of the renderer's region.
        outer, inner: ``(n, 20, 2)`` float32 lip polygons in crop pixels.
        clip: ``(n,)`` int32 index into ``names``.
        names, groups: clip stems and their speaker groups.
    """

    crops: np.ndarray
    outer: np.ndarray
    inner: np.ndarray
    clip: np.ndarray
    names: list[str]
    groups: list[str]

    def save(self, path: Path) -> None:
        save_npz_atomic(
            path,
            crops=self.crops,
            outer=self.outer,
            inner=self.inner,
            clip=self.clip,
            names=np.array(self.names),
            groups=np.array(self.groups),
        )

    @classmethod
    def load(cls, path: Path) -> MouthCrops:
        with np.load(path) as f:
            return cls(
                f["crops"],
                f["outer"],
                f["inner"],
                f["clip"],
                [str(n) for n in f["names"]],
                [str(g) for g in f["groups"]],
            )


def clip_crops(path: Path, config: MouthRendererConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(crops, outer, inner)`` of one clip (arrays as in :class:`MouthCrops`, possibly empty)."""
    media = FaceMedia(path)
    total = media.n_frames_hint or 0
    stride = max(1, total // MAX_PER_CLIP) if total else 1
    crops, outers, inners = [], [], []
    with native_stderr_silenced():
        tracker = FaceTracker()
        try:
            for i, rgb in enumerate(media.frames()):
                lm = tracker(rgb).landmarks  # every frame: the tracker follows the face
                if lm is None or i % stride or len(crops) >= MAX_PER_CLIP or not MouthBank.capturable(lm):
                    continue
                affine = region_affine(lm, config)
                crop = cut_region(rgb, affine, config.size)  # as the renderer cuts it
                outer, inner = lip_contours_in_crop(lm, affine)
                crops.append(crop)
                outers.append(outer)
                inners.append(inner)
        finally:
            tracker.close()
    w, h = config.size
    if not crops:
        return (
            np.zeros((0, h, w, 3), np.uint8),
            np.zeros((0, 20, 2), np.float32),
            np.zeros((0, 20, 2), np.float32),
        )
    return np.stack(crops), np.stack(outers), np.stack(inners)


def build_mouth_crops(
    data_dir: Path, out: Path, config: MouthRendererConfig | None = None, log=print
) -> MouthCrops:
    """Crop every clip of ``data_dir`` (its ``video/`` folder if it has one) and save to ``out``."""
    config = config or MouthRendererConfig()
    folder = data_dir / "video" if (data_dir / "video").is_dir() else data_dir
    groups = speaker_groups(folder.parent if folder.name == "video" else folder)
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    parts, names, group_names = [], [], []
    for path in paths:
        crops, outer, inner = clip_crops(path, config)
        log(f"{path.name}: {len(crops)} crops")
        if len(crops) == 0:
            continue
        parts.append((crops, outer, inner, np.full(len(crops), len(names), np.int32)))
        names.append(path.stem)
        group_names.append(groups.get(path.stem, path.stem))
    data = MouthCrops(
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        np.concatenate([p[3] for p in parts]),
        names,
        group_names,
    )
    data.save(out)
    return data
