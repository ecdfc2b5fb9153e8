"""Phone recognition with the English acoustic model that ships inside the ``pocketsphinx`` wheel.

A phone loop (pocketsphinx's ``allphone`` search with its bundled phone bigram, context-independent
phones) labels every 10 ms of speech with one of the 39 CMU phones or silence. The labels carry
what that model learnt from hours of transcribed speech, which our few minutes of talking clips
cannot teach: on unseen speakers they lift the learned mouth motion from r 0.39 (mel alone) to
0.46 (``talkface/weights/motion.md``).

The language weight is low (0.5): the acoustics decide, not the phone bigram. The beams are
narrow (1e-4), which keeps decoding at about 0.04 x real time on one core; wider ones cost more
and score no better.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import numpy as np

from talkface.media.audio import SAMPLE_RATE

# SIL first, then the 39 phones of the CMU dictionary.
PHONES = (
    "SIL AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH"
).split()
PHONE_FRAMES_PER_SECOND = 100  # pocketsphinx's frame rate
LANGUAGE_WEIGHT = 0.5
BEAM = 1e-4


def _decoder():
    """A new phone-loop decoder (0.1 s). One that decoded an earlier utterance labels the next one a
    little differently (1 of 300 labels on a GRID clip; resetting its cepstral mean is not enough),
    so each call gets its own, as the helper process does, and labels do not depend on history."""
    from pocketsphinx import Config, Decoder, get_model_path

    model = get_model_path()
    config = Config(
        hmm=os.path.join(model, "en-us", "en-us"),
        lm=None,
        allphone=os.path.join(model, "en-us", "en-us-phone.lm.bin"),
        lw=LANGUAGE_WEIGHT,
        beam=BEAM,
        pbeam=BEAM,
        loglevel="FATAL",
    )
    return Decoder(config)


def phone_labels(samples: np.ndarray) -> np.ndarray:
    """The recognised phone of every 10 ms frame.

    Args:
        samples: ``(n,)`` float32 waveform at 16 kHz.

    Returns:
        ``(n // 160 + 1,)`` int64 indices into :data:`PHONES` (0, silence, where nothing was
        recognised).
    """
    return _decode(b"".join(pcm16(samples)))


def n_phone_labels(n_samples: int) -> int:
    """Number of 10 ms label frames for ``n_samples`` samples at 16 kHz."""
    return n_samples * PHONE_FRAMES_PER_SECOND // SAMPLE_RATE + 1


PCM_CHUNK = SAMPLE_RATE * 10  # samples converted to 16-bit PCM at a time (no full-length copies)


def pcm16(samples: np.ndarray) -> Iterator[bytes]:
    """``samples`` as 16-bit PCM bytes, :data:`PCM_CHUNK` samples at a time."""
    for start in range(0, len(samples), PCM_CHUNK):
        chunk = np.clip(samples[start : start + PCM_CHUNK], -1.0, 1.0) * 32767
        yield chunk.astype(np.int16).tobytes()


def _decode(pcm: bytes) -> np.ndarray:
    """:func:`phone_labels` of 16 kHz int16 PCM bytes."""
    decoder = _decoder()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    labels = np.zeros(n_phone_labels(len(pcm) // 2), np.int64)
    index = {p: i for i, p in enumerate(PHONES)}
    for seg in decoder.seg():
        if seg.word in index:
            labels[seg.start_frame : seg.end_frame + 1] = index[seg.word]
    return labels


def start_phone_labels(samples: np.ndarray) -> Callable[[], np.ndarray]:
    """Start :func:`phone_labels` in a helper process; call the returned function for the result.

    pocketsphinx holds Python's GIL while it decodes (0.6 s for 20 s of speech), which would stall
    the decoding and tracking threads of a ``sync`` run; a process runs beside them instead. If
    the helper fails for any reason the labels are computed in this process.

    Args:
        samples: ``(n,)`` float32 waveform at 16 kHz.

    Returns:
        A function that waits for and returns the ``(n // 160 + 1,)`` int64 labels.
    """
    out: dict = {}

    def run() -> None:
        try:
            with subprocess.Popen(
                [sys.executable, "-m", "talkface.speech.phones"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            ) as proc:
                for chunk in pcm16(samples):  # streamed: the helper reads all before it answers
                    proc.stdin.write(chunk)
                proc.stdin.close()
                labels = np.frombuffer(proc.stdout.read(), np.int8).astype(np.int64)
                if proc.wait(timeout=600) == 0 and len(labels) == n_phone_labels(len(samples)):
                    out["labels"] = labels
        except (OSError, subprocess.SubprocessError):
            pass

    thread = threading.Thread(target=run, name="talkface-phones", daemon=True)
    thread.start()

    def result() -> np.ndarray:
        thread.join()
        return out["labels"] if "labels" in out else phone_labels(samples)

    return result


def phone_fractions(
    samples: np.ndarray, n_frames: int, fps: float, labels: np.ndarray | None = None
) -> np.ndarray:
    """For each video frame, the fraction of its span that each phone occupies.

    Args:
        samples: ``(n,)`` float32 waveform at 16 kHz.
        n_frames: number of video frames.
        fps: video frame rate in frames/s.
        labels: the :func:`phone_labels` of ``samples`` if already computed.

    Returns:
        ``(n_frames, len(PHONES))`` float32; each row sums to 1 (frames past the end of the
        speech are silence).
    """
    if labels is None:
        labels = phone_labels(samples)
    edges = np.round(np.arange(n_frames + 1) / fps * PHONE_FRAMES_PER_SECOND).astype(int)
    out = np.zeros((n_frames, len(PHONES)), np.float32)
    for k in range(n_frames):
        seg = labels[edges[k] : max(edges[k + 1], edges[k] + 1)]
        if len(seg):
            out[k] = np.bincount(seg, minlength=len(PHONES)) / len(seg)
        else:
            out[k, 0] = 1.0
    return out


def _main() -> None:
    """Helper process: 16 kHz int16 PCM on stdin -> int8 phone labels on stdout."""
    sys.stdout.buffer.write(_decode(sys.stdin.buffer.read()).astype(np.int8).tobytes())


if __name__ == "__main__":
    _main()
