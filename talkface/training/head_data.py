"""Head tracks of real talking clips: the mesh with depth of every frame, for the head-motion
models (canonical shape, expression basis, PoseVAE, ExpNet, blinks; ``talkface train head``).

Each clip is tracked once (:func:`~talkface.face.track.landmark_track` with depth) and cached as
``<stem>.npz`` (meshes as float16 pixels, the frame rate, the speaker group of the manifest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkface.errors import TalkfaceError
from talkface.media.atomic import save_npz_atomic
from talkface.training.motion_clips import EXCLUDED_CLIPS, clip_paths, speaker_groups

HEAD_CACHE_VERSION = 1


@dataclass
class HeadClip:
    """One tracked clip.

    Attributes:
        name: file stem.
        group: speaker group (clips of one person share it; :func:`speaker_groups`).
        meshes: ``(n, 478, 3)`` float32 pixel landmarks with depth, NaN rows where no face.
        fps: frames per second.
        path: the media file (its audio is read again when features are made).
    """

    name: str
    group: str
    meshes: np.ndarray
    fps: float
    path: Path

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return len(self.meshes) / self.fps


def track_clip(path: Path, group: str) -> HeadClip:
    """Track one clip's face with depth.

    Raises:
        TalkfaceError: unreadable media, or no face in any frame.
    """
    from talkface.face.track import landmark_track
    from talkface.media.video import FaceMedia

    media = FaceMedia(path)
    meshes = landmark_track(media, depth=True)
    if np.isnan(meshes).any((1, 2)).all():
        raise TalkfaceError("no face found in any frame", path)
    return HeadClip(path.stem, group, meshes, media.fps, path)


def load_head_clips(
    data_dir: Path,
    cache: Path | None = None,
    log: Callable[[str], None] = print,
    exclude: Path = EXCLUDED_CLIPS,
) -> list[HeadClip]:
    """Every talking clip of ``data_dir`` (minus ``exclude``), tracked, cached in ``cache``.

    Raises:
        TalkfaceError: no clips, or a clip that cannot be read.
    """
    groups = speaker_groups(data_dir)
    clips = []
    for path in clip_paths(data_dir, exclude):
        group = groups.get(path.stem, path.stem)
        cached = cache / f"{path.stem}.npz" if cache is not None else None
        if cached is not None and cached.is_file():
            with np.load(cached) as z:
                if int(z["version"]) == HEAD_CACHE_VERSION:
                    clips.append(
                        HeadClip(path.stem, group, z["meshes"].astype(np.float32), float(z["fps"]), path)
                    )
                    continue
        log(f"tracking {path.name}")
        clip = track_clip(path, group)
        if cached is not None:
            cache.mkdir(parents=True, exist_ok=True)
            save_npz_atomic(
                cached, meshes=clip.meshes.astype(np.float16), fps=clip.fps, version=HEAD_CACHE_VERSION
            )
        clips.append(clip)
    return clips
