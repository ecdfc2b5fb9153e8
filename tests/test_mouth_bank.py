"""The mouth bank on a real talking clip: nearest-shape choice, bounded memory, coherence, fallback."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import data_file

import talkface.render.mouth_bank as mb
from talkface.engines.warp import WarpEngine, WarpOptions
from talkface.face.landmarks import mouth_aperture
from talkface.face.quiet import native_stderr_silenced
from talkface.face.track import FaceTracker
from talkface.frames import rendered_frames
from talkface.media.audio import SAMPLE_RATE, Speech
from talkface.media.video import FaceMedia
from talkface.render.mouth_bank import MouthBank, mesh_points, shape_descriptor, to_face

CLIP = "video/hdtf_RD_Radio34_000.mp4"  # 512x512, 8 s, a speaker who shows her teeth


@pytest.fixture(scope="module")
def clip() -> list[tuple[np.ndarray, np.ndarray]]:
    """Every 2nd frame of the first 6 s of the clip with its landmarks: ``[(rgb, lm), ...]``."""
    media = FaceMedia(data_file(CLIP))
    out = []
    with native_stderr_silenced():
        tracker = FaceTracker()
        for i, rgb in enumerate(media.frames()):
            lm = tracker(rgb).landmarks
            if i % 2 == 0 and lm is not None:
                out.append((rgb, lm))
            if i >= 150:
                break
        tracker.close()
    return out


def descriptor(lm: np.ndarray) -> np.ndarray:
    return shape_descriptor(mesh_points(to_face(lm, lm), 1.0))


def test_bank_picks_the_entry_with_the_nearest_shape(clip) -> None:
    bank = MouthBank()
    for i, (rgb, lm) in enumerate(clip):
        bank.capture(rgb, lm, i)
    entries = bank.entries()
    assert len(entries) >= 20, "a talking clip fills many shape bins"
    apertures = np.array([mouth_aperture(lm) for _, lm in clip])
    for entry in entries[::5]:
        _, lm = clip[entry.index]
        chosen = MouthBank.choose(bank, descriptor(lm), index=10_000 + entry.index)  # no previous choice
        assert chosen is entry
    # A target between the shapes: the chosen entry is the nearest by the descriptor distance.
    target = (descriptor(clip[int(apertures.argmax())][1]) + descriptor(clip[int(apertures.argmin())][1])) / 2
    fresh = MouthBank()
    fresh.bins, fresh.count = bank.bins, bank.count
    chosen = fresh.choose(target, index=0, max_distance=np.inf)
    distances = fresh.distances(target)
    assert chosen is fresh.entries()[int(distances.argmin())]


def test_bank_is_bounded(clip, monkeypatch) -> None:
    monkeypatch.setattr(mb, "MAX_ENTRIES", 12)
    monkeypatch.setattr(mb, "PER_BIN", 2)
    bank = MouthBank()
    stored = sum(bank.capture(rgb, lm, i) for i, (rgb, lm) in enumerate(clip * 3))
    assert stored > 12, "sharper mouths replace duller ones of their bin"
    assert bank.count == len(bank.entries()) <= 12
    assert all(len(members) <= 2 for members in bank.bins.values())
    pixels = sum(e.pixels.nbytes for e in bank.entries())
    assert pixels <= 12 * mb.BANK_SIZE[0] * mb.BANK_SIZE[1] * 3


def test_bank_choice_is_coherent_over_time(clip, monkeypatch) -> None:
    bank = MouthBank()
    for i, (rgb, lm) in enumerate(clip):
        bank.capture(rgb, lm, i)
    # A slowly opening target with shape noise: the choice should not hop between near-equal entries.
    rng = np.random.default_rng(0)
    lo, hi = (descriptor(clip[k][1]) for k in (0, len(clip) // 2))
    targets = [lo + (hi - lo) * t + rng.normal(0, 0.004, lo.shape) for t in np.linspace(0, 1, 60)]

    def switches() -> int:
        bank._previous = None
        picks = [bank.choose(t, index=1000 + k, max_distance=np.inf) for k, t in enumerate(targets)]
        return sum(a is not b for a, b in zip(picks, picks[1:], strict=False))

    coherent = switches()
    monkeypatch.setattr(mb, "SWITCH_COST", 0.0)
    assert coherent < switches()


def test_paste_of_a_frames_own_mouth_reproduces_it_and_stays_in_the_ring(clip) -> None:
    rgb, lm = next((rgb, lm) for rgb, lm in clip if mouth_aperture(lm) > 0.08)  # teeth showing
    bank = MouthBank()
    assert bank.capture(rgb, lm, 0)
    out = rgb.copy()
    iod = float(np.linalg.norm(lm[263] - lm[33]))
    MouthBank.paste(bank.entries()[0], out, lm, iod)
    ring = mesh_points(lm, iod)
    x0, y0 = np.floor(ring.min(0)).astype(int)
    x1, y1 = np.ceil(ring.max(0)).astype(int) + 2
    changed = np.argwhere((out != rgb).any(2))
    assert len(changed) > 100
    assert changed[:, 1].min() >= x0 and changed[:, 1].max() < x1
    assert changed[:, 0].min() >= y0 and changed[:, 0].max() < y1
    lips = out[y0:y1, x0:x1].astype(int) - rgb[y0:y1, x0:x1]
    assert np.abs(lips).mean() < 4.0, "the same mouth resampled through the bank"


def test_engine_uses_the_bank_on_video_and_falls_back_without_open_mouths(clip) -> None:
    """Video mode takes real mouths; where the mouth never opens, the opening is painted (the
    learned renderer has no interior to draw from a closed reference unless forced with
    ``--mouth learned``; with ``--mouth bank`` the nearest, closed, entry is forced)."""
    speech = Speech(np.zeros(2 * SAMPLE_RATE, np.float32))
    n = 50

    class Frames:
        """A 'video' of the clip's frames, or of its most closed frame only."""

        def __init__(self, frames):
            self.frames_ = frames
            self.fps, self.is_photo, self.path = 25.0, False, data_file(CLIP)
            self.height, self.width = frames[0].shape[:2]
            self.n_frames_hint = len(frames)

        def i420_frames(self):
            from talkface.media.frame import I420Frame

            return (I420Frame.from_rgb(f) for f in self.frames_)

    closed = min(clip, key=lambda item: mouth_aperture(item[1]))[0]
    talking = [rgb for rgb, _ in clip[:n]]
    cases = [
        (talking, "auto", "bank"),
        ([closed] * n, "auto", "painted"),
        ([closed] * n, "learned", "learned"),
        ([closed] * n, "bank", "bank"),
    ]
    for frames, mouth, expected in cases:
        engine = WarpEngine(WarpOptions(motion="heuristic", mouth=mouth))

        def build(engine=engine):
            return engine

        # Speech that opens the mouth wide on every frame.
        engine.source = lambda speech, n_frames, fps: _open_drive(n_frames)
        list(rendered_frames(Frames(frames), speech, build))
        choices = engine.renderer.choices
        assert sum(choices.values()) == n
        assert choices[expected] > n // 2, (mouth, choices)
        if expected in ("learned", "painted"):
            assert choices["bank"] == 0


