"""Photo animation (issue 18): pose from the mesh, the PoseVAE's motion, blinks, the head renderer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkface.face.pose import HeadPose, euler_angles, fit_pose, rotation_matrix
from talkface.motion.head import HeadMotionModel


@pytest.fixture(scope="module")
def model() -> HeadMotionModel:
    return HeadMotionModel()


def test_pose_fit_recovers_a_known_rotation(model) -> None:
    """The canonical shape turned, scaled and shifted by a known pose is fitted back to it."""
    angles = np.array([4.0, -12.0, 7.0])
    points = 80 * model.canonical @ rotation_matrix(*angles).T + np.array([200.0, 150.0, 30.0])
    pose = fit_pose(points, model.canonical)
    assert isinstance(pose, HeadPose)
    np.testing.assert_allclose(pose.angles, angles, atol=1e-3)
    np.testing.assert_allclose(pose.scale, 80, rtol=1e-4)
    np.testing.assert_allclose(euler_angles(rotation_matrix(*angles)), angles, atol=1e-6)


def test_posevae_motion_is_seeded_and_does_not_drift(model) -> None:
    """60 s of speech: the same seed gives the same motion, another seed another one; the head
    stays within the range real speakers use (no drift: the last 20 s wander as the first do)."""
    rng = np.random.default_rng(5)
    t = np.arange(60 * 16000) / 16000
    samples = (
        0.3 * np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 2.5 * t) > 0)
        + 0.01 * rng.standard_normal(len(t))
    ).astype(np.float32)
    n = 60 * 25
    pose = model.pose(samples, n, 25.0, np.zeros(3), model.default_style, np.random.default_rng(1))
    again = model.pose(samples, n, 25.0, np.zeros(3), model.default_style, np.random.default_rng(1))
    other = model.pose(samples, n, 25.0, np.zeros(3), model.default_style, np.random.default_rng(2))
    assert pose.shape == (n, 6) and np.array_equal(pose, again) and not np.allclose(pose, other)
    np.testing.assert_allclose(pose[0], 0, atol=1e-6)  # starts at the photo's pose
    angles = pose[:, :3]
    assert angles.std(0).min() > 0.5 and np.abs(angles).max() < 25  # moves, within a real range
    first, last = angles[: 20 * 25], angles[-20 * 25 :]
    assert np.all(np.abs(last.mean(0)) < 2 * first.std(0) + 1)  # no drift away from the photo's pose
    assert np.all(last.std(0) < 3 * first.std(0) + 0.5)


def test_savgol_matches_scipy() -> None:
    """Our Savitzky-Golay smoothing (no scipy.signal import) gives scipy's ``mode="interp"`` output,
    edges included, and leaves a sequence too short for the polynomial as it is."""
    from scipy.signal import savgol_filter

    from talkface.motion.head import savgol

    x = np.cumsum(np.random.default_rng(3).standard_normal((300, 6)), 0)
    for window, order in ((13, 2), (9, 3), (5, 2)):
        np.testing.assert_allclose(
            savgol(x, window, order), savgol_filter(x, window, order, axis=0), atol=1e-9
        )
    short = x[:8]  # the window shrinks to 7 points
    np.testing.assert_allclose(savgol(short, 13, 2), savgol_filter(short, 7, 2, axis=0), atol=1e-9)
    assert np.array_equal(savgol(x[:2], 13, 2), x[:2])


def test_blinks_close_the_eye(model, astronaut) -> None:
    """A generated blink rate near the real speakers', and at a blink's middle the rendered eye is
    shut: the tracker reads the eyelid aperture at under 0.45 of the open eye's (about 0.1 of the
    eye's width; it reads 0.05-0.08 on real shut eyes, whose lashes it sees better)."""
    from talkface.face.landmarks import eye_aperture
    from talkface.face.track import FaceTracker
    from talkface.render.head import HeadRenderer

    blinks = model.blinks.track(60 * 25, 25.0, np.random.default_rng(0))
    starts = np.sum(np.diff((blinks[:, 0] > 0.5).astype(int)) == 1)
    assert 0.5 * model.blinks.per_minute <= starts <= 2 * model.blinks.per_minute
    rgb, mesh = astronaut
    renderer = HeadRenderer(rgb, mesh, model.canonical)
    shut = rgb.copy()
    renderer.render(shut, np.zeros(3), np.zeros(2), 1.0, np.ones(2))
    tracker = FaceTracker(static=True)
    try:
        open_eyes = eye_aperture(tracker(rgb).landmarks)
        closed = eye_aperture(tracker(shut).landmarks)
    finally:
        tracker.close()
    assert open_eyes.min() > 0.2 and np.all(closed < 0.45 * open_eyes) and closed.max() < 0.13, (
        open_eyes,
        closed,
    )
    # Away from the eyes (the mouth, the background) the picture is untouched.
    still = rgb.copy()
    renderer.render(still, np.zeros(3), np.zeros(2), 1.0, np.zeros(2))
    diff = np.abs(still.astype(int) - rgb)
    assert diff.mean() < 0.1 and diff.max() <= 8
    mouth = slice(int(mesh[13, 1]) - 10, int(mesh[14, 1]) + 10)
    assert np.abs(shut[mouth].astype(int) - rgb[mouth]).max() <= 2  # rounding of the blend


