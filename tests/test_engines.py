"""The engine seam: every registered engine keeps the contract, a new engine needs one module and one
registry line to reach the CLI, the web form, the API schema and the page, and the bundled demo runs
end to end without ../shared/data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from conftest import read_frames, write_video

import talkface
from talkface.cli import _engine_options, build_parser
from talkface.demo import demo_face
from talkface.engines import EngineSpec, Rendered
from talkface.engines.registry import ENGINES, build_engine, engine_options, register
from talkface.face.landmarks import LIPS
from talkface.face.track import FaceTracker
from talkface.media.audio import SAMPLE_RATE, Speech
from talkface.media.frame import I420Frame
from talkface.models.checkpoint import save_checkpoint
from talkface.models.hyperlips import HRDecoder, HyperLipsBase, HyperLipsConfig
from talkface.models.wav2lip import Wav2Lip, Wav2LipConfig
from talkface.options import EngineOptions, OptionError, SyncOptions, option
from talkface.web.config import ServeConfig
from talkface.web.uploads import RequestError, option_field_names, parse_options

FPS = 25.0


def landmarks_of(rgb: np.ndarray) -> np.ndarray:
    """The ``(478, 2)`` landmarks of the face in a still picture."""
    tracker = FaceTracker(static=True)
    try:
        lm = tracker(rgb).landmarks
    finally:
        tracker.close()
    assert lm is not None
    return lm


@pytest.fixture(scope="module")
def face(tmp_path_factory) -> tuple[np.ndarray, np.ndarray]:
    """The bundled astronaut portrait (RGB) and its landmarks: no shared data needed."""
    path = demo_face(tmp_path_factory.mktemp("demo"))
    import cv2

    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    return rgb, landmarks_of(rgb)


@pytest.fixture(scope="module")
def wav2lip_checkpoint(tmp_path_factory) -> dict[str, Path]:
    """Narrow random weights for the engines that need them, by engine and option."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("weights")
    narrow = HyperLipsConfig(width=0.25, rescaling=2)
    return {
        "wav2lip": {"checkpoint": save_checkpoint(folder / "w2l.pth", Wav2Lip(Wav2LipConfig(width=0.25)))},
        "hyperlips": {
            "checkpoint": save_checkpoint(folder / "hl.pth", HyperLipsBase(narrow)),
            "hr_checkpoint": save_checkpoint(folder / "hr.pth", HRDecoder(2, narrow)),
        },
    }


def contract_options(name: str, weights: dict[str, dict[str, Path]]) -> EngineOptions:
    """Options that build engine ``name`` here (weights it needs come from the fixtures)."""
    if name in weights:
        return engine_options(name, **weights[name], accelerate="none")
    return engine_options(name)


def serve_config(options: EngineOptions) -> ServeConfig:
    """A server that offers the weights of ``options``."""
    if options.engine == "hyperlips":
        return ServeConfig(
            hyperlips_checkpoint=options.checkpoint, hyperlips_hr_checkpoint=options.hr_checkpoint
        )
    return ServeConfig(checkpoint=getattr(options, "checkpoint", None))


def speech(seconds: float = 1.2) -> Speech:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tone = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return Speech(samples=tone.astype(np.float32))


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_every_engine_keeps_the_contract(name, face, wav2lip_checkpoint) -> None:
    rgb, lm = face
    engine = build_engine(contract_options(name, wav2lip_checkpoint))
    n = 20
    engine.prepare(speech(), n, FPS)
    faceless = {3, 11}
    sent: list[np.ndarray] = []
    done: list[Rendered] = []
    for i in range(n):
        frame = I420Frame.from_rgb(rgb) if i % 2 else rgb.copy()
        sent.append(frame.rgb()[0] if isinstance(frame, I420Frame) else frame.copy())
        done += engine.submit(i, frame, None if i in faceless else lm)
    held = engine.flush()
    done += held
    assert engine.flush() == []  # nothing is held twice
    # Every frame comes back once, in order, and the faceless ones unchanged.
    assert len(done) == n
    assert [r for _, r in done] == [i not in faceless for i in range(n)]
    for i, (frame, _) in enumerate(done):
        out = frame.rgb()[0] if isinstance(frame, I420Frame) else frame
        assert out.shape == rgb.shape
        if i in faceless:
            assert np.array_equal(out, sent[i])
    # A rendered frame differs from its input around the mouth, and only in the lower face.
    frame, _ = done[10]
    out = frame.rgb()[0] if isinstance(frame, I420Frame) else frame
    changed = np.abs(out.astype(int) - sent[10].astype(int)).max(2) > 8
    assert changed.any()
    ys = np.nonzero(changed)[0]
    assert ys.min() > lm[:, 1].min()  # nothing above the top of the face mesh changed


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_options_round_trip_through_cli_and_form(name, wav2lip_checkpoint) -> None:
    options = contract_options(name, wav2lip_checkpoint)
    spec = ENGINES[name]
    argv = ["sync", "--face", "f.png", "--text", "hi", "-o", "o.mp4", "--engine", name]
    fields = {"engine": name}
    from talkface.options import option_fields

    for f in option_fields(spec.options):
        value = getattr(options, f.name)
        if value is None:
            continue
        if f.kind == "pixels":
            argv += [f.flag, *map(str, value)]
            fields[f.name] = ",".join(map(str, value))
        elif f.kind == "bool":
            argv += [f.flag] if value else []
            fields[f.name] = str(value)
        else:
            argv += [f.flag, str(value)]
            fields[f.name] = str(value)
    assert _engine_options(build_parser().parse_args(argv)) == options
    config = serve_config(options)
    web = {k: v for k, v in fields.items() if k in option_field_names()}
    parsed = parse_options(web, config)["engine"]
    # What a client may set comes through; the rest is the server's (its weights) or the default.
    assert type(parsed) is type(options)
    for f in option_fields(spec.options):
        expected = getattr(options, f.name) if f.spec.web or f.kind == "path" else f.default
        assert getattr(parsed, f.name) == expected, f.name


