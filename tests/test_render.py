"""The warp renderer on real faces: it reaches the target mouth shape and touches nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import data_file, read_frames

from talkface.face.landmarks import mouth_aperture, mouth_width
from talkface.face.quiet import native_stderr_silenced
from talkface.face.track import FaceTracker
from talkface.media.video import FaceMedia
from talkface.render.warp import WarpRenderer


def _landmarks(rgb: np.ndarray) -> np.ndarray:
    with native_stderr_silenced():
        tracker = FaceTracker(static=True)
        lm = tracker(rgb).landmarks
        tracker.close()
    assert lm is not None
    return lm


@pytest.mark.parametrize("name", ["image/elizabeth_olsen_hallo.jpg", "image/man_geneface_vd025.png"])
def test_warp_reaches_target_aperture_and_keeps_other_pixels(name: str) -> None:
    rgb = next(FaceMedia(data_file(name)).frames())
    lm = _landmarks(rgb)
    renderer = WarpRenderer()
    measured = []
    for target in (0.0, 0.1, 0.2):
        out, mask = renderer.render(rgb, lm, target, float(mouth_width(lm)))
        assert np.array_equal(out[~mask], rgb[~mask]), "pixels outside the mouth mask changed"
        assert 0 < mask.mean() < 0.5
        measured.append(float(mouth_aperture(_landmarks(out))))
    assert measured[0] < 0.04
    assert measured[1] > measured[0] + 0.05 and measured[2] > measured[1] + 0.05
    assert abs(measured[2] - 0.2) < 0.07


def test_warp_closes_an_open_mouth() -> None:
    frames = read_frames(data_file("video/hdtf_katiehill_WDA_000.mp4"))
    apertures = []
    for rgb in frames[::10]:
        apertures.append((float(mouth_aperture(_landmarks(rgb))), rgb))
    ap, rgb = max(apertures, key=lambda t: t[0])
    assert ap > 0.15
    out, _ = WarpRenderer().render(rgb, _landmarks(rgb), 0.0, float(mouth_width(_landmarks(rgb))))
    assert mouth_aperture(_landmarks(out)) < 0.5 * ap
