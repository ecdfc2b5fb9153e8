"""The learned mouth renderer: shipped weights load, it paints only inside its mask, photos close."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from talkface.demo import demo_face
from talkface.engines.warp import WarpEngine, WarpOptions
from talkface.errors import TalkfaceError
from talkface.face.crop import cut_region
from talkface.face.landmarks import mouth_aperture
from talkface.face.quiet import native_stderr_silenced
from talkface.face.track import FaceTracker
from talkface.frames import rendered_frames
from talkface.media.audio import SAMPLE_RATE, Speech
from talkface.media.frame import I420Frame
from talkface.media.video import FaceMedia
from talkface.models.mouth_renderer import (
    MouthRenderer,
    MouthRendererConfig,
    lip_contours_in_crop,
    load_mouth_renderer,
    region_affine,
    save_mouth_renderer,
)
from talkface.render.mouth_learned import MOUTH_RENDERER, LearnedMouth
from talkface.training.mouth_data import MouthCrops
from talkface.training.mouth_renderer import TrainConfig, train_mouth_renderer

CLOSED = 0.03  # inner-lip aperture / IOD below which a mouth reads as closed (real clips: ~0.01)


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory) -> tuple[np.ndarray, np.ndarray]:
    """The bundled portrait (smiling, teeth showing) and its landmarks."""
    rgb = next(FaceMedia(demo_face(tmp_path_factory.mktemp("face"))).frames())
    with native_stderr_silenced():
        tracker = FaceTracker(static=True)
        lm = tracker(rgb).landmarks
        tracker.close()
    assert lm is not None and mouth_aperture(lm) > 0.05, "the astronaut smiles with an open mouth"
    return rgb, lm


def test_shipped_weights_load_and_bad_files_are_refused(tmp_path) -> None:
    model = load_mouth_renderer(MOUTH_RENDERER)
    assert isinstance(model, MouthRenderer) and not model.training
    assert MOUTH_RENDERER.stat().st_size < 40 << 20
    assert MOUTH_RENDERER.with_suffix(".md").is_file(), "a model card beside the weights"
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(TalkfaceError, match="not a mouth-renderer checkpoint"):
        load_mouth_renderer(bad)
    with pytest.raises(TalkfaceError, match="no such"):
        load_mouth_renderer(tmp_path / "missing.pt")


def test_output_differs_from_input_only_inside_the_mask(astronaut) -> None:
    rgb, lm = astronaut
    learned = LearnedMouth()
    patch = rgb.copy()
    assert not learned.fill(patch, lm, 100.0), "nothing is drawn before a reference is seen"
    learned.observe(rgb, lm)
    iod = float(np.linalg.norm(lm[263] - lm[33]))
    assert learned.fill(patch, lm, iod)
    changed = np.argwhere((patch != rgb).any(2))
    assert len(changed) > 200
    lips = lm[[61, 291, 0, 17]]
    reach = 0.3 * iod  # the mask: the outer lips grown by 0.12 IOD, feathered inside that
    assert changed[:, 1].min() >= lips[:, 0].min() - reach and changed[:, 1].max() <= lips[:, 0].max() + reach
    assert changed[:, 0].min() >= lips[:, 1].min() - reach and changed[:, 0].max() <= lips[:, 1].max() + reach


def test_a_photo_with_an_open_mouth_closes_in_silence(astronaut) -> None:
    rgb, _ = astronaut
    n = 12

    class Photo:
        fps, is_photo, n_frames_hint = 25.0, True, 1
        height, width = rgb.shape[:2]
        path = "astronaut.png"

        def i420_frames(self):
            yield I420Frame.from_rgb(rgb)

    engine = WarpEngine(WarpOptions(motion="heuristic"))
    silence = Speech(np.zeros(int(n / 25 * SAMPLE_RATE), np.float32))
    frames = [f for f, _ in rendered_frames(Photo(), silence, lambda: engine)]
    assert engine.renderer.choices["learned"] == n
    with native_stderr_silenced():
        tracker = FaceTracker(static=True)
        apertures = [float(mouth_aperture(tracker(f).landmarks)) for f in frames[::4]]
        tracker.close()
    assert max(apertures) < CLOSED, f"the closed mouth still reads open: {apertures}"


def test_training_writes_a_checkpoint_that_fine_tuning_continues(astronaut, tmp_path) -> None:
    rgb, lm = astronaut
    config = MouthRendererConfig(channels=(8, 16))
    affine = region_affine(lm, config)
    crop = cut_region(rgb, affine, config.size)
    outer, inner = lip_contours_in_crop(lm, affine)
    n = 8  # two "clips" of 4 crops (colour-shifted copies), two speaker groups: one is held out
    crops = np.stack([np.clip(crop.astype(int) + 6 * k, 0, 255).astype(np.uint8) for k in range(n)])
    data = MouthCrops(
        crops,
        np.repeat(outer[None], n, 0),
        np.repeat(inner[None], n, 0),
        np.repeat(np.arange(2, dtype=np.int32), n // 2),
        ["a", "b"],
        ["a", "b"],
    )
    quick = dict(minutes=10.0, batch=2, holdout_every=2, log_every=1000)
    first = tmp_path / "first.pt"
    meta = train_mouth_renderer(data, first, config, TrainConfig(max_steps=3, **quick), log=lambda _: None)
    assert meta["steps"] == 3 and meta["held_out_clips"] == ["b"] and "init" not in meta
    hard = meta["held_out"]["closed reference, open target"]  # the closed-mouth photo case
    assert np.isfinite(hard["model interior L1"]) and hard["real interior luma std"] >= 0
    tuned = tmp_path / "tuned.pt"
    meta = train_mouth_renderer(
        data, tuned, None, TrainConfig(max_steps=2, **quick), log=lambda _: None, init=first
    )
    assert meta["init"]["steps"] == 3 and meta["init"]["path"] == "first.pt"
    a, b = load_mouth_renderer(first), load_mouth_renderer(tuned)
    assert b.config == a.config, "fine-tuning keeps the checkpoint's network"
    changed = [
        not torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    ]
    assert any(changed), "fine-tuning moved the weights"
    with pytest.raises(TalkfaceError, match="no such mouth-renderer checkpoint"):
        train_mouth_renderer(data, tmp_path / "x.pt", init=tmp_path / "first.pt.missing")


def test_an_opening_from_a_closed_reference_goes_to_the_interior_renderer(astronaut, tmp_path) -> None:
    """The main network declines to open a mouth from a reference less open than
    ``opening_reference`` (it would draw lips there); an interior renderer fills only the opening."""
    rgb, lm = astronaut
    iod = float(np.linalg.norm(lm[263] - lm[33]))
    never_open = 1.0  # IOD: the astronaut's reference counts as closed
    learned = LearnedMouth(opening_reference=never_open)
    learned.observe(rgb, lm)
    patch = rgb.copy()
    assert not learned.fill(patch, lm, iod, interior_only=True) and np.array_equal(patch, rgb)
    assert learned.fill(patch, lm, iod), "closing (the whole mouth redrawn) is still the main network's"

    interior = tmp_path / "interior.pt"
    save_mouth_renderer(MouthRenderer(MouthRendererConfig(channels=(8, 16), mask="interior")), interior)
    learned = LearnedMouth(opening_reference=never_open, interior=interior, eager=True)
    learned.observe(rgb, lm)
    patch = rgb.copy()
    assert learned.fill(patch, lm, iod, interior_only=True)
    changed = np.argwhere((patch != rgb).any(2))
    assert len(changed) > 50
    inner = lm[[78, 308, 13, 14]]  # inner-lip corners, upper and lower middle
    reach = 0.1 * iod  # the inner lips grown by 0.035 IOD and feathered inside that
    (x0, y0), (x1, y1) = inner.min(0) - reach, inner.max(0) + reach
    assert x0 <= changed[:, 1].min() and changed[:, 1].max() <= x1
    assert y0 <= changed[:, 0].min() and changed[:, 0].max() <= y1
    with pytest.raises(TalkfaceError, match="not an interior renderer"):
        LearnedMouth(interior=MOUTH_RENDERER, eager=True)
