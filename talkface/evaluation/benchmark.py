"""Self-reenactment benchmark: re-drive every real clip of a folder with its own speech and score it.

Each clip is re-driven by an engine in one mode:

- ``photo``: from the clip's first frame with a face, as a photo (the head stays still);
- ``reversed``: from the clip's frames in reverse time order, as the face video, so that an engine
  passing the input mouth through scores near zero.

The output is scored against the real clip with :func:`~talkface.evaluation.video.evaluate_video`
(the real clip's own lip sync is scored too, as the ceiling). The report folder receives
``report.md``, ``report.json``, ``per_clip.png`` (aperture r and LSE-D per clip) and
``worst_clip.png`` (aperture over time, generated vs real, for the clip with the lowest aperture r).
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from talkface.errors import TalkfaceError
from talkface.evaluation.sync import SyncEvaluator
from talkface.evaluation.video import VideoEvaluation, evaluate_video
from talkface.face.quiet import native_stderr_silenced
from talkface.face.track import FaceTracker
from talkface.media.atomic import atomic_path, write_text_atomic
from talkface.media.video import VIDEO_SUFFIXES, FaceMedia
from talkface.options import EngineOptions

MODES = ("photo", "reversed")
# Metrics summarised over clips: (key, label, format).
SUMMARY = [
    ("aperture_r", "aperture r", ".3f"),
    ("std_ratio", "aperture std ratio", ".2f"),
    ("width_r", "width r", ".3f"),
    ("lmd", "LMD (% IOD)", ".2f"),
    ("lse_d", "LSE-D", ".3f"),
    ("reference_lse_d", "LSE-D of the real clip", ".3f"),
    ("lse_c", "LSE-C", ".3f"),
    ("reference_lse_c", "LSE-C of the real clip", ".3f"),
    ("jitter_ratio", "lip jitter / real", ".2f"),
    ("psnr_mouth", "PSNR mouth (dB)", ".2f"),
    ("ssim_mouth", "SSIM mouth", ".3f"),
    ("sharpness", "mouth sharpness", ".1f"),
    ("reference_sharpness", "mouth sharpness, real", ".1f"),
    ("appearance", "mouth appearance (nearest real = 1)", ".2f"),
    ("appearance_sharpness", "mouth strip sharpness / real", ".2f"),
]


def first_face_frame(clip: Path, out: Path) -> Path:
    """Write the clip's first frame in which a face is found (usually frame 0) as a PNG.

    Raises:
        TalkfaceError: no face in any frame.
    """
    with native_stderr_silenced():
        tracker = FaceTracker(static=True)
        try:
            for rgb in FaceMedia(clip).frames():
                if tracker(rgb).landmarks is not None:
                    cv2.imwrite(str(out), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                    return out
        finally:
            tracker.close()
    raise TalkfaceError("no face found in any frame", clip)


def lossless_video(frames: list[np.ndarray], fps: float, out: Path) -> Path:
    """Write RGB frames without audio, x264 lossless (qp 0) in yuv420p (odd sizes cropped by a
    pixel), so the same frames always give the same pixels. (At crf 12 the encoded pixels here
    depended on what the process had encoded before, enough to move a short clip's reversed-mode
    aperture r by 0.07 in ``benchmarks/lipsync_accuracy.py``.)"""
    height, width = frames[0].shape[:2]
    with av.open(str(out), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        s.width, s.height, s.pix_fmt = width - width % 2, height - height % 2, "yuv420p"
        s.options = {"qp": "0", "preset": "veryfast"}
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f[: s.height, : s.width]), format="rgb24")
            vf.pts = i
            c.mux(s.encode(vf))
        c.mux(s.encode(None))
    return out


def reversed_video(clip: Path, out: Path) -> Path:
    """The clip's frames in reverse order, same size and frame rate, no audio (:func:`lossless_video`)."""
    media = FaceMedia(clip)
    return lossless_video(list(media.frames())[::-1], media.fps, out)


def face_input(clip: Path, mode: str, folder: Path) -> tuple[Path, float | None]:
    """The face input of ``mode`` for ``clip`` and the photo frame rate (``None`` for a video)."""
    if mode == "photo":
        return first_face_frame(clip, folder / "face.png"), FaceMedia(clip).fps
    return reversed_video(clip, folder / "reversed.mp4"), None


