"""Speech in: any PyAV-readable audio to 16 kHz mono; espeak-ng text to speech."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import data_file

from talkface.errors import TalkfaceError
from talkface.media.audio import SAMPLE_RATE, load_audio
from talkface.speech.tts import synthesize
from talkface.speech.vad import speech_mask


@pytest.mark.parametrize(
    ("name", "seconds"),
    [
        ("audio/ja_sadtalker_japanese.wav", 9.09),  # 48 kHz stereo wav
        ("audio/en_librivox_copperfield_06.mp3", 104.05),  # 44.1 kHz stereo mp3
        ("audio/zh_musetalk_sun.wav", 22.49),  # 44.1 kHz mono
        ("video/grid_brbk7n.mpg", 3.0),  # audio track of an MPEG-PS video
    ],
)
def test_load_audio_resamples_to_16k_mono(name: str, seconds: float) -> None:
    x = load_audio(data_file(name))
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) / SAMPLE_RATE - seconds) < 0.1
    assert 0.01 < np.abs(x).max() <= 1.0


def test_load_audio_errors(tmp_path) -> None:
    with pytest.raises(TalkfaceError, match="file not found"):
        load_audio(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_text("this is not audio")
    with pytest.raises(TalkfaceError, match="junk.wav: is not a video, image or audio file we can read"):
        load_audio(junk)
    image = data_file("image/chalamet_dreamtalk_f30.png")
    with pytest.raises(TalkfaceError, match="no audio stream"):
        load_audio(image)


@pytest.mark.parametrize(
    ("text", "lang"), [("Hello world, this is a test.", "en"), ("你好，世界。今天天气很好。", "zh")]
)
def test_tts_speaks_with_phoneme_timing(text: str, lang: str) -> None:
    pcm, rate, phonemes = synthesize(text, lang)
    assert rate == 22050 and len(pcm) / rate > 1.0
    assert np.abs(pcm).max() > 0.1
    starts = [p[0] for p in phonemes]
    assert len(phonemes) >= 8 and starts == sorted(starts) and phonemes[-1][1] <= len(pcm) / rate + 1e-6


def test_tts_errors() -> None:
    with pytest.raises(TalkfaceError, match="text is empty"):
        synthesize("   ")
    with pytest.raises(TalkfaceError, match="unknown language"):
        synthesize("hello", "xx")


def test_vad_marks_pause_as_silence() -> None:
    from talkface.media.audio import resample

    pcm, rate, _ = synthesize("One two three.")
    x = resample(pcm, rate)
    gap = np.zeros(SAMPLE_RATE, np.float32)  # 1 s pause
    speech = np.concatenate([x, gap, x])
    mask = speech_mask(speech, n_frames=int(len(speech) / SAMPLE_RATE * 25), fps=25)
    pause = slice(int(len(x) / SAMPLE_RATE * 25) + 6, int((len(x) + len(gap)) / SAMPLE_RATE * 25) - 6)
    assert not mask[pause].any()
    assert mask[:10].sum() + mask[-20:].sum() > 5


@pytest.mark.parametrize(
    ("fmt", "codec", "rate", "layout"),
    [
        ("flac", "flac", 44100, "stereo"),
        ("m4a", "aac", 48000, "stereo"),
        ("ogg", "libopus", 24000, "mono"),
        ("mp3", "libmp3lame", 22050, "mono"),
    ],
)
def test_load_audio_other_formats(tmp_path, fmt: str, codec: str, rate: int, layout: str) -> None:
    import av

    from talkface.media.audio import resample

    reference = load_audio(data_file("audio/es_dreamtalk_spanish1.wav"))
    x = resample(reference, SAMPLE_RATE, rate)
    path = tmp_path / f"speech.{fmt}"
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=rate)
        s.layout = layout
        channels = 2 if layout == "stereo" else 1
        step = 1024
        for start in range(0, len(x), step):
            chunk = np.repeat(x[None, start : start + step], channels, axis=0).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate, frame.pts = rate, start
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode(None):
            c.mux(packet)
    y = load_audio(path)
    assert abs(len(y) - len(reference)) < 0.06 * SAMPLE_RATE
    n = min(len(y), len(reference)) - 4000
    # Same waveform back (codec delay of up to a few ms allowed): best correlation over small lags.
    best = max(
        np.corrcoef(y[2000 + lag : 2000 + lag + n - 2000], reference[2000:n])[0, 1]
        for lag in range(0, 1200, 8)
    )
    assert best > 0.9


def test_vad_streams_and_audio_is_read_to_its_last_sample(tmp_path) -> None:
    """The VAD steps through the speech without a padded copy, as silero-vad's own wrapper would;
    load_audio keeps the resampler's tail (its flush)."""
    from talkface.speech import vad

    x = load_audio(data_file("audio/es_dreamtalk_spanish1.wav"))[:50_000]
    n_chunks = -(-len(x) // vad.VAD_CHUNK)
    padded = np.zeros(vad.VAD_CONTEXT + n_chunks * vad.VAD_CHUNK, np.float32)
    padded[vad.VAD_CONTEXT : vad.VAD_CONTEXT + len(x)] = x
    state, want = np.zeros((2, 1, 128), np.float32), []
    for k in range(n_chunks):
        window = padded[None, k * vad.VAD_CHUNK : (k + 1) * vad.VAD_CHUNK + vad.VAD_CONTEXT]
        out, state = vad._session().run(None, {"input": window, "state": state, "sr": np.array(16000)})
        want.append(out[0, 0])
    np.testing.assert_allclose(vad.speech_probability(x), want, atol=1e-6)
    assert max(want) > 0.5  # speech was found
    from talkface.media.audio import save_wav

    wav = save_wav(tmp_path / "s.wav", np.tile(x, 3), 44100)  # 150,000 samples at 44.1 kHz
    assert abs(len(load_audio(wav)) - round(150_000 * 16000 / 44100)) <= 1
