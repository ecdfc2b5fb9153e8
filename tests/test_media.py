"""Video decoding: the fast I420 path is exact and the inverse of the encoder's colour conversion; the
output carries all of the speech."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest
from conftest import data_file

from talkface.media.audio import SAMPLE_RATE
from talkface.media.frame import I420Frame, crop_square
from talkface.media.video import FaceMedia, _is_bt601_i420, i420_array
from talkface.media.writer import yuv420p_frame


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


def test_i420_frames_regions_and_paste_back_on_a_real_clip() -> None:
    media = FaceMedia(data_file("video/grid_brbk7n.mpg"))  # 360x288, yuv420p
    frame = next(media.i420_frames())
    rgb = next(media.frames())
    assert (frame.height, frame.width) == rgb.shape[:2] == (288, 360)
    assert np.array_equal(frame.rgb()[0], rgb)
    # A region is widened to even pixels and converts exactly as the whole frame does, but for
    # the chroma rounding OpenCV applies at a region's edge (at most 1 level).
    region, box = frame.rgb((101, 51, 250, 199))
    assert box == (100, 50, 250, 200)
    assert np.abs(region.astype(int) - rgb[50:200, 100:250]).max() <= 1
    assert frame.rgb((-20, -20, 1000, 1000))[1] == (0, 0, 360, 288)
    # Blending a patch (at odd pixels): luma changes only where alpha > 0, chroma only in the
    # 2x2 blocks holding such a pixel, and where alpha is 1 the frame takes the patch's colour.
    edited = frame.copy()
    alpha = np.zeros((71, 99), np.float32)
    alpha[10:50, 20:80] = 1.0
    alpha[50:60, 20:80] = np.linspace(1, 0, 10, dtype=np.float32)[:, None]  # a soft edge
    edited.blend_rgb(101, 51, np.full((71, 99, 3), (250, 20, 20), np.uint8), alpha)
    y0, u0, v0 = frame.planes()
    y1, u1, v1 = edited.planes()
    full = np.zeros(y0.shape, bool)
    full[51:122, 101:200] = alpha > 0
    assert np.array_equal(y0[~full], y1[~full]) and not np.array_equal(y0[full], y1[full])
    blocks = full.reshape(144, 2, 180, 2).any(axis=(1, 3))
    assert np.array_equal(u0[~blocks], u1[~blocks]) and np.array_equal(v0[~blocks], v1[~blocks])
    red = edited.rgb()[0][62:100, 122:180].astype(int)  # inside alpha == 1, away from its edge
    assert np.abs(red - (250, 20, 20)).max() <= 3
    with pytest.raises(ValueError):
        edited.blend_rgb(300, 250, np.zeros((71, 99, 3), np.uint8), alpha)  # leaves the frame
    # The encoder's frame holds the same planes.
    assert np.array_equal(yuv420p_frame(frame).to_ndarray(), frame.data)


def test_i420_crop_matches_the_rgb_crop_even_past_the_frame_edge() -> None:
    media = FaceMedia(data_file("video/grid_brbk7n.mpg"))
    frame, rgb = next(media.i420_frames()), next(media.frames())
    for x0, y0, side in ((80, 20, 200), (-60, -40, 300), (250, 150, 180)):
        a, sq_a = crop_square(frame, x0, y0, side, 128)
        b, sq_b = crop_square(rgb, x0, y0, side, 128)
        assert sq_a == sq_b  # even corners and side: no rounding
        # Chroma is scaled at half resolution: small differences on colour edges only.
        assert np.abs(a.astype(int) - b).mean() < 1.5
    assert crop_square(frame, 81, 21, 201, 128)[1] == (80, 20, 200)


def test_i420_frame_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError):
        I420Frame(np.zeros((100, 100), np.uint8))  # rows not 1.5 x an even height
    with pytest.raises(ValueError):
        I420Frame(np.zeros((150, 101), np.uint8))  # odd width
    assert I420Frame.from_rgb(np.zeros((101, 99, 3), np.uint8)).shape == (100, 98, 3)


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


@pytest.mark.parametrize(("rate", "seconds"), [(8000, 7.93), (8000, 8.0), (16000, 4.51), (44100, 3.3)])
def test_the_output_carries_all_of_the_speech(tmp_path, rate, seconds) -> None:
    """Up to its last sample, also the last AAC frame's worth (up to 128 ms at 8 kHz) that was lost."""
    from talkface.media.audio import Speech, load_audio, resample, save_wav
    from talkface.media.writer import VideoWriter

    speech = np.tile(load_audio(data_file("audio/es_dreamtalk_spanish1.wav")), 3)
    hop = SAMPLE_RATE // 50
    loud = np.sqrt(np.convolve(speech**2, np.ones(hop) / hop, "valid"))
    end = int(np.argmax(loud[int(seconds * SAMPLE_RATE) :])) + int(seconds * SAMPLE_RATE) + hop  # voiced end
    clip = resample(speech[end - int(seconds * SAMPLE_RATE) : end], SAMPLE_RATE, rate)
    wav = save_wav(tmp_path / "speech.wav", clip, rate)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, 64, 64, 25, Speech(load_audio(wav), source=wav)) as writer:
        for _ in range(round(seconds * 25)):
            writer.write(np.zeros((64, 64, 3), np.uint8))
        writer.close()
    with av.open(str(out)) as c:
        stream = c.streams.audio[0]
        assert abs(float(stream.duration * stream.time_base) - len(clip) / rate) < 1e-3
        decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(stream)])
    tail = rate // 10  # the last 100 ms, voiced, as decoded (the decoder skips the AAC priming)
    got, want = decoded[len(clip) - tail : len(clip)], clip[-tail:]
    assert np.sqrt((want**2).mean()) > 0.01, "the clip should end in speech"
    assert np.corrcoef(got, want)[0, 1] > 0.9
