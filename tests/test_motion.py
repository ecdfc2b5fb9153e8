"""Stage A: speech -> mouth motion follows the speech."""

from __future__ import annotations

import numpy as np
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
