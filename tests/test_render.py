"""The warp renderer on real faces: it reaches the target mouth shape and touches nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import data_file, read_frames

from talkface.face.landmarks import mouth_aperture, mouth_width
from talkface.face.quiet import native_stderr_silenced
from talkface.face.track import FaceTracker
from talkface.media.frame import I420Frame
from talkface.media.video import FaceMedia
from talkface.render.mouth_learned import OPENING_REFERENCE
from talkface.render.warp import PaintedCalibration, WarpRenderer


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


@pytest.mark.parametrize("name", ["video/grid_brbk7n.mpg", "image/woman_happy_sadtalker.png"])
def test_warp_on_i420_frames_matches_rgb_and_keeps_decoded_values(name: str) -> None:
    media = FaceMedia(data_file(name))
    frame = next(media.i420_frames())
    rgb = frame.rgb()[0]
    lm = _landmarks(rgb)
    for target in (0.0, 0.25):
        expected, mask = WarpRenderer().render(rgb, lm, target, float(mouth_width(lm)), 0.3)
        out = frame.copy()
        WarpRenderer().render_i420(out, lm, target, float(mouth_width(lm)), 0.3)
        # The same picture as rendering in RGB and encoding it (to 4:2:0) ...
        got, want = out.rgb()[0].astype(int), I420Frame.from_rgb(expected).rgb()[0].astype(int)
        assert np.abs(got - want).mean() < 0.1 and np.percentile(np.abs(got - want), 99.5) <= 2
        # ... and outside the mask the frame keeps its decoded planes exactly.
        y0, u0, v0 = frame.planes()
        y1, u1, v1 = out.planes()
        assert np.array_equal(y0[~mask], y1[~mask]) and not np.array_equal(y0, y1)
        h, w = mask.shape
        blocks = mask.reshape(h // 2, 2, w // 2, 2).any(axis=(1, 3))
        assert np.array_equal(u0[~blocks], u1[~blocks]) and np.array_equal(v0[~blocks], v1[~blocks])


def test_landmarks_read_from_wire_bytes_equal_the_slow_path() -> None:
    from talkface.face.track import import_mediapipe, landmark_array

    with native_stderr_silenced():
        mesh = import_mediapipe().solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True)
        found = mesh.process(next(FaceMedia(data_file("video/grid_brbk7n.mpg")).frames()))
        mesh.close()
    points = found.multi_face_landmarks[0]
    slow = np.array([(p.x, p.y) for p in points.landmark], np.float32)
    assert slow.shape == (478, 2) and np.array_equal(landmark_array(points), slow)
    points.landmark[7].visibility = 0.5  # another layout: read point by point
    assert np.array_equal(landmark_array(points), slow)


def test_warp_closes_an_open_mouth() -> None:
    frames = read_frames(data_file("video/hdtf_katiehill_WDA_000.mp4"))
    apertures = []
    for rgb in frames[::10]:
        apertures.append((float(mouth_aperture(_landmarks(rgb))), rgb))
    ap, rgb = max(apertures, key=lambda t: t[0])
    assert ap > 0.15
    out, _ = WarpRenderer().render(rgb, _landmarks(rgb), 0.0, float(mouth_width(_landmarks(rgb))))
    assert mouth_aperture(_landmarks(out)) < 0.5 * ap


@pytest.mark.parametrize("name", ["image/elizabeth_olsen_hallo.jpg", "image/man_geneface_vd025.png"])
def test_painted_opening_of_a_closed_mouth_reads_its_target(name: str) -> None:
    """Painted teeth between parted lips read wider than the lips part (by 0.03 IOD on these
    portraits): calibrated on the face, the painted mouth reads as open as the target."""
    rgb = next(FaceMedia(data_file(name)).frames())
    lm = _landmarks(rgb)
    assert mouth_aperture(lm) < 0.01, "the test needs a closed-mouth portrait"
    renderer = WarpRenderer(read_landmarks=_landmarks)
    for target in (0.05, 0.1, 0.15):
        out, _ = renderer.render(rgb, lm, target, float(mouth_width(lm)))
        assert abs(float(mouth_aperture(_landmarks(out))) - target) < 0.02
    assert renderer.calibration is not None and renderer.choices["painted"] == 3


def test_painted_calibration_inverts_the_reading_and_fades_with_an_open_mouth() -> None:
    calibration = PaintedCalibration(np.array([0.0, 0.05, 0.1, 0.2]), np.array([0.005, 0.09, 0.13, 0.24]))
    assert calibration.parting(0.09, 0.0) == pytest.approx(0.05)
    assert calibration.parting(0.185, 0.0) == pytest.approx(0.15)
    assert calibration.parting(0.34, 0.0) == pytest.approx(0.30)  # beyond the last point: its offset
    assert calibration.parting(0.002, 0.0) == 0.0
    assert calibration.parting(0.09, OPENING_REFERENCE) == pytest.approx(0.09)  # its own interior shows
    assert calibration.parting(0.09, OPENING_REFERENCE / 2) == pytest.approx(0.07)
