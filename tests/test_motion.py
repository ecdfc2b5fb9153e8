"""Stage A: speech -> mouth motion follows the speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import data_file

from talkface.evaluation.mouth import mouth_track
from talkface.media.audio import load_audio
from talkface.motion.heuristic import heuristic_motion
from talkface.motion.visemes import viseme_motion
from talkface.speech.tts import synthesize


def test_visemes_close_on_bilabials_and_open_on_open_vowels() -> None:
    _, _, phonemes = synthesize("Mama, papa, bob. Far apart.")
    fps = 25.0
    n = int(phonemes[-1][1] * fps) + 5
    motion = viseme_motion(phonemes, n, fps)
    at = {"closed": [], "open": []}
    for start, end, name in phonemes:
        frame = min(int((start + end) / 2 * fps), n - 1)
        if name in ("m", "p", "b"):
            at["closed"].append(motion.opening[frame])
        elif name.lstrip("',").startswith(("a", "A")):
            at["open"].append(motion.opening[frame])
    assert len(at["closed"]) >= 5 and len(at["open"]) >= 4
    assert max(at["closed"]) < min(at["open"])
    assert not motion.speech[-2:].any() and motion.opening[-1] < -2  # closed after the last word


def test_heuristic_opening_correlates_with_real_aperture() -> None:
    # Studio clips with reliable sync (MANIFEST: GRID avsync r >= 0.55).
    rs = []
    for name in ("grid_lrwp9a.mpg", "grid_lwbsza.mpg", "grid_sbwe5n.mpg", "grid_sbia1a.mpg"):
        clip = data_file(f"video/{name}")
        real = mouth_track(clip)
        motion = heuristic_motion(load_audio(clip), len(real.aperture), 25.0)
        ok = ~np.isnan(real.aperture)
        rs.append(np.corrcoef(motion.opening[ok], real.aperture[ok])[0, 1])
    assert np.mean(rs) > 0.35, rs
    assert min(rs) > 0.1, rs


def test_phone_recogniser_labels_grid_speech() -> None:
    # GRID sentences: "<command> <colour> <preposition> <letter> <digit> <adverb>" between silences.
    # pocketsphinx hears this one as SIL DH EY UW L AY G AY EH S IH DH EY EH AH G EH N SIL.
    from talkface.speech.phones import PHONES, phone_fractions, phone_labels, start_phone_labels

    samples = load_audio(data_file("video/grid_lwbsza.mpg"))
    labels = start_phone_labels(samples)()  # in the helper process
    assert np.array_equal(labels, phone_labels(samples))
    frac = phone_fractions(samples, 75, 25.0, labels)
    assert frac.shape == (75, len(PHONES))
    assert np.allclose(frac.sum(1), 1.0)
    spoken = frac[:, 1:].sum(1) > 0.5
    assert frac[:3, 0].min() > 0.5  # leading silence
    assert 30 < spoken.sum() < 70
    # "lay white by s zero again": the diphthong of "white by" and the end of "again"
    heard = [PHONES[i] for i in frac[spoken].argmax(1)]
    assert "AY" in heard and {"G", "EH", "N"} <= set(heard[-12:])
    assert len(set(heard)) >= 8  # many different phones


def test_shipped_learned_motion_follows_real_mouths_and_closes_in_silence() -> None:
    from talkface.motion import long_runs
    from talkface.motion.learned import DEFAULT_WEIGHTS, PAUSE_SECONDS, LearnedMotion

    assert DEFAULT_WEIGHTS.stat().st_size < 10e6
    model = LearnedMotion.load()
    rs, paused = [], 0
    for name in ("grid_lrwp9a.mpg", "grid_lwbsza.mpg", "edtalk_obama_20s_av_fixed.mp4"):
        clip = data_file(f"video/{name}")
        real = mouth_track(clip)
        samples = load_audio(clip)
        motion = model.motion(samples, len(real.aperture), 25.0)
        ok = ~np.isnan(real.aperture)
        rs.append(np.corrcoef(motion.opening[ok], real.aperture[ok])[0, 1])
        # Closed in the pauses of the VAD (3 frames from their ends, beyond the smoothing), and in
        # shorter gaps (the GRID sentences' leading and trailing silences) no wider than the mean
        # speech opening.
        pause = long_runs(~motion.speech, int(np.ceil(PAUSE_SECONDS * 25.0)))
        quiet = np.convolve(pause.astype(float), np.ones(7), "same") == 7
        assert np.all(motion.opening[quiet] < -2.9)
        paused += quiet.sum()
        gap = (np.convolve(motion.speech.astype(float), np.ones(7), "same") == 0) & ~pause
        assert np.all(motion.opening[gap] < 0.3)
    assert paused > 20  # the Obama clip's pauses
    # Clips the model saw in training: this checks the model and its features are wired right,
    # the held-out figures are in talkface/weights/motion.md.
    assert min(rs) > 0.4, rs


def test_train_motion_cross_validates_and_writes_model_and_card(tmp_path) -> None:
    from talkface.motion.learned import LearnedMotion
    from talkface.training.motion import train_motion

    clips = tmp_path / "clips"
    clips.mkdir()
    names = ("grid_lrwp9a.mpg", "grid_lwbsza.mpg", "lrw_sample2_presenter_woman.mp4", "vox2_00104_rdj.mp4")
    for name in names:
        (clips / name).symlink_to(data_file(f"video/{name}"))
    out = tmp_path / "m" / "motion.npz"
    cv = train_motion(clips, out, folds=2, folds_dir=tmp_path / "folds", augment=True, log=lambda _: None)
    assert {r["fold"] for r in cv["clips"]} == {0, 1}
    # No manifest here: every clip is its own speaker group, and the folds hold disjoint clips.
    assert len({r["clip"] for r in cv["clips"]}) == 4
    model = LearnedMotion.load(out)
    assert model.components.shape[0] == 8 and np.isfinite(model.weights).all()
    assert "Leave-speakers-out" in out.with_suffix(".md").read_text()
    assert (tmp_path / "folds" / "fold1.npz").is_file()


def test_learned_coefficients_equal_the_design_matrix_product() -> None:
    # coefficients() applies the context window block by block instead of building the matrix.
    from talkface.motion import smooth_curve
    from talkface.motion.learned import CONFIG, LearnedMotion, audio_features, design_matrix

    model = LearnedMotion.load()
    features = audio_features(load_audio(data_file("video/grid_sbia1a.mpg")), 75, 25.0)
    for n in (75, 4, 1):
        product = design_matrix(features[:n]) @ model.weights
        expected = np.stack([smooth_curve(product[:, k], CONFIG.output_sigma) for k in range(8)], 1)
        assert np.allclose(model.coefficients(features[:n]), expected, atol=1e-5)


def test_learned_motion_in_chunks_equals_the_whole_utterance() -> None:
    """104 s of speech: two chunks of MOTION_CHUNK frames give the whole-utterance coefficients,
    for the shipped model and for one on mel and phones (whose mel is made chunk by chunk)."""
    import dataclasses

    from talkface.motion.learned import (
        DEFAULT_WEIGHTS,
        LEGACY_INPUTS,
        MOTION_CHUNK,
        LearnedMotion,
        audio_features,
    )
    from talkface.speech.phones import phone_labels
    from talkface.speech.whisper import shared_encoder

    x = load_audio(data_file("audio/en_librivox_copperfield_06.mp3"))
    n = int(len(x) / 16000 * 25)
    assert n > MOTION_CHUNK
    shipped = LearnedMotion.load(DEFAULT_WEIGHTS)
    rows = shared_encoder().encoder_features(x, shipped.config.whisper_layer)
    config = dataclasses.replace(shipped.config, inputs=LEGACY_INPUTS)
    rng = np.random.default_rng(0)
    legacy = dataclasses.replace(
        shipped, weights=rng.normal(0, 0.01, (config.n_weights, 8)).astype(np.float32), config=config
    )
    labels = phone_labels(x)
    for model in (shipped, legacy):
        whole = model.coefficients(audio_features(x, n, 25.0, labels, model.config, rows))
        chunked = model.speech_coefficients(x, n, 25.0, labels, rows)
        np.testing.assert_allclose(chunked, whole, atol=1e-5)
        assert np.abs(whole).max() > 0.5  # a real signal, not zeros


def test_synthesised_speech_drives_the_learned_motion_with_its_exact_timing() -> None:
    """With --text, where the phonemes are is where the mouth may open (no VAD), and a model with
    a phones input reads the exact phones instead of recognised ones."""
    from talkface.motion.learned import DEFAULT_WEIGHTS, LearnedMotion
    from talkface.speech.alignment import timed_phone_labels
    from talkface.speech.phones import PHONES
    from talkface.speech.vad import phoneme_speech_mask

    # Two sentences 1.2 s apart (a pause: longer than PAUSE_SECONDS with the hangovers).
    first, rate, phonemes = synthesize("Hello there.", "en")
    second, _, later = synthesize("This is a test of the timing.", "en")
    shift = len(first) / rate + 1.2
    pcm = np.concatenate([first, np.zeros(int(1.2 * rate), np.float32), second])
    phonemes = phonemes + [(a + shift, b + shift, name) for a, b, name in later]
    samples = np.interp(np.arange(int(len(pcm) * 16000 / rate)) * rate / 16000, np.arange(len(pcm)), pcm)
    samples = samples.astype(np.float32)
    fps = 25.0
    n = int(len(samples) / 16000 * fps)
    mask = phoneme_speech_mask(phonemes, n, fps)
    ends, starts = [p[1] for p in phonemes[:-1]], [p[0] for p in phonemes[1:]]
    gap = max(zip(ends, starts, strict=True), key=lambda g: g[1] - g[0])  # between the sentences
    pause = slice(int(np.ceil((gap[0] + 0.12) * fps)) + 1, int((gap[1] - 0.12) * fps) - 1)
    assert pause.stop - pause.start >= 2 and not mask[pause].any()
    assert mask[int(phonemes[0][1] * fps)] and mask[int(phonemes[-1][0] * fps)]
    labels = timed_phone_labels(len(samples), phonemes)
    heard = [PHONES[labels[int((a + b) / 2 * 100)]] for a, b, _ in phonemes]
    assert heard[:4] == ["HH", "AH", "L", "OW"], heard
    motion = LearnedMotion.load(DEFAULT_WEIGHTS).motion(samples, n, fps, phonemes)
    assert np.array_equal(motion.speech, mask)
    # Closed in the pause, away from the opening that leads the next word (LEAD_FRAMES).
    from talkface.motion.heuristic import LEAD_FRAMES

    quiet = np.convolve(mask.astype(float), np.ones(2 * LEAD_FRAMES + 5), "same") == 0
    assert quiet[pause].sum() >= 5 and motion.opening[quiet].max() < -2.9
    assert motion.opening[mask].max() > 0.5


def test_motion_model_describes_itself(tmp_path) -> None:
    """The shipped model stores its config and format version; a file of another version, config or
    phone set is refused with one line, and files of versions 1 and 2 read as mel + phones."""
    import dataclasses
    import json

    from talkface.errors import TalkfaceError
    from talkface.motion.learned import CONFIG, DEFAULT_WEIGHTS, FORMAT_VERSION, LearnedMotion

    with np.load(DEFAULT_WEIGHTS) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays.pop("meta")))
    assert meta["version"] == FORMAT_VERSION and meta["config"]["n_coeffs"] == CONFIG.n_coeffs
    assert LearnedMotion.load(DEFAULT_WEIGHTS).config == CONFIG

    def write(name: str, **changes) -> Path:
        path = tmp_path / name
        np.savez(path, **arrays, meta=np.array(json.dumps({**meta, **changes})))
        return path

    for path, problem in [
        (write("v9.npz", version=9), "format version 9"),
        (write("cfg.npz", config={**meta["config"], "whisper_context": 4}), "do not fit its config"),
        (write("bad.npz", config={"depth": 3}), "config not understood"),
        (write("ph.npz", phones=["a", "b"]), "another phone set"),
        (write("fmt.npz", format="something else"), "not a talkface motion model"),
    ]:
        with pytest.raises(TalkfaceError, match=problem) as exc:
            LearnedMotion.load(path)
        assert "\n" not in str(exc.value)
    # Files of versions 1 (arrays only) and 2 (config without inputs) were made on mel and phones.
    from talkface.motion.learned import LEGACY_INPUTS

    old = dataclasses.replace(CONFIG, inputs=LEGACY_INPUTS)
    arrays["weights"] = np.zeros((old.n_weights, CONFIG.n_coeffs), np.float32)
    v1 = tmp_path / "v1.npz"
    np.savez(v1, **arrays)
    config = {k: v for k, v in meta["config"].items() if k not in ("inputs", "whisper_layer")}
    v2 = write("v2.npz", version=2, config=config)
    for path in (v1, v2):
        assert LearnedMotion.load(path).config.inputs == LEGACY_INPUTS