def _open_drive(n: int):
    from talkface.motion import MouthMotion

    opening = np.full(n, 2.0, np.float32)
    zero = np.zeros(n, np.float32)
    return MouthMotion(opening=opening, width=zero, rounding=zero, speech=np.ones(n, bool))


def test_an_empty_bank_has_nothing_to_give(clip) -> None:
    bank = MouthBank()
    _, lm = clip[0]
    assert bank.choose(descriptor(lm), index=0, own=None) is None
    assert bank.choose(descriptor(lm), index=1, own=descriptor(lm)) == "own"
    assert len(bank.distances(descriptor(lm))) == 0


def test_a_closed_mouth_is_not_stretched_open(clip, monkeypatch) -> None:
    """A target open by 0.06 IOD is within MAX_DISTANCE of a closed mouth by the RMS distance, but a
    closed mouth warped open stays closed: neither the closed entry nor the frame's own closed mouth
    may be given."""
    rgb, lm = min(clip, key=lambda item: mouth_aperture(item[1]))
    bank = MouthBank()
    assert bank.capture(rgb, lm, 0)
    closed = descriptor(lm)
    target = closed.copy()
    target[-2 * (len(mb.L.UPPER_INNER) - 2) :] += 0.06  # the inner-lip gaps, both copies
    assert bank.distances(target)[0] < mb.MAX_DISTANCE
    assert MouthBank.opening(target) - MouthBank.opening(closed) > mb.APERTURE_TOLERANCE
    assert bank.choose(target, index=10, own=closed) is None
    assert bank.choose(closed, index=20, own=closed) is not None, "its own shape is still given"
    monkeypatch.setattr(mb, "APERTURE_TOLERANCE", np.inf)
    assert bank.choose(target, index=30, own=None) is bank.entries()[0], "the rule is what refuses it"
