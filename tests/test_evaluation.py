"""talkface eval: LSE with both evaluators, landmark and image metrics, the sanity suite on real clips."""

from __future__ import annotations

import json
import subprocess
import sys

import av
import numpy as np
import pytest
import torch
from conftest import data_file, read_frames, write_video

from talkface.evaluation.image import InceptionFeatures, frechet_distance
from talkface.evaluation.sync import ExpertEvaluator, SyncNetV2Evaluator, lse, score_sync
from talkface.evaluation.video import evaluate_video
from talkface.face.canonical import similarity_transform
from talkface.media.audio import SAMPLE_RATE, load_audio
from talkface.models.syncnet_v2 import SyncNetV2
from talkface.speech.mfcc import mfcc

SHORT_CLIP = "video/grid_lwbsza.mpg"  # 3 s, 25 fps
HELD_OUT_CLIP = "video/edtalk_obama_20s_av_fixed.mp4"  # 20 s, not in the SyncNet's training split


def with_audio(video, samples: np.ndarray, out):
    """``video``'s frames (packets copied) with ``samples`` (16 kHz mono) as the AAC track."""
    with av.open(str(video)) as src, av.open(str(out), "w") as dst:
        vin = src.streams.video[0]
        vout = dst.add_stream_from_template(vin)
        aout = dst.add_stream("aac", rate=SAMPLE_RATE)
        aout.layout = "mono"
        for packet in src.demux(vin):
            if packet.dts is not None:
                packet.stream = vout
                dst.mux(packet)
        for s in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, s : s + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = SAMPLE_RATE, s
            dst.mux(aout.encode(frame))
        dst.mux(aout.encode(None))
    return out


def test_mfcc_matches_python_speech_features() -> None:
    psf = pytest.importorskip("python_speech_features")
    samples = load_audio(data_file(SHORT_CLIP))
    pcm = np.round(samples * 32767).astype(np.int16)
    expected = psf.mfcc(pcm, SAMPLE_RATE).T  # what syncnet_python computes on its int16 WAV
    got = mfcc(pcm / 32768.0)
    assert got.shape == expected.shape == (13, 1 + int(np.ceil((len(pcm) - 400) / 160)))
    assert np.abs(got - expected).max() < 1e-3


def test_lse_finds_a_known_offset_in_embeddings() -> None:
    rng = np.random.default_rng(0)
    video = rng.normal(size=(120, 64)).astype(np.float32)
    k = 4  # the speech runs 4 frames ahead: audio[i] matches video[i + k]
    audio = np.concatenate([video[k:], rng.normal(size=(k, 64)).astype(np.float32)])
    score = lse(video, audio + 0.1 * rng.normal(size=audio.shape).astype(np.float32))
    assert score.offset == k
    assert score.lse_d < score.offset0_distance
    assert score.lse_c > 1.0
    assert score.distances.shape == (31,) and score.lse_d == score.distances.min()


def test_similarity_transform_recovers_scale_rotation_translation() -> None:
    src = np.random.default_rng(1).normal(size=(18, 2))
    angle = 0.3
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = 2.5 * src @ rot.T + [4.0, -1.0]
    s, r, t = similarity_transform(src, dst)
    assert abs(s - 2.5) < 1e-9 and np.allclose(r, rot) and np.allclose(t, [4.0, -1.0])


