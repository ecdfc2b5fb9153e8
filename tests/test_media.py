"""Video decoding: the fast I420 path is exact and the inverse of the encoder's colour conversion."""

from __future__ import annotations

import av
import cv2
import numpy as np
from conftest import data_file

from talkface.media.video import FaceMedia, _is_bt601_i420, i420_array


def test_i420_planes_and_round_trip() -> None:
    clip = data_file("video/hdtf_katiehill_WDA_000.mp4")  # yuv420p, untagged (BT.601)
    with av.open(str(clip)) as c:
        frame = next(c.decode(video=0))
    assert _is_bt601_i420(frame)
    yuv = i420_array(frame)
    assert np.array_equal(yuv, frame.to_ndarray())  # PyAV's own I420 layout
    rgb = next(FaceMedia(clip).frames())
    assert np.array_equal(rgb, cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420))
    back = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)  # what the encoder does to an untouched frame
    assert np.abs(back.astype(int) - yuv).mean() < 0.05


def test_tagged_or_full_range_frames_use_swscale() -> None:
    clip = data_file("video/edtalk_hdtf_ted_lieu_60s.mp4")  # yuvj420p: full range
    with av.open(str(clip)) as c:
        frame = next(c.decode(video=0))
    assert not _is_bt601_i420(frame)
    rgb = next(FaceMedia(clip).frames())
    assert np.array_equal(rgb, frame.to_ndarray(format="rgb24"))


def test_smooth_frame_equals_gaussian_filter_of_its_run() -> None:
    from scipy.ndimage import gaussian_filter1d

    from talkface.face.smooth import bridge_gaps, smooth_frame

    rng = np.random.default_rng(0)
    track = [rng.normal(size=(478, 2)).astype(np.float32) for _ in range(30)]
    track[12] = track[20] = None  # gaps split the track into runs that are smoothed apart
    present = np.ones(30, bool)
    present[20] = False  # frame 12 is bridged (face present, mesh missed); frame 20 stays empty
    bridged = bridge_gaps(track, present)
    assert bridged[12] is not None and bridged[20] is None
    runs = [(0, 20), (21, 30)]
    for lo, hi in runs:
        expected = gaussian_filter1d(np.stack(bridged[lo:hi]), 1.0, axis=0, mode="nearest")
        for j in range(lo, hi):
            assert np.allclose(smooth_frame(bridged, j, 1.0), expected[j - lo], atol=1e-5)
    assert smooth_frame(bridged, 20, 1.0) is None
    assert smooth_frame(bridged, 5, 0.0) is bridged[5]
