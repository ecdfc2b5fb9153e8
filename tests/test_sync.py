"""End to end on real clips: length, frame rate, size, audio, untouched pixels, faceless frames."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import data_file, probe, read_frames, write_video

import talkface
from talkface.evaluation.mouth import mouth_track
from talkface.media.audio import SAMPLE_RATE, load_audio, save_wav
from talkface.pipeline import frame_schedule


def test_video_with_its_own_speech(tmp_path) -> None:
    clip = data_file("video/grid_brbk7n.mpg")
    out = tmp_path / "out.mp4"
    result = talkface.sync(clip, out, audio=clip, quiet=True)
    info = probe(out)
    speech_s = len(load_audio(clip)) / SAMPLE_RATE
    assert (info["width"], info["height"]) == (360, 288)
    assert info["fps"] == pytest.approx(25.0)
    assert abs(info["frames"] / info["fps"] - speech_s) <= 1 / 25 + 1e-6
    assert info["audio_rate"] == 44100, "speech must be muxed at its own rate, not 16 kHz"
    assert abs(info["audio_seconds"] - speech_s) < 0.05
    assert result.faces == result.frames == info["frames"]
    # Above the nose nothing is rendered: only codec noise may differ.
    src, dst = read_frames(clip), read_frames(out)
    diff = [np.abs(a[:110].astype(int) - b[:110].astype(int)).mean() for a, b in zip(src, dst, strict=False)]
    assert max(diff) < 3.0


def test_photo_with_longer_audio_and_default_fps(tmp_path) -> None:
    out = tmp_path / "photo.mp4"
    audio = data_file("audio/es_dreamtalk_spanish1.wav")
    talkface.sync(data_file("image/woman_happy_sadtalker.png"), out, audio=audio, quiet=True)
    info = probe(out)
    assert (info["width"], info["height"], info["fps"]) == (256, 256, 25.0)
    assert abs(info["frames"] / 25 - 4.51) <= 1 / 25 + 0.01


def test_mouth_follows_speech_and_closes_in_pause(tmp_path) -> None:
    from talkface.speech.tts import synthesize

    first, rate, _ = synthesize("Good morning everybody, how are you today?")
    second, _, _ = synthesize("We are here to talk about the weather.")
    pcm = np.concatenate([first, np.zeros(rate, np.float32), second])  # a 1 s pause in the middle
    wav = save_wav(tmp_path / "speech.wav", pcm, rate)
    out = tmp_path / "tts.mp4"
    talkface.sync(data_file("image/elizabeth_olsen_hallo.jpg"), out, audio=wav, quiet=True)
    ap = mouth_track(out).aperture
    assert ap.std() > 0.03, "the mouth barely moves"
    assert ap.max() > 0.12
    pause = slice(int(len(first) / rate * 25) + 5, int((len(first) / rate + 1) * 25) - 5)
    assert ap[pause].max() < 0.03, "mouth does not close in the pause"
    assert ap[: pause.start].max() > 0.1 and ap[pause.stop :].max() > 0.1


def test_short_video_is_ping_ponged_and_faceless_frames_pass_through(tmp_path) -> None:
    src = read_frames(data_file("video/lrs2_00008.mp4"))[:40]
    blank = [np.full_like(src[0], 90) for _ in range(5)]
    frames = src[:20] + blank + src[20:]
    speech = load_audio(data_file("audio/es_dreamtalk_spanish1.wav"))  # 4.5 s > 1.8 s of video
    face = write_video(tmp_path / "face.mp4", frames, audio=None)
    out = tmp_path / "out.mp4"
    result = talkface.sync(face, out, audio=data_file("audio/es_dreamtalk_spanish1.wav"), quiet=True)
    n_out = round(len(speech) / SAMPLE_RATE * 25)
    assert result.frames == n_out
    schedule = frame_schedule(len(frames), n_out)
    blanks = np.isin(schedule, range(20, 25))
    assert result.frames - result.faces == blanks.sum()
    dst, decoded = read_frames(out), read_frames(face)
    for i in np.flatnonzero(blanks):  # only H.264 re-encoding noise may differ
        err = np.abs(dst[i].astype(int) - decoded[schedule[i]])
        assert err.mean() < 1.5 and np.percentile(err, 99) <= 6, f"faceless frame {i} was altered"


def test_frame_schedule_pingpong_and_loop() -> None:
    assert frame_schedule(3, 8).tolist() == [0, 1, 2, 1, 0, 1, 2, 1]
    assert frame_schedule(3, 8, loop=True).tolist() == [0, 1, 2, 0, 1, 2, 0, 1]
    assert frame_schedule(10, 4).tolist() == [0, 1, 2, 3]


def test_largest_of_several_faces_is_animated(tmp_path) -> None:
    import cv2

    small = cv2.resize(read_frames(data_file("image/woman_happy_sadtalker.png"))[0], (128, 128))
    large = read_frames(data_file("image/chalamet_dreamtalk_f30.png"))[0]
    canvas = np.full((256, 448, 3), 200, np.uint8)
    canvas[64:192, 16:144] = small
    canvas[:, 176:432] = large
    photo = tmp_path / "two_faces.png"
    cv2.imwrite(str(photo), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    out = tmp_path / "out.mp4"
    talkface.sync(photo, out, audio=data_file("audio/es_dreamtalk_spanish1.wav"), quiet=True)
    frames = np.stack(read_frames(out)).astype(int)
    change = np.abs(frames - canvas).mean(axis=(0, 3))  # mean change per pixel over the video
    small_face = change[64:192, 16:144].mean()  # only codec noise
    large_mouth = change[150:230, 240:370].mean()
    assert small_face < 3, "the small face was changed"
    assert large_mouth > 4 * small_face, "the large face was not animated"


@pytest.mark.parametrize("turn", [90, -90, 180])
def test_a_rotated_phone_video_comes_out_upright(tmp_path, turn) -> None:
    """Frames stored turned, with a display matrix saying how to show them (as phones write)."""
    import av
    import cv2

    clip = data_file("video/grid_brbk7n.mpg")
    upright = read_frames(clip)
    # Stored so that turning it `turn` degrees counterclockwise, as the matrix says, shows it upright.
    store = {90: cv2.ROTATE_90_CLOCKWISE, -90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180}[turn]
    rotated = tmp_path / "phone.mp4"
    with av.open(str(rotated), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.height, v.width = cv2.rotate(upright[0], store).shape[:2]
        v.pix_fmt, v.options = "yuv420p", {"crf": "12"}
        v.set_display_rotation(turn)
        for i, f in enumerate(upright):
            frame = av.VideoFrame.from_ndarray(cv2.rotate(f, store), format="rgb24")
            frame.pts = i
            c.mux(v.encode(frame))
        c.mux(v.encode(None))
    out = tmp_path / "out.mp4"
    result = talkface.sync(rotated, out, audio=clip, quiet=True)
    info = probe(out)
    assert (info["width"], info["height"]) == (360, 288)  # the display orientation
    assert result.faces == result.frames
    dst = read_frames(out)
    diff = [
        np.abs(a[:110].astype(int) - b[:110].astype(int)).mean() for a, b in zip(upright, dst, strict=False)
    ]
    assert max(diff) < 3.0  # upright, and above the nose the input's own pixels


def test_landmarks_spilled_to_disk_come_back(tmp_path) -> None:
    from talkface.media.spill import LandmarkStore

    store = LandmarkStore()
    rng = np.random.default_rng(0)
    kept = [None if i % 3 == 1 else rng.random((478, 2)).astype(np.float32) for i in range(10)]
    for lm in kept:
        store.append(lm)
    assert len(store) == 10 and store.faces == 7
    for i, lm in enumerate(kept):
        assert (store[i] is None) if lm is None else np.array_equal(store[i], lm)
    store.close()
