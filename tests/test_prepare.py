"""`talkface train prepare`: real clips -> LRS2-style layout."""

from __future__ import annotations

import shutil
import wave

import cv2
import numpy as np
from conftest import data_file, read_frames, write_video
from skimage import data

from talkface.media.audio import load_audio
from talkface.training.prepare import prepare_dataset


def test_prepare_real_clips(tmp_path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("video/grid_brbk7n.mpg", "video/vr_face1_asian_man_suit.mp4", "video/lrs2_00022.mp4"):
        shutil.copy(data_file(name), src)
    speech = load_audio(data_file("video/grid_brbk7n.mpg"))
    coffee = cv2.resize(data.coffee(), (320, 240))
    write_video(src / "no_face.mp4", [coffee] * 50, audio=speech[: 2 * 16000])
    faces = read_frames(data_file("video/grid_brbk7n.mpg"))[:50]
    write_video(src / "no_speech.mp4", faces, audio=np.zeros(2 * 16000, np.float32))
    summary = prepare_dataset(src, tmp_path / "out", val_fraction=0.34)
    assert sorted(summary.prepared) == ["grid_brbk7n", "lrs2_00022", "vr_face1_asian_man_suit"]
    assert summary.skipped["no_speech"] == "no speech"
    assert summary.skipped["no_face"].startswith("face in only 0 of")
    assert not (tmp_path / "out" / "no_face").exists()
    out = tmp_path / "out"
    train, val = (out / "train.txt").read_text().split(), (out / "val.txt").read_text().split()
    assert len(val) == 1 and not set(train) & set(val) and len(train) + len(val) == 3
    grid = out / "grid_brbk7n"
    crops = sorted(grid.glob("*.jpg"), key=lambda p: int(p.stem))
    assert len(crops) >= 70 and int(crops[-1].stem) <= 75  # 3 s at 25 fps
    h, w = cv2.imread(str(crops[0])).shape[:2]
    assert 60 < h < 200 and 50 < w < 200  # a face crop, not the 360x288 frame
    with wave.open(str(grid / "audio.wav")) as a:
        assert (
            a.getframerate() == 16000 and a.getnchannels() == 1 and abs(a.getnframes() / 16000 - 3.0) < 0.05
        )
    vr = sorted((out / "vr_face1_asian_man_suit").glob("*.jpg"), key=lambda p: int(p.stem))
    assert abs(int(vr[-1].stem) - 6.13 * 25) < 4  # resampled from its own rate to 25 fps
