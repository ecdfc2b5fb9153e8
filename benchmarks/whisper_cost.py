"""What the bundled Whisper base and the transcript phones cost per second of speech, on this machine.

For each speech file of ``shared/data/audio``: the models' load (joined-file check included),
transcription with word times (CTranslate2), the motion model's encoder features for 25 fps
video (PyTorch, layer ``MotionConfig.whisper_layer``), and the phones from the transcript
(:func:`talkface.speech.alignment.transcript_phone_labels`), in seconds and per second of speech.

    .venv/bin/python benchmarks/whisper_cost.py [--data ../shared/data] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from talkface.media.audio import SAMPLE_RATE, load_audio
from talkface.motion.learned import CONFIG
from talkface.speech.alignment import transcript_phone_labels
from talkface.speech.whisper import Whisper, WhisperEncoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not (args.data / "audio").is_dir():
        sys.exit(f"{args.data / 'audio'}: no such folder")
    start = time.perf_counter()
    whisper = Whisper(threads=args.threads)
    middle = time.perf_counter()
    encoder = WhisperEncoder()
    print(
        f"model load (with its sha256 check): recognition {middle - start:.2f} s, "
        f"encoder {time.perf_counter() - middle:.2f} s"
    )
    print(f"{'speech':34s} {'s':>6s} {'lang':>4s} {'asr s/s':>8s} {'feat s/s':>8s} {'phones s/s':>10s}  way")
    total = {"seconds": 0.0, "asr": 0.0, "features": 0.0, "phones": 0.0}
    for path in sorted((args.data / "audio").iterdir()):
        samples = load_audio(path)
        seconds = len(samples) / SAMPLE_RATE
        t0 = time.perf_counter()
        language, words = whisper.transcribe(samples)
        t1 = time.perf_counter()
        encoder.frame_features(samples, int(seconds * 25), 25.0, CONFIG.whisper_layer)
        t2 = time.perf_counter()
        _, way = transcript_phone_labels(samples, words, language)
        t3 = time.perf_counter()
        spent = {"seconds": seconds, "asr": t1 - t0, "features": t2 - t1, "phones": t3 - t2}
        for key, value in spent.items():
            total[key] += value
        print(
            f"{path.name[:34]:34s} {seconds:6.1f} {language:>4s} {(t1 - t0) / seconds:8.3f} "
            f"{(t2 - t1) / seconds:8.3f} {(t3 - t2) / seconds:10.3f}  {way}",
            flush=True,
        )
    s = total["seconds"]
    print(
        f"{'all':34s} {s:6.1f} {'':>4s} {total['asr'] / s:8.3f} {total['features'] / s:8.3f} "
        f"{total['phones'] / s:10.3f}"
    )
    command = ".venv/bin/python benchmarks/whisper_cost.py " + " ".join(sys.argv[1:])
    print(f"({os.cpu_count()} CPUs) command: {command}")


if __name__ == "__main__":
    main()