def test_syncnet_v2_loads_syncnet_python_weights_strictly(tmp_path) -> None:
    model = SyncNetV2()
    assert sum(p.numel() for p in model.parameters()) == 13_631_616
    keys = list(model.state_dict())
    assert keys[0] == "netcnnaud.0.weight" and "netcnnlip.18.weight" in keys and "netfclip.3.bias" in keys
    torch.manual_seed(0)
    for p in model.parameters():
        p.data.normal_(0, 0.02)
    weights = tmp_path / "syncnet_v2.model"
    torch.save(model.state_dict(), weights)  # the published file is a plain state dict
    evaluator = SyncNetV2Evaluator(weights)
    for a, b in zip(evaluator.model.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    frames = read_frames(data_file(SHORT_CLIP))[:30]
    lm = np.array([[100, 60], [260, 60], [180, 250]], np.float32)  # a face box inside the 360x288 frame
    crops = np.stack([evaluator.face_crop(f, lm) for f in frames])
    assert crops.shape == (30, 224, 224, 3) and crops.dtype == np.uint8
    score = score_sync(evaluator, crops, load_audio(data_file(SHORT_CLIP)))
    assert score.windows == 25 and np.isfinite(score.lse_d) and -15 <= score.offset <= 15
    bad = tmp_path / "bad.model"
    torch.save({"something": torch.zeros(3)}, bad)
    with pytest.raises(Exception, match="syncnet_v2.model"):
        SyncNetV2Evaluator(bad)


def test_real_clip_scored_against_itself_is_perfect() -> None:
    clip = data_file(SHORT_CLIP)
    result = evaluate_video(clip, clip)
    assert result.frames == 75 and result.faces == 75
    assert result.lmd == 0.0
    assert result.aperture_r == pytest.approx(1.0) and result.std_ratio == pytest.approx(1.0)
    assert result.psnr_mouth == 100.0 and result.ssim_mouth == pytest.approx(1.0)
    assert result.lse_d == result.reference_lse_d and result.jitter == pytest.approx(result.reference_jitter)


def test_speech_shifted_by_5_frames_moves_the_offset_by_5(tmp_path) -> None:
    """Our expert SyncNet on a clip it never saw: the offset follows a 200 ms shift of the speech."""
    clip = data_file(HELD_OUT_CLIP)
    evaluator = ExpertEvaluator()
    samples = load_audio(clip)
    shift = 5 * SAMPLE_RATE // 25
    ahead = with_audio(clip, samples[shift:], tmp_path / "ahead.mp4")  # speech runs 5 frames ahead
    base = evaluate_video(clip, evaluator=evaluator)
    moved = evaluate_video(ahead, evaluator=evaluator)
    # Measured (step-8000 weights): offset +1 -> +6; distance at offset 0: 0.914 -> 1.121;
    # LSE-D 0.902 -> 0.900.
    assert abs(base.offset) <= 1
    assert 4 <= moved.offset <= 6 and moved.offset - base.offset == 5
    assert moved.offset0_distance > base.offset0_distance + 0.03
    assert moved.lse_d == pytest.approx(base.lse_d, abs=0.02)  # a minimum over offsets moves with the shift


def test_still_frame_has_no_aperture_correlation(tmp_path) -> None:
    clip = data_file(SHORT_CLIP)
    frames = read_frames(clip)
    still = write_video(tmp_path / "still.mp4", [frames[0]] * len(frames), audio=load_audio(clip))
    result = evaluate_video(still, clip)
    assert abs(result.aperture_r) < 0.2
    assert result.std_ratio < 0.2
    assert result.lmd > 1.0


def test_frechet_distance_and_inception_weights(tmp_path) -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 8))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + 1.0) == pytest.approx(8.0, rel=0.01)  # |mean shift|^2

    class Features(torch.nn.Module):  # the calling convention of clean-fid's inception-2015-12-05.pt
        def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
            pooled = torch.nn.functional.adaptive_avg_pool2d(x.float(), 1).flatten(1)
            return pooled.repeat(1, 2048 // 3 + 1)[:, :2048]

    path = tmp_path / "inception.pt"
    with pytest.warns(DeprecationWarning):  # TorchScript is deprecated, but it is the file's format
        torch.jit.script(Features()).save(str(path))
    feats = InceptionFeatures(path)(np.full((2, 299, 299, 3), 7, np.uint8))
    assert feats.shape == (2, 2048) and np.allclose(feats, 7)
    with pytest.raises(Exception, match="Inception weights not found"):
        InceptionFeatures(tmp_path / "missing.pt")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "talkface.cli", *args], capture_output=True, text=True)


def test_cli_eval_prints_a_table_and_writes_json(tmp_path) -> None:
    clip = data_file(SHORT_CLIP)
    out = tmp_path / "m.json"
    done = run_cli("eval", str(clip), "--reference", str(clip), "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "LSE-D" in done.stdout and "LMD (% IOD)" in done.stdout and "FID: not computed" in done.stdout
    metrics = json.loads(out.read_text())
    assert metrics["lmd"] == 0.0 and metrics["frames"] == 75 and len(metrics["aperture"]) == 75


def test_cli_eval_bad_input_is_one_line(tmp_path) -> None:
    done = run_cli("eval", str(tmp_path / "missing.mp4"))
    assert done.returncode == 1
    assert (
        done.stderr.strip().count("\n") == 0 and "missing.mp4" in done.stderr and "not found" in done.stderr
    )
    silent = write_video(tmp_path / "silent.mp4", read_frames(data_file(SHORT_CLIP))[:10])
    done = run_cli("eval", str(silent))
    assert done.returncode == 1 and "audio" in done.stderr and done.stderr.strip().count("\n") == 0


def test_cli_benchmark_writes_the_report(tmp_path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "grid.mpg").symlink_to(data_file(SHORT_CLIP))
    (clips / "notes.txt").write_text("not a clip")
    out = tmp_path / "report"
    done = run_cli(
        "eval", "--benchmark", str(clips), "--engine", "warp", "--mode", "reversed", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "| aperture r |" in done.stdout
    report = json.loads((out / "report.json").read_text())
    assert list(report["clips"]) == ["grid.mpg"] and report["mode"] == "reversed"
    grid = report["clips"]["grid.mpg"]
    assert grid["aperture_r"] > 0.0 and grid["frames"] == 74  # as long as the speech (2.96 s)
    for name in ("report.md", "per_clip.png", "worst_clip.png"):
        assert (out / name).stat().st_size > 1000
    assert "| aperture r |" in (out / "report.md").read_text()
