"""Photo expression (issue 18): the landmark expression basis, SadTalker's ExpNet, the renderer's
expression field."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import data_file, read_frames

from talkface.face.expression import HELD_BY_OTHERS, ExpressionBasis, build_basis
from talkface.face.landmarks import LEFT_BROW, RIGHT_BROW, brow_height
from talkface.models.expnet import ExpNetConfig, SimpleWrapperV2, config_of, published_state_dict
from talkface.motion.expression import ExpressionModel


def test_the_basis_finds_the_directions_that_vary() -> None:
    """Residuals made of two known motions plus noise: the first two principal axes span them, the
    coefficients give the shapes back, the std are those of the motions."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 478, 3))
    a /= np.linalg.norm(a)
    b -= (a * b).sum() * a
    b /= np.linalg.norm(b)
    c = rng.standard_normal((2000, 2)) * [3.0, 1.0]
    res = c[:, 0, None, None] * a + c[:, 1, None, None] * b + 1e-3 * rng.standard_normal((2000, 478, 3))
    basis = build_basis(res, 4)
    flat = basis.components.reshape(4, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(4), atol=1e-5)
    span = flat[:2] @ np.stack([a.ravel(), b.ravel()]).T
    np.testing.assert_allclose(np.abs(np.linalg.det(span)), 1, atol=1e-3)
    np.testing.assert_allclose(basis.std[:2], [3.0, 1.0], rtol=0.1)
    back = basis.shapes(basis.coefficients(res))
    assert np.abs(back - res).max() < 0.01


def test_a_published_expnet_checkpoint_loads_strictly(tmp_path) -> None:
    """SadTalker's ExpNet file ({"model": state, "epoch"}, or the 'audio2exp.' part of its
    safetensors) loads into SimpleWrapperV2 with its shapes read back (width 1, 64 coefficients),
    and runs on a batch of 10 frames of mel windows."""
    net = SimpleWrapperV2()
    state = net.state_dict()
    assert state["mapping1.weight"].shape == (64, 512 + 64 + 1)
    for checkpoint in ({"model": state, "epoch": 300}, {f"audio2exp.{k}": v for k, v in state.items()}):
        torch.save(checkpoint, tmp_path / "auido2exp_00300-model.pth")
        loaded = published_state_dict(torch.load(tmp_path / "auido2exp_00300-model.pth", weights_only=True))
        config = config_of(loaded)
        assert config == ExpNetConfig(width=1.0, n_exp=64)
        SimpleWrapperV2(config).load_state_dict(loaded, strict=True)
    with pytest.raises(KeyError):
        published_state_dict({"model": {"conv.weight": torch.zeros(1)}})
    out = net.eval()(torch.zeros(10, 1, 80, 16), torch.zeros(1, 10, 64), torch.zeros(1, 10, 1))
    assert out.shape == (1, 10, 64)


def test_the_shipped_expnet_moves_the_face_with_speech() -> None:
    """The shipped ExpNet on real speech: starts at the photo (zero), moves while it speaks, the
    same input gives the same coefficients, and its basis reads the brows."""
    from talkface.media.audio import load_audio

    model = ExpressionModel()
    samples = load_audio(data_file("audio/es_dreamtalk_spanish1.wav"))
    n = int(len(samples) / 16000 * 25)
    coeffs = model.coefficients(samples, n, 25.0, np.zeros(n))
    assert coeffs.shape == (n, model.basis.size) and np.allclose(coeffs[0], 0)
    np.testing.assert_array_equal(coeffs, model.coefficients(samples, n, 25.0, np.zeros(n)))
    assert coeffs[n // 2 :].std(0).max() > 0.05 * model.basis.std[0]
    brows = np.abs(model.basis.components[:, RIGHT_BROW + LEFT_BROW, 1]).sum(1)
    assert brows.max() > 0.05  # some component raises or lowers the brows


def test_the_expression_field_raises_the_brows_and_holds_the_mouth(astronaut) -> None:
    """A one-component basis that lifts brows and forehead by a tenth of the interocular distance: the
    rendered photo's tracked brows stand higher by about that; the lips, held for the lip-sync
    engine, and the background do not move."""
    from talkface.face.track import FaceTracker
    from talkface.render.head import HeadRenderer

    rgb, mesh = astronaut
    canonical = ExpressionModel().canonical
    # Brows and forehead (everything a little above the eyes' upper lids) go up together.
    lift = np.zeros((1, 478, 3), np.float32)
    lids = canonical[[159, 386], 1].mean()
    lift[0, canonical[:, 1] < lids - 0.08, 1] = -1.0
    lift /= np.linalg.norm(lift)
    basis = ExpressionBasis(lift, np.ones(1, np.float32))
    assert np.all(lift[0, RIGHT_BROW + LEFT_BROW, 1] < 0)
    amount = 0.1 / lift[0, RIGHT_BROW[0], 1]  # coefficient giving 0.1 interocular up
    renderer = HeadRenderer(rgb, mesh, canonical)
    renderer.set_expression(basis)
    raised = rgb.copy()
    renderer.render(raised, np.zeros(3), np.zeros(2), 1.0, np.zeros(2), np.array([-amount], np.float32))
    tracker = FaceTracker(static=True)
    try:
        before, after = tracker(rgb).landmarks, tracker(raised).landmarks
    finally:
        tracker.close()
    gain = brow_height(after) - brow_height(before)
    assert 0.04 < gain < 0.15, gain
    lips = [p for p in HELD_BY_OTHERS if p in (13, 14, 61, 291, 0, 17)]
    assert np.abs(after[lips] - before[lips]).max() < 1.5  # pixels: tracker noise
    diff = np.abs(raised.astype(int) - rgb).max(-1)
    assert diff[:, :40].max() == 0 and diff[-40:].max() == 0  # image sides and bottom
    mouth = slice(int(mesh[13, 1]) - 5, int(mesh[14, 1]) + 5)
    assert diff[mouth].max() <= 2


def test_expression_scale_moves_the_upper_face_of_a_photo(tmp_path, astronaut) -> None:
    """Through the pipeline, with the head still and no blinks: --expression-scale 2 changes the
    face above the mouth against --expression-scale 0 (the default), and not the image's sides."""
    import talkface
    from talkface.demo import demo_face

    _, mesh = astronaut
    face = demo_face(tmp_path)
    audio = data_file("audio/es_dreamtalk_spanish1.wav")
    outs = {}
    for scale in (0.0, 2.0):
        out = tmp_path / f"scale{scale:g}.mp4"
        talkface.sync(face, out, audio=audio, still=True, no_blink=True, expression_scale=scale, quiet=True)
        outs[scale] = np.stack(read_frames(out)).astype(int)
    diff = np.abs(outs[2.0] - outs[0.0]).mean(-1)  # (frames, H, W)
    pts = mesh[RIGHT_BROW + LEFT_BROW + [33, 263]].astype(int)
    (x0, y0), (x1, y1) = pts[:, :2].min(0) - 10, pts[:, :2].max(0) + 10
    upper = diff[:, y0:y1, x0:x1].mean(axis=(1, 2))  # brows and eyes
    assert upper[0] < 1 and upper.max() > 2, upper.max()
    assert diff[:, :, :40].mean() < 0.5 and diff[:, :, -40:].mean() < 0.5