def test_head_turn_moves_the_face_not_the_background(model, astronaut) -> None:
    """A yaw of 8 degrees moves the nose sideways by about sin(8) x its depth in front of the
    head's pivot; the image's corners (background, shoulders) stay exactly as they were."""
    from talkface.face.track import FaceTracker
    from talkface.render.head import HeadRenderer

    rgb, mesh = astronaut
    renderer = HeadRenderer(rgb, mesh, model.canonical)
    turned = rgb.copy()
    renderer.render(turned, np.array([0.0, 8.0, 0.0]), np.zeros(2), 1.0, np.zeros(2))
    tracker = FaceTracker(static=True)
    try:
        moved = tracker(turned).landmarks
    finally:
        tracker.close()
    depth = renderer.pose.translation[2] - mesh[4, 2]  # the nose tip is in front of the pivot
    expected = -np.sin(np.radians(8)) * depth
    shift = moved[4, 0] - mesh[4, 0]
    assert abs(shift - expected) < 0.4 * abs(expected) + 1, (shift, expected)
    h, w = rgb.shape[:2]
    for corner in (np.s_[: h // 8, : w // 8], np.s_[: h // 8, -w // 8 :], np.s_[-h // 4 :, :]):
        assert np.array_equal(turned[corner], rgb[corner])


def test_still_and_reference_pose(tmp_path: Path, model, astronaut) -> None:
    """--still: no head motion; --ref-pose: the head follows a real clip's motion (its yaw curve,
    relative to its first frame)."""
    from talkface.animation import AnimationSettings, HeadAnimation
    from talkface.face.pose import pose_track
    from talkface.face.track import landmark_track
    from talkface.media.audio import Speech

    rgb, mesh = astronaut
    speech = Speech(samples=np.zeros(16000 * 3, np.float32))
    still = HeadAnimation(AnimationSettings(still=True))
    still.prepare(speech, 75, 25.0, rgb, mesh)
    assert not still.motion.pose.any() and still.motion.blink.any()

    clip = _shared_clip("edtalk_obama_20s_av_fixed.mp4")
    copied = HeadAnimation(AnimationSettings(ref_pose=clip))
    copied.prepare(speech, 75, 25.0, rgb, mesh)
    real = pose_track(landmark_track(clip, max_frames=75, depth=True), model.canonical)
    real_yaw = real[:, 1] - real[0, 1]
    assert np.corrcoef(copied.motion.pose[:, 1], real_yaw)[0, 1] > 0.9
    assert np.abs(copied.motion.pose[:, 1] - real_yaw).max() < 1.5


def test_camera_path_moves_through_the_angles_at_a_constant_speed() -> None:
    """SadTalker's --input_yaw: frame 0 at the first angle, the last frame at the last, every turn
    reached on the way, one speed throughout; one angle holds still."""
    from talkface.motion.head import camera_path

    path = camera_path([0, 15, -15, 0], 121)  # 60 degrees of travel over 120 steps
    assert path.shape == (121,) and path.dtype == np.float32
    assert path[0] == 0 and path[-1] == 0 and path.max() == 15 and path.min() == -15
    assert np.argmax(path) == 30 and np.argmin(path) == 90
    np.testing.assert_allclose(np.abs(np.diff(path)), 0.5, atol=1e-5)
    np.testing.assert_array_equal(camera_path([7.5], 10), np.full(10, 7.5, np.float32))
    np.testing.assert_array_equal(camera_path([3, 3], 4), np.full(4, 3, np.float32))


def test_input_yaw_turns_the_rendered_head(tmp_path: Path, model) -> None:
    """talkface.sync with --input-yaw 0 10 and --preprocess crop: a 512-pixel square around the
    face whose head, as the tracker fits it, turns steadily from the photo's yaw towards 10 degrees
    more, while pitch and roll stay still; asking crop of a video is one error."""
    import talkface
    from talkface.demo import demo_face
    from talkface.errors import TalkfaceError
    from talkface.face.pose import pose_track
    from talkface.face.track import landmark_track
    from talkface.media.video import FaceMedia

    out = tmp_path / "yaw.mp4"
    face = demo_face(tmp_path)
    talkface.sync(
        face,
        out,
        text="One, two, three.",
        input_yaw=(0, 10),
        preprocess="crop",
        still=True,
        no_blink=True,
        quiet=True,
    )
    media = FaceMedia(out)
    assert (media.width, media.height) == (512, 512)
    pose = pose_track(landmark_track(out, depth=True), model.canonical)
    yaw = pose[:, 1] - pose[0, 1]
    n = len(yaw)
    expected = np.linspace(0, 10, n)
    assert np.corrcoef(yaw, expected)[0, 1] > 0.95, yaw
    # The tracker reads 0.65-0.85 of a rendered yaw or pitch (a warp cannot hide the far cheek as a
    # real turn does), all of a roll.
    assert 5 < yaw[-5:].mean() < 12, yaw
    assert np.abs(pose[:, [0, 2]] - pose[0, [0, 2]]).max() < 4  # tracker noise as the mouth moves
    # The crop holds the whole face, centred.
    lm = landmark_track(out, max_frames=1)[0]
    assert lm[:, 0].min() > 100 and lm[:, 0].max() < 412 and lm[:, 1].min() > 60 and lm[:, 1].max() < 452
    video = tmp_path / "clip.mp4"
    out.rename(video)
    with pytest.raises(TalkfaceError, match="clip.mp4: preprocess crop frames a photo"):
        talkface.sync(video, tmp_path / "o.mp4", text="Hi.", preprocess="crop", quiet=True)
    assert not (tmp_path / "o.mp4").exists()


def test_angle_lists_and_preprocess_through_the_front_ends() -> None:
    """A list of angles from the command line and from form text; a bad one is one error."""
    from talkface.cli import build_parser
    from talkface.options import OptionError, SyncOptions, option_fields, parse_text

    args = build_parser().parse_args(
        [
            "sync",
            "--face",
            "f.png",
            "--text",
            "hi",
            "-o",
            "o.mp4",
            "--input-yaw",
            "-5",
            "5",
            "0",
            "--preprocess",
            "resize",
        ]
    )
    assert args.input_yaw == [-5.0, 5.0, 0.0] and args.preprocess == "resize"
    # SadTalker's spellings work too.
    sadtalker = ["--input_roll", "3", "--pose_style", "2", "--expression_scale", "0.5"]
    args = build_parser().parse_args(["sync", "--face", "f.png", "--text", "hi", "-o", "o.mp4", *sadtalker])
    assert (args.input_roll, args.pose_style, args.expression_scale) == ([3.0], 2, 0.5)
    field = {f.name: f for f in option_fields(SyncOptions)}["input_yaw"]
    assert parse_text(field, "-5, 5,0") == (-5.0, 5.0, 0.0)
    assert SyncOptions(input_yaw=[1, 2.5]).input_yaw == (1.0, 2.5)
    with pytest.raises(OptionError, match="input_yaw must be 1 to 32 angles in degrees from -20 to 20"):
        SyncOptions(input_yaw=(0, 45))
    with pytest.raises(OptionError, match="input_pitch: '0,a' is not a number"):
        parse_text({f.name: f for f in option_fields(SyncOptions)}["input_pitch"], "0,a")
    with pytest.raises(OptionError, match="unknown preprocess 'x'"):
        SyncOptions(preprocess="x")


def _shared_clip(name: str) -> Path:
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video" / name
    if not path.is_file():
        pytest.skip(f"needs the shared clip {path} (../shared/data is absent)")
    return path


def test_a_corrupt_or_missing_model_file_is_one_error(tmp_path: Path) -> None:
    """The head-motion and expression models refuse a file that is not theirs, naming it."""
    from talkface.errors import TalkfaceError
    from talkface.motion.expression import ExpressionModel

    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    for cls, what in ((HeadMotionModel, "a head-motion model"), (ExpressionModel, "an expression model")):
        with pytest.raises(TalkfaceError, match=f"junk.pt: not {what} \\("):
            cls(junk)
        with pytest.raises(TalkfaceError, match="none.pt: no such"):
            cls(tmp_path / "none.pt")