def test_a_bad_or_missing_option_is_one_error() -> None:
    with pytest.raises(OptionError, match="the wav2lip engine needs --checkpoint"):
        engine_options("wav2lip")
    with pytest.raises(OptionError, match="unknown motion 'x'"):
        engine_options("warp", motion="x")
    with pytest.raises(OptionError, match="pads is not an option of the toy engine|unknown engine"):
        engine_options("toy", pads=(0, 0, 0, 0))
    with pytest.raises(OptionError, match="resize_factor must be a whole number from 1 to 8"):
        SyncOptions(resize_factor=9)
    # Zero pads can be asked of either engine (no sentinel).
    assert engine_options("wav2lip", checkpoint="w.pth", pads=(0, 0, 0, 0)).pads == (0, 0, 0, 0)


# -- a toy engine: one module's worth of code and one registry line ------------------------------


@dataclass(frozen=True)
class ToyOptions(EngineOptions):
    """Options of the toy engine."""

    engine: ClassVar[str] = "toy"
    strength: int = option(200, "grey level painted over the lips", range=(0, 255), label="Lip grey")
    outline: bool = option(False, "paint the lip outline only")


class ToyEngine:
    """Paints the lips grey: rendered frames are easy to recognise."""

    def __init__(self, options: ToyOptions) -> None:
        self.options = options

    def prepare(self, speech: Speech, n_frames: int, fps: float) -> None:
        self.n_frames = n_frames

    def submit(self, index: int, frame, landmarks) -> list[Rendered]:
        if landmarks is None:
            return [(frame, False)]
        rgb = frame.rgb()[0] if isinstance(frame, I420Frame) else frame
        x0, y0 = np.floor(landmarks[LIPS].min(0)).astype(int)
        x1, y1 = np.ceil(landmarks[LIPS].max(0)).astype(int)
        rgb[y0:y1, x0:x1] = self.options.strength
        return [(rgb, True)]

    def flush(self) -> list[Rendered]:
        return []


TOY = EngineSpec("toy", ToyOptions, ToyEngine, "paints the lips grey (a test engine)", "none")


@pytest.fixture
def toy_registered():
    register(TOY)
    yield TOY
    del ENGINES["toy"]


def test_a_registered_engine_reaches_every_front_end(toy_registered, tmp_path) -> None:
    # The CLI: --engine toy and its options.
    args = build_parser().parse_args(
        ["sync", "--face", "f.png", "--text", "hi", "-o", "o.mp4", "--engine", "toy", "--strength", "90"]
    )
    assert _engine_options(args) == ToyOptions(strength=90)
    # The web form and the API's fields.
    assert {"strength", "outline"} <= set(option_field_names())
    parsed = parse_options({"engine": "toy", "strength": "90", "outline": "true"}, ServeConfig())
    assert parsed["engine"] == ToyOptions(strength=90, outline=True)
    with pytest.raises(RequestError, match="strength must be a whole number from 0 to 255"):
        parse_options({"engine": "toy", "strength": "300"}, ServeConfig())
    with pytest.raises(RequestError, match="motion: not an option of the toy engine"):
        parse_options({"engine": "toy", "motion": "learned"}, ServeConfig())
    # The OpenAPI schema and the page.
    from talkface.web.api import _form_schema

    props = _form_schema(ServeConfig())["requestBody"]["content"]["multipart/form-data"]["schema"][
        "properties"
    ]
    assert "toy" in props["engine"]["enum"] and props["strength"]["maximum"] == 255
    from talkface.web.jobs import JobManager
    from talkface.web.ui import build_ui

    manager = JobManager(tmp_path, workers=1)
    try:
        page = build_ui(manager, ServeConfig(), tmp_path)
        ids = {getattr(block, "elem_id", None) for block in page.blocks.values()}
        assert {"toy-strength", "toy-outline", "warp-motion", "warp-pads"} <= ids
    finally:
        manager.close()


