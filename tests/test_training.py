"""SyncNet and Wav2Lip training on real prepared clips: batches, learning, resume, published format."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import data_file

from talkface.cli import main
from talkface.models.checkpoint import load_checkpoint
from talkface.models.syncnet import SyncNet, SyncNetConfig, cosine_bce, lower_halves
from talkface.models.wav2lip import Wav2Lip, Wav2LipConfig, Wav2LipDiscQual
from talkface.training.data import load_split, shift_image, sync_batch
from talkface.training.prepare import prepare_dataset
from talkface.training.progress import SyncNetTraining
from talkface.training.syncnet import train_syncnet
from talkface.training.wav2lip import generator_batch

CLIPS = ("video/grid_brbk7n.mpg", "video/grid_lbax4n.mpg", "video/lrs2_00022.mp4")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    src = tmp_path_factory.mktemp("clips")
    for name in CLIPS:
        shutil.copy(data_file(name), src)
    out = tmp_path_factory.mktemp("prepared")
    summary = prepare_dataset(src, out, val_fraction=0.34)
    assert len(summary.prepared) == 3
    return out


def test_sync_batch_pairs_faces_with_their_own_or_shifted_speech(prepared) -> None:
    clips = load_split(prepared, "train")
    mel, face, y = sync_batch(clips, 32, np.random.default_rng(0), min_shift=5)
    assert mel.shape == (32, 1, 80, 16) and face.shape == (32, 15, 48, 96) and y.shape == (32,)
    assert y.mean() == 0.5 and face.min() >= 0 and face.max() <= 1 and 0.1 < face.mean() < 0.9
    # The face input is the lower half: the mouth region of a real crop, not the eyes.
    clip = clips[0]
    k = int(clip.starts[3])
    lower = np.moveaxis(clip.frames[k, 48:].astype(np.float32) / 255, -1, 0)
    assert np.allclose(lower_halves(clip.frames[None, k : k + 5])[0, :3], lower)
    # Jitter keeps shapes and ranges but moves the pixels and perturbs the speech.
    plain = sync_batch(clips, 32, np.random.default_rng(0), min_shift=5)
    jittered = sync_batch(clips, 32, np.random.default_rng(0), min_shift=5, jitter=True)
    for a, b in zip(plain, jittered, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
    assert np.array_equal(plain[2], jittered[2])
    assert (
        0 < np.abs(plain[0] - jittered[0]).mean() < 1.0 and jittered[0].min() >= -4 and jittered[0].max() <= 4
    )
    assert np.abs(plain[1] - jittered[1]).mean() > 0.005


def test_shift_image_repeats_the_edges() -> None:
    image = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    moved = shift_image(image, 1, -1)  # down one row, left one column
    assert np.array_equal(moved[0], [[1, 2, 3, 3], [1, 2, 3, 3], [5, 6, 7, 7]])


def test_syncnet_learns_and_resumes_in_the_published_format(prepared, tmp_path) -> None:
    # A small expert overfits a fixed batch of real pairs: the cosine BCE must fall.
    torch.manual_seed(0)
    clips = load_split(prepared, "train")
    mel, face, y = (torch.from_numpy(a) for a in sync_batch(clips, 16, np.random.default_rng(1)))
    model = SyncNet(SyncNetConfig(width=0.125))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        loss = cosine_bce(*model(mel, face), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])

    # The trainer writes published-format checkpoints, a loss log and a plot, and resumes.
    out = tmp_path / "syncnet"
    options = SyncNetTraining(width=0.125, batch=8, steps=3, eval_every=3, checkpoint_every=3)
    train_syncnet(prepared, out, options)
    first = torch.load(out / "checkpoint_step000000003.pth", weights_only=True)
    # The published keys, plus the description the published loaders ignore.
    assert set(first) == {"state_dict", "optimizer", "global_step", "global_epoch", "talkface"}
    assert first["talkface"]["model"] == "SyncNet" and first["talkface"]["config"] == {"width": 0.125}
    assert first["global_step"] == 3
    options.steps = 5
    result = train_syncnet(prepared, out, options)
    assert result["step"] == 5 and 0 <= result["accuracy"] <= 1
    load_checkpoint(out / "checkpoint_step000000005.pth", SyncNet(SyncNetConfig(width=0.125)))
    assert (out / "losses.png").stat().st_size > 1000
    steps = [s for s, _ in __import__("json").loads((out / "losses.json").read_text())["train"]]
    assert steps == [1, 2, 3, 4, 5]  # resumed at step 4, not restarted


def test_generator_batch_masks_the_target_and_offsets_the_mel(prepared) -> None:
    clips = load_split(prepared, "train")
    x, indiv, mel, gt = generator_batch(clips, 4, np.random.default_rng(0))
    assert x.shape == (4, 6, 5, 96, 96) and gt.shape == (4, 3, 5, 96, 96)
    assert indiv.shape == (4, 5, 1, 80, 16) and mel.shape == (4, 1, 80, 16)
    assert np.all(x[:, :3, :, 48:] == 0) and np.array_equal(x[:, :3, :, :48], gt[:, :, :, :48])
    assert not np.array_equal(x[:, 3:], gt)  # the reference is another window
    # Frame f's mel window is taken at f - 1: the second frame's is the sync window of the first.
    assert np.array_equal(indiv[:, 1], mel) and not np.array_equal(indiv[:, 0], mel)


def test_train_wav2lip_cli_with_gan_writes_loadable_checkpoints(prepared, tmp_path, capsys) -> None:
    expert_dir = tmp_path / "expert"
    args = ["train", "syncnet", str(prepared), "--out", str(expert_dir), "--width", "0.125"]
    assert main([*args, "--batch", "4", "--steps", "1", "--eval-every", "1"]) == 0
    out = tmp_path / "w2l"
    args = ["train", "wav2lip", str(prepared), "--out", str(out), "--gan", "--width", "0.125"]
    args += ["--syncnet", str(expert_dir / "checkpoint_step000000001.pth"), "--batch", "2", "--steps", "2"]
    assert main([*args, "--eval-every", "1", "--checkpoint-every", "2"]) == 0
    printed = capsys.readouterr().out
    assert "held-out L1" in printed and "sync weight 0)" in printed  # a random expert: loss > 0.75
    # --sync-start above the expert's loss switches the sync term on at the first evaluation.
    assert main([*args, "--steps", "3", "--eval-every", "1", "--sync-start", "100"]) == 0
    assert "sync weight 0.03)" in capsys.readouterr().out
    load_checkpoint(out / "checkpoint_step000000002.pth", Wav2Lip(Wav2LipConfig(width=0.125)))
    load_checkpoint(out / "disc_checkpoint_step000000002.pth", Wav2LipDiscQual(Wav2LipConfig(width=0.125)))
    assert (out / "losses.png").is_file()
    # A bad data folder is a one-line error.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "talkface.cli",
            "train",
            "syncnet",
            str(tmp_path),
            "--out",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "no train.txt" in proc.stderr


def test_shipped_syncnet_prefers_the_true_speech_on_held_out_clips(tmp_path) -> None:
    # Two clips the shipped expert never saw in training (its val.txt): each face window must score
    # higher with its own speech than with speech shifted >= 5 frames more often than chance.
    from talkface.models.syncnet import load_expert
    from talkface.training.syncnet import eval_set, evaluate
    from talkface.weights import SYNCNET

    src = tmp_path / "clips"
    src.mkdir()
    for name in ("video/grid_lwbsza.mpg", "video/edtalk_obama_20s_av_fixed.mp4"):
        shutil.copy(data_file(name), src)
    prepare_dataset(src, tmp_path / "prepared", val_fraction=0.5)
    clips = load_split(tmp_path / "prepared", "train") + load_split(tmp_path / "prepared", "val")
    result = evaluate(load_expert(SYNCNET), eval_set(clips, 256))
    assert result["pair_accuracy"] > 0.7, result  # measured 0.81 (step-8000 weights)
    assert result["positives"] > result["negatives"]


def test_prepare_writes_each_crops_landmarks(prepared) -> None:
    from talkface.face.landmarks import MOUTH_LEFT, MOUTH_RIGHT
    from talkface.training.data import clip_landmarks

    for name in (prepared / "train.txt").read_text().split():
        folder = prepared / name
        lm = clip_landmarks(folder)
        assert lm.shape == (len(list(folder.glob("*.jpg"))), 478, 2)
        # The landmark box plus pads is the crop: the points fill it, and the mouth is in its lower half.
        assert lm.min() >= -0.01 and lm.max() <= 1.01 and lm[..., 0].max() > 0.95
        assert (lm[:, [MOUTH_LEFT, MOUTH_RIGHT], 1] > 0.55).all()


def test_train_hyperlips_base_and_hr_cli(prepared, tmp_path, capsys) -> None:
    from talkface.models.hyperlips import HRDecoder, HRDecoder_disc_qual, HyperLipsBase, HyperLipsConfig

    base_dir, hr_dir = tmp_path / "base", tmp_path / "hr"
    args = ["train", "hyperlips-base", str(prepared), "--out", str(base_dir), "--width", "0.125"]
    assert main([*args, "--batch", "2", "--steps", "2", "--eval-every", "1", "--checkpoint-every", "2"]) == 0
    assert "HyperLips base step 2" in capsys.readouterr().out
    base = base_dir / "checkpoint_step000000002.pth"
    load_checkpoint(base, HyperLipsBase(HyperLipsConfig(width=0.125)))
    losses = __import__("json").loads((base_dir / "losses.json").read_text())
    assert len(losses["train disc"]) == 2  # the discriminator trains by default, as published
    args = ["train", "hyperlips-hr", str(prepared), "--base", str(base), "--out", str(hr_dir)]
    args += ["--width", "0.25", "--rescaling", "2", "--batch", "2", "--steps", "2", "--eval-every", "1"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "HyperLips HR step 2" in printed and "base upsampled" in printed
    config = HyperLipsConfig(width=0.25, rescaling=2)
    load_checkpoint(hr_dir / "checkpoint_step000000002.pth", HRDecoder(2, config))
    load_checkpoint(hr_dir / "disc_checkpoint_step000000002.pth", HRDecoder_disc_qual(config))
    # Interrupted and resumed: the step count goes on from the last checkpoint.
    assert main([*args[:-4], "--steps", "3", "--eval-every", "1"]) == 0
    assert "HyperLips HR step 3" in capsys.readouterr().out


def test_ssim_loss_is_the_gaussian_window_ssim_of_wang_2004(prepared) -> None:
    """The separable form equals SSIM with the 11x11 Gaussian window written out (eq. 13, sigma
    1.5, zero padding) on real face crops: 0 for identical faces, larger for a blurred one."""
    from torch.nn import functional as F

    from talkface.training.losses import ssim_loss

    clip = load_split(prepared, "train", 96)[0]
    a = torch.from_numpy(np.moveaxis(clip.frames[:4].astype(np.float32) / 255, -1, 1))
    b = F.avg_pool2d(a, 3, stride=1, padding=1, count_include_pad=False)  # a blurred copy
    x = torch.arange(11, dtype=torch.float32) - 5
    g = torch.exp(-(x**2) / (2 * 1.5**2))
    kernel = (g[:, None] * g[None, :] / g.sum() ** 2).expand(3, 1, 11, 11)
    mu_a, mu_b, aa, bb, ab = (F.conv2d(t, kernel, padding=5, groups=3) for t in (a, b, a * a, b * b, a * b))
    c1, c2 = 0.01**2, 0.03**2
    num = (2 * mu_a * mu_b + c1) * (2 * (ab - mu_a * mu_b) + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (aa - mu_a**2 + bb - mu_b**2 + c2)
    expected = 1 - (num / den).mean()
    assert ssim_loss(a, a).item() == pytest.approx(0.0, abs=1e-5)
    assert ssim_loss(a, b).item() == pytest.approx(expected.item(), rel=1e-4)
    assert ssim_loss(a, b).item() > 0.02
