"""Mouth appearance without time (talkface.evaluation.appearance), on the bundled astronaut."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from talkface.demo import demo_face
from talkface.evaluation.appearance import MAX_STRIPS, STRIP, StripSample, appearance_score, mouth_strip
from talkface.face.landmarks import LOWER_INNER, UPPER_INNER, mouth_width
from talkface.face.track import FaceTracker
from talkface.render.warp import WarpRenderer


@pytest.fixture(scope="module")
def real_mouths(tmp_path_factory) -> list[tuple[np.ndarray, np.ndarray]]:
    """30 frames of the astronaut whose mouth opens and closes (the warp), each with its own landmarks."""
    path = demo_face(tmp_path_factory.mktemp("demo"))
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    tracker = FaceTracker(static=True)
    try:
        lm = tracker(rgb).landmarks
        renderer = WarpRenderer()
        out = []
        for i in range(30):
            aperture = 0.12 + 0.1 * np.sin(i / 3)
            frame, _ = renderer.render(rgb, lm, aperture, float(mouth_width(lm)))
            out.append((frame, tracker(frame).landmarks))
    finally:
        tracker.close()
    return out


def sample(frames) -> StripSample:
    s = StripSample()
    for rgb, lm in frames:
        s.add(mouth_strip(rgb, lm))
    return s


def test_a_real_mouth_scores_low_and_a_painted_one_high(real_mouths) -> None:
    real = sample(real_mouths)
    assert real.array().shape == (30, STRIP[0] * STRIP[1] * 3)
    shuffled = sample(real_mouths[::-1])  # the same mouths at other moments
    assert appearance_score(shuffled, real).ratio < 0.05
    painted = []
    for rgb, lm in real_mouths:
        flat = rgb.copy()
        inner = np.concatenate([lm[UPPER_INNER], lm[LOWER_INNER][::-1]]).astype(np.int32)
        cv2.fillPoly(flat, [inner], (200, 200, 200))  # a flat grey band for teeth
        painted.append((flat, lm))
    score = appearance_score(sample(painted), real)
    assert score.ratio > 2 and score.ratio > 20 * appearance_score(shuffled, real).ratio
    blurred = [(cv2.GaussianBlur(rgb, (0, 0), 3), lm) for rgb, lm in real_mouths]
    assert appearance_score(sample(blurred), real).sharpness_ratio < 0.5


def test_strips_stay_bounded_and_spread(real_mouths) -> None:
    s = StripSample()
    strip = mouth_strip(*real_mouths[0])
    for i in range(5 * MAX_STRIPS):
        s.add(None if i % 7 == 0 else strip)
    assert len(s.strips) < MAX_STRIPS and s.frames[-1] > 4 * MAX_STRIPS
    assert appearance_score(StripSample(), s) is None