def test_the_pipeline_runs_a_registered_engine(toy_registered, tmp_path) -> None:
    out = tmp_path / "toy.mp4"
    face = demo_face(tmp_path)
    # Without the head animation (today's photo mode: only the engine changes the picture).
    result = talkface.sync(
        face, out, text="Hello.", engine=ToyOptions(strength=90), quiet=True, still=True, no_blink=True
    )
    frames = read_frames(out)
    assert result.frames == len(frames) == result.faces > 10
    # The toy's grey box is in every frame, and the eyes are untouched.
    import cv2

    rgb = cv2.cvtColor(cv2.imread(str(face)), cv2.COLOR_BGR2RGB)
    lm = landmarks_of(rgb)
    cx, cy = np.round(lm[LIPS].mean(0)).astype(int)
    for frame in frames[:: max(1, len(frames) // 5)]:
        assert np.abs(frame[cy - 2 : cy + 3, cx - 2 : cx + 3].astype(int) - 90).max() <= 6
        eye_y = int(lm[33, 1])
        assert np.abs(frame[eye_y - 10 : eye_y + 10].astype(int) - rgb[eye_y - 10 : eye_y + 10]).mean() < 3


def test_the_bundled_demo_speaks_without_shared_data(tmp_path) -> None:
    """The astronaut (inside scikit-image) speaking text through the default engine, its head
    animated: the mouth moves with the speech, the head moves, the background away from the head
    stays as it was."""
    out = tmp_path / "demo.mp4"
    face = demo_face(tmp_path)
    result = talkface.sync(face, out, text="Open wide, then close. Ah, oh, mm.", quiet=True)
    frames = np.stack(read_frames(out)).astype(np.int16)
    assert result.faces == result.frames == len(frames) > 40
    lm = landmarks_of(frames[0].astype(np.uint8))
    x0, y0 = np.floor(lm[LIPS].min(0)).astype(int) - 5
    x1, y1 = np.ceil(lm[LIPS].max(0)).astype(int) + 5
    mouth = frames[:, y0:y1, x0:x1]
    assert (mouth.max(0) - mouth.min(0)).mean() > 10  # the mouth moves
    left = int(lm[:, 0].min() - 0.8 * (lm[:, 0].max() - lm[:, 0].min()))
    assert np.abs(frames[:, :, :left] - frames[0, :, :left]).mean() < 1.5  # beside the head: unchanged
    nose = np.array([landmarks_of(f.astype(np.uint8))[4] for f in frames[::10]])
    assert nose.std(0).max() > 1.0  # the head moves


def test_the_frame_iterator_feeds_any_sink(tmp_path) -> None:
    """rendered_frames without the MP4 writer: a sink that keeps frames in a list, and one that stops
    early (closing the iterator stops the decoder thread and frees the spill files)."""
    import threading
    from contextlib import closing

    from talkface.frames import output_frames, rendered_frames
    from talkface.media.video import FaceMedia

    media = FaceMedia(demo_face(tmp_path))
    voice = speech(2.0)
    frames = list(rendered_frames(media, voice, lambda: ToyEngine(ToyOptions(strength=40))))
    assert len(frames) == output_frames(voice, media.fps) == 50 and all(r for _, r in frames)
    assert all(f.shape == (media.height, media.width, 3) for f, _ in frames)

    # A video (decoded on the background thread), shorter than the speech: replayed, and spilled.
    import cv2

    rgb = cv2.cvtColor(cv2.imread(str(demo_face(tmp_path))), cv2.COLOR_BGR2RGB)
    clip = write_video(tmp_path / "clip.mp4", [np.roll(rgb, k, axis=1) for k in range(12)])
    video = FaceMedia(clip)
    frames = list(rendered_frames(video, voice, lambda: ToyEngine(ToyOptions())))
    assert len(frames) == 50 and all(isinstance(f, np.ndarray) for f, _ in frames)
    with closing(rendered_frames(video, voice, lambda: ToyEngine(ToyOptions()))) as early:
        first = [next(early) for _ in range(3)]
    assert len(first) == 3
    assert not [t for t in threading.enumerate() if t.name == "talkface-decoder"]