@dataclass
class BenchmarkReport:
    """Results of :func:`run_benchmark`.

    Attributes:
        clips: per-clip :class:`VideoEvaluation` (keyed by file name).
        skipped: clips that could not be used, with the reason.
        summary: per metric ``{"mean", "median"}`` over clips.
        seconds: wall time.
    """

    engine: str
    mode: str
    evaluator: str
    clips: dict[str, VideoEvaluation] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    summary: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0

    def summary_table(self) -> str:
        """Markdown table of means and medians over clips."""
        lines = ["| metric | mean | median |", "|---|---|---|"]
        for key, label, fmt in SUMMARY:
            if key in self.summary:
                s = self.summary[key]
                lines.append(f"| {label} | {format(s['mean'], fmt)} | {format(s['median'], fmt)} |")
        return "\n".join(lines)


def _summarise(clips: dict[str, VideoEvaluation]) -> dict[str, dict[str, float]]:
    out = {}
    for key, _, _ in SUMMARY:
        values = np.array(
            [getattr(e, key) for e in clips.values() if getattr(e, key) is not None], np.float64
        )
        values = values[~np.isnan(values)]
        if len(values):
            out[key] = {
                "mean": float(values.mean()),
                "median": float(np.median(values)),
                "clips": len(values),
            }
    return out


def run_benchmark(
    data: str | Path,
    out: str | Path,
    *,
    engine: str | EngineOptions = "warp",
    mode: str = "photo",
    evaluator: SyncEvaluator | None = None,
    limit: int | None = None,
    log: Callable[[str], None] = print,
) -> BenchmarkReport:
    """Re-drive every clip of ``data`` with its own speech and write the report to ``out``.

    Args:
        data: folder of real talking clips (``.mp4``, ``.mpg``, ... with speech).
        out: report folder (created).
        engine: a registered engine's name or options object, as for :func:`talkface.sync`.
        mode: ``photo`` or ``reversed`` (:data:`MODES`).
        evaluator: lip-sync network (default: the expert SyncNet trained here).
        limit: only the first ``limit`` clips (alphabetical).
        log: receives one line per clip.

    Raises:
        TalkfaceError: no such folder, no clips in it, unknown mode, a bad engine option, or no
            clip could be scored.
    """
    import talkface
    from talkface.engines.registry import engine_options
    from talkface.evaluation.sync import ExpertEvaluator

    options = engine_options(engine)

    data, out = Path(data), Path(out)
    if mode not in MODES:
        raise TalkfaceError(f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
    if not data.is_dir():
        raise TalkfaceError("not a folder of clips", data)
    clips = sorted(p for p in data.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)[:limit]
    if not clips:
        raise TalkfaceError(f"no video clips ({', '.join(VIDEO_SUFFIXES)}) in the folder", data)
    out.mkdir(parents=True, exist_ok=True)
    evaluator = evaluator or ExpertEvaluator()
    report = BenchmarkReport(engine=options.engine, mode=mode, evaluator=evaluator.name)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="talkface-bench-") as tmp:
        tmp = Path(tmp)
        for clip in clips:
            try:
                face, fps = face_input(clip, mode, tmp)
                video = tmp / "generated.mp4"
                talkface.sync(face, video, audio=clip, engine=options, fps=fps, quiet=True)
                result = evaluate_video(video, clip, evaluator)
            except TalkfaceError as exc:
                report.skipped[clip.name] = exc.problem
                log(f"{clip.name:42s} skipped: {exc.problem}")
                continue
            result.video, result.reference = f"{clip.stem} ({mode}, {options.engine})", clip.name
            report.clips[clip.name] = result
            log(
                f"{clip.name:42s} aperture r {result.aperture_r:+.2f} sd {result.std_ratio:.2f} "
                f"w {result.width_r:+.2f} LMD {result.lmd:5.2f} LSE-D {result.lse_d:.3f} "
                f"(real {result.reference_lse_d:.3f}) offset {result.offset:+d}"
            )
    if not report.clips:
        raise TalkfaceError("no clip could be scored", data)
    report.summary = _summarise(report.clips)
    report.seconds = time.perf_counter() - start
    write_report(report, out)
    return report


def _fmt(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, fmt)


def write_report(report: BenchmarkReport, out: Path) -> None:
    """Write ``report.json``, ``per_clip.png``, ``worst_clip.png`` and ``report.md`` to ``out``."""
    data = {
        "engine": report.engine,
        "mode": report.mode,
        "evaluator": report.evaluator,
        "seconds": round(report.seconds, 1),
        "summary": report.summary,
        "skipped": report.skipped,
        "clips": {name: r.to_json() for name, r in report.clips.items()},
    }
    write_text_atomic(out / "report.json", json.dumps(data, indent=1))
    worst = min(report.clips, key=lambda n: report.clips[n].aperture_r)
    _plot_per_clip(report, out / "per_clip.png")
    _plot_worst(report.clips[worst], worst, out / "worst_clip.png")
    lines = [
        f"# Self-reenactment benchmark: engine `{report.engine}`, mode `{report.mode}`",
        "",
        f"- Command: `talkface {' '.join(sys.argv[1:])}`" if sys.argv[1:] else "- Run from Python",
        f"- Clips scored: {len(report.clips)}; skipped: {len(report.skipped)}; "
        f"wall time {report.seconds:.0f} s",
        f"- Lip sync (LSE-D / LSE-C / offset) by: {report.evaluator}",
        "- Aperture r / std ratio / width r / LMD compare the output's mouth with the real clip's, "
        "frame by frame.",
        "",
        "## Summary",
        "",
        report.summary_table(),
        "",
        "![per clip](per_clip.png)",
        "",
        f"Worst clip by aperture r: `{worst}`",
        "",
        "![worst clip](worst_clip.png)",
        "",
        "## Per clip",
        "",
        "| clip | aperture r | std ratio | width r | LMD | LSE-D | LSE-D real | LSE-C | offset "
        "| PSNR mouth |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in report.clips.items():
        lines.append(
            f"| {name} | {_fmt(r.aperture_r, '.3f')} | {_fmt(r.std_ratio, '.2f')} | "
            f"{_fmt(r.width_r, '.3f')} | "
            f"{_fmt(r.lmd, '.2f')} | {_fmt(r.lse_d, '.3f')} | {_fmt(r.reference_lse_d, '.3f')} | "
            f"{_fmt(r.lse_c, '.3f')} | {r.offset:+d} | {_fmt(r.psnr_mouth, '.2f')} |"
        )
    if report.skipped:
        lines += ["", "## Skipped", ""] + [f"- `{n}`: {why}" for n, why in report.skipped.items()]
    write_text_atomic(out / "report.md", "\n".join(lines) + "\n")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    plt = _pyplot()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _plot_per_clip(report: BenchmarkReport, path: Path) -> None:
    plt = _pyplot()
    names = sorted(report.clips, key=lambda n: report.clips[n].aperture_r)
    y = np.arange(len(names))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 0.22 * len(names) + 1.5), dpi=90, sharey=True)
    left.barh(y, [report.clips[n].aperture_r for n in names], color="tab:blue")
    left.axvline(0, color="k", lw=0.8)
    left.set_yticks(y, [Path(n).stem[:32] for n in names], fontsize=7)
    left.set_xlabel("inner-lip aperture r (generated vs real)")
    gen = [report.clips[n].lse_d for n in names]
    real = [report.clips[n].reference_lse_d or np.nan for n in names]
    right.barh(y - 0.2, gen, height=0.4, label="generated", color="tab:orange")
    right.barh(y + 0.2, real, height=0.4, label="real clip", color="tab:gray")
    right.set_xlabel("LSE-D (lower is better)")
    right.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"engine {report.engine}, mode {report.mode}")
    _save(fig, path)


def _plot_worst(result: VideoEvaluation, name: str, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.2), dpi=90)
    t = np.arange(len(result.reference_aperture)) / 25.0
    ax.plot(t, result.reference_aperture, label="real", color="tab:gray")
    t = np.arange(len(result.aperture)) / 25.0
    ax.plot(t, result.aperture, label="generated", color="tab:orange")
    ax.set_xlabel("seconds")
    ax.set_ylabel("inner-lip aperture / IOD")
    ax.set_title(f"{name}: aperture r {result.aperture_r:+.2f}")
    ax.legend(loc="upper right")
    _save(fig, path)
