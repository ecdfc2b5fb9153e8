"""The ``talkface`` command: ``sync``, ``demo``, ``serve``, ``eval`` and ``train``.

Bad input ends with one line on stderr (``talkface: <file>: <problem>``) and exit status 1, never a
traceback; a run interrupted by Ctrl-C exits 130, by SIGTERM 143. None leaves a partial output file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from talkface.cli_train import add_train_parser, run_train
from talkface.demo import DEMO_TEXT, demo_face
from talkface.engines.registry import DEFAULT_ENGINE, ENGINES, engine_options
from talkface.errors import (
    EXIT_TERMINATED,
    TalkfaceError,
    exit_status_for_signal,
    install_signal_handlers,
)
from talkface.face.quiet import silence_native_stderr_for_process
from talkface.options import (
    PIXELS_METAVAR,
    EngineOptions,
    OptionField,
    Options,
    SyncOptions,
    option_fields,
    options_by_name,
)
from talkface.pipeline import sync


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line (``talkface: argument --fps: ...``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"talkface: {message} (see {self.prog} --help)\n")


def _add_option_flags(p: argparse.ArgumentParser, classes: list[type[Options]]) -> None:
    """One flag per option of ``classes`` (:func:`~talkface.options.option_fields`); an option that
    several engines have (``pads``) is one flag, its help naming each engine's meaning. Unset flags
    are absent from the parsed namespace, so that the options classes' defaults apply."""
    for name, entries in options_by_name(classes).items():
        f = entries[0][1]
        helps = []
        for owner, g in entries:
            default = _shown_default(g)
            text = g.spec.help + (f" (default {default})" if default and "default" not in g.spec.help else "")
            helps.append(f"{owner} engine: {text}" if owner else text)
        kwargs: dict = {
            "dest": name,
            "default": argparse.SUPPRESS,
            "help": "; ".join(helps).replace("%", "%%"),
        }
        if f.kind == "bool":
            kwargs["action"] = "store_true"
        elif f.kind == "pixels":
            kwargs.update(type=int, nargs=4, metavar=PIXELS_METAVAR)
        elif f.kind == "numbers":
            kwargs.update(type=float, nargs="+", metavar="N")
        elif f.kind == "choice":
            kwargs["choices"] = f.spec.choices
        else:
            kwargs["type"] = {"int": int, "float": float, "path": Path}[f.kind]
        p.add_argument(f.flag, *f.spec.aliases, **kwargs)


def _shown_default(f: OptionField) -> str:
    if f.default is None or f.kind == "bool":
        return ""
    if f.kind == "pixels":
        return " ".join(map(str, f.default))
    return f"{f.default:g}" if f.kind == "float" else str(f.default)


def _add_engine_flags(p: argparse.ArgumentParser) -> None:
    """``--engine`` and every registered engine's options."""
    p.add_argument(
        "--engine",
        choices=list(ENGINES),
        default=DEFAULT_ENGINE,
        help="; ".join(f"{spec.name} = {spec.summary}" for spec in ENGINES.values()),
    )
    _add_option_flags(p, [spec.options for spec in ENGINES.values()])


def _add_render_options(p: argparse.ArgumentParser) -> None:
    _add_engine_flags(p)
    _add_option_flags(p, [SyncOptions])
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary line")


def _engine_options(args: argparse.Namespace) -> EngineOptions:
    """The chosen engine's options from the flags given (another engine's option is an error)."""
    names = {f.name for spec in ENGINES.values() for f in option_fields(spec.options)}
    return engine_options(args.engine, **{n: getattr(args, n) for n in names if hasattr(args, n)})


def _add_serve_parser(sub) -> None:
    from talkface.web.config import ServeConfig

    default = ServeConfig()
    s = sub.add_parser(
        "serve",
        help="web page and HTTP API (needs the web extra: pip install 'talkface[web]')",
        description="A Gradio page at http://HOST:PORT/ (face and speech in, preview, progress, the video "
        "out) and an HTTP API on the same server: POST /v1/jobs (multipart: face, audio or text + lang, "
        "options) -> job id; GET /v1/jobs/ID -> state, progress, error; GET /v1/jobs/ID/result -> the MP4. "
        "Works offline; uploads and results stay in a private temporary folder, deleted on exit.",
    )
    s.add_argument("--host", default=default.host, help=f"address to listen on (default {default.host})")
    s.add_argument("--port", type=int, default=default.port, help=f"TCP port (default {default.port})")
    s.add_argument(
        "--workers",
        type=int,
        default=default.workers,
        help=f"jobs rendered at once (default {default.workers})",
    )
    s.add_argument(
        "--queue",
        type=int,
        default=default.max_queue,
        help=f"jobs waiting beyond those; more get HTTP 429 (default {default.max_queue})",
    )
    s.add_argument(
        "--ttl",
        type=float,
        default=default.ttl,
        help=f"seconds a result is kept after the job finishes (default {default.ttl:g})",
    )
    s.add_argument(
        "--max-upload-mb",
        type=float,
        default=default.max_upload_mb,
        help=f"largest upload per file in MB; larger gets HTTP 413 (default {default.max_upload_mb:g})",
    )
    s.add_argument(
        "--max-seconds",
        type=float,
        default=default.max_seconds,
        help="longest speech or face video in seconds; longer gets HTTP 422 "
        f"(default {default.max_seconds:g})",
    )
    s.add_argument(
        "--max-text-chars",
        type=int,
        default=default.max_text_chars,
        help=f"longest text to speak (default {default.max_text_chars})",
    )
    s.add_argument(
        "--job-timeout",
        type=float,
        default=default.job_timeout,
        help="seconds a render may run before it is stopped and its job fails "
        f"(default {default.job_timeout:g})",
    )
    s.add_argument(
        "--checkpoint", type=Path, default=None, help="Wav2Lip weights: offers the wav2lip engine too"
    )
    s.add_argument(
        "--hyperlips-checkpoint",
        type=Path,
        default=None,
        help="HyperLips base weights: offers the hyperlips engine too",
    )
    s.add_argument(
        "--hyperlips-hr-checkpoint",
        type=Path,
        default=None,
        help="HyperLips HR decoder weights, used with --hyperlips-checkpoint",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (built on demand, never at import time)."""
    parser = _Parser(
        prog="talkface", description="Make a face in a video or photo speak, lip-synced, on CPU."
    )
    from talkface import __version__

    parser.add_argument("--version", action="version", version=f"talkface {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser(
        "sync",
        help="lip-sync a face video or photo to speech",
        description="Lip-sync a face video or photo to an audio file or to text spoken by "
        "the Piper neural voice (English) or espeak-ng (every language). Writes H.264 + AAC MP4 at the "
        "input resolution and frame rate, "
        "as long as the speech.",
    )
    p.add_argument(
        "--face",
        type=Path,
        default=None,
        help="face video (any format FFmpeg reads) or photo (with --avatar: default the avatar's own video)",
    )
    p.add_argument(
        "--avatar",
        type=Path,
        default=None,
        help="a folder written by `talkface avatar train`: render that person with their own network",
    )
    speech = p.add_mutually_exclusive_group(required=True)
    speech.add_argument(
        "--audio", type=Path, help="speech: wav, mp3, flac, m4a, ogg... or a video whose audio track is used"
    )
    speech.add_argument("--text", help="speech: text, spoken by --voice")
    p.add_argument("--lang", default="en", help="language of --text: en, zh, de, fr, ... (default en)")
    p.add_argument(
        "-o",
        "--output",
        "--outfile",
        dest="output",
        type=Path,
        required=True,
        help="output .mp4 (written to a temporary name, renamed when complete)",
    )
    _add_render_options(p)

    d = sub.add_parser(
        "demo",
        help="render the bundled demo: the NASA astronaut portrait speaking a paragraph",
        description="The portrait from scikit-image's data.astronaut() (NASA, public domain) "
        "speaks a short English paragraph in the Piper neural voice.",
    )
    d.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("results/demo.mp4"),
        help="output .mp4 (default results/demo.mp4)",
    )
    d.add_argument("--text", default=DEMO_TEXT, help="what the astronaut says")
    _add_render_options(d)

    _add_serve_parser(sub)
    _add_avatar_parser(sub)

    e = sub.add_parser(
        "eval",
        help="lip-sync and image-quality metrics of a video, or a self-reenactment benchmark",
        description="Scores GENERATED's lip sync against its own audio track (LSE-D, LSE-C, AV offset, as "
        "syncnet_python computes them) and, with --reference, its mouth against the real video (inner-lip "
        "aperture and width correlation, LMD, lip jitter, PSNR/SSIM inside and outside the mouth, mouth "
        "sharpness, FID with --inception). With --benchmark DIR, re-drives every clip of DIR with its own "
        "speech and writes report.md, report.json and PNG plots to --out.",
    )
    e.add_argument("video", nargs="?", type=Path, help="the generated video (with its speech as audio track)")
    e.add_argument("--reference", type=Path, help="the real video the generated one should reproduce")
    e.add_argument("--json", type=Path, help="also write the metrics to this JSON file")
    e.add_argument(
        "--benchmark", type=Path, metavar="DIR", help="self-reenactment over a folder of real clips"
    )
    _add_engine_flags(e)  # the engine re-driving the clips (--benchmark)
    e.add_argument(
        "--mode",
        choices=("photo", "reversed"),
        default="photo",
        help="--benchmark face input: photo = the clip's first frame (default); reversed = its frames in "
        "reverse order, so that passing the input mouth through cannot score",
    )
    e.add_argument("--clips", type=int, help="--benchmark: only the first N clips (alphabetical)")
    e.add_argument(
        "--out",
        type=Path,
        default=Path("results/eval"),
        help="--benchmark report folder (default results/eval)",
    )
    e.add_argument(
        "--syncnet",
        type=Path,
        help="LSE evaluator: a Wav2Lip-format expert SyncNet checkpoint (default: the one trained here, "
        "talkface/weights/syncnet.pth)",
    )
    e.add_argument(
        "--syncnet-v2",
        type=Path,
        help="LSE evaluator: syncnet_python's syncnet_v2.model, for figures on the published scale",
    )
    e.add_argument(
        "--inception", type=Path, help="TorchScript Inception-v3 (inception-2015-12-05.pt) to compute FID"
    )

    add_train_parser(sub)
    return parser


def _eval(args: argparse.Namespace) -> None:
    from talkface.evaluation.sync import ExpertEvaluator, SyncNetV2Evaluator

    if (args.video is None) == (args.benchmark is None):
        raise TalkfaceError("give either a generated video or --benchmark DIR")
    if args.syncnet and args.syncnet_v2:
        raise TalkfaceError("give at most one of --syncnet and --syncnet-v2")
    evaluator = SyncNetV2Evaluator(args.syncnet_v2) if args.syncnet_v2 else ExpertEvaluator(args.syncnet)
    if args.benchmark is not None:
        from talkface.evaluation.benchmark import run_benchmark

        report = run_benchmark(
            args.benchmark,
            args.out,
            engine=_engine_options(args),
            mode=args.mode,
            evaluator=evaluator,
            limit=args.clips,
        )
        print()
        print(report.summary_table())
        print(f"{len(report.clips)} clips in {report.seconds:.0f} s; report: {args.out / 'report.md'}")
        return
    from talkface.evaluation.video import evaluate_video

    inception = None
    if args.inception:
        from talkface.evaluation.image import InceptionFeatures

        inception = InceptionFeatures(args.inception)
    result = evaluate_video(args.video, args.reference, evaluator, inception)
    print(result.table())
    if args.json:
        import json

        from talkface.media.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps(result.to_json(), indent=1))


def _apply_avatar(args: argparse.Namespace) -> None:
    """``sync --avatar``: the hyperlips engine with the avatar's network (the driven video's first
    frame as the reference, as the published inference, unless ``--reference-image``), and the
    avatar's own video as the face unless ``--face`` is given.

    Raises:
        TalkfaceError: no face and no avatar, a corrupt avatar, another engine asked for, or the
            avatar's video gone without ``--face``.
    """
    if args.avatar is None:
        if args.face is None:
            raise TalkfaceError("give --face (a video or photo), or --avatar")
        return
    from talkface.avatar import load_avatar

    avatar = load_avatar(args.avatar)
    if args.engine not in (DEFAULT_ENGINE, "hyperlips"):
        raise TalkfaceError(f"--avatar renders with the hyperlips engine, not {args.engine}")
    args.engine = "hyperlips"
    # engine flags not given are absent from args (each engine keeps its own defaults)
    args.checkpoint = getattr(args, "checkpoint", None) or avatar.base
    if args.face is None:
        if not avatar.video.is_file():
            raise TalkfaceError("the avatar's own video is gone: give --face", avatar.video)
        args.face = avatar.video


def _avatar(args: argparse.Namespace) -> None:
    from talkface.avatar import train_avatar

    if args.minutes <= 0:
        raise TalkfaceError("--minutes must be positive")
    avatar = train_avatar(args.video, args.out, args.minutes, args.end, args.init, args.seed)
    held = avatar.meta["held_out"]
    print(
        f"wrote {avatar.folder}: {avatar.meta['training']['steps']} steps; held-out L1 {held['l1']:.4f}, "
        f"sync loss {held['sync']:.3f} (real frames {held['sync_real']:.3f})"
    )


def _add_avatar_parser(sub) -> None:
    from talkface.avatar import DEFAULT_MINUTES, MIN_SECONDS

    a = sub.add_parser("avatar", help="train a person-specific avatar on their own footage")
    asub = a.add_subparsers(dest="avatar_command", required=True, parser_class=_Parser)
    t = asub.add_parser(
        "train",
        help="fine-tune HyperLips on one person's talking footage (1-5 minutes)",
        description="Prepares the footage's face crops, fine-tunes the shipped generic HyperLips network on "
        "them within --minutes, and writes a self-describing avatar folder (avatar.json, base.pth, "
        "reference.png, model_card.md). Use it with `talkface sync --avatar OUT --audio new.wav`. "
        "Interrupted (Ctrl-C), it resumes when run again with the same --out.",
    )
    t.add_argument("video", type=Path, help=f"the person's talking footage (at least {MIN_SECONDS:g} s)")
    t.add_argument("--out", type=Path, required=True, help="the avatar folder to write")
    t.add_argument(
        "--minutes",
        type=float,
        default=DEFAULT_MINUTES,
        help=f"training budget (default {DEFAULT_MINUTES:g})",
    )
    t.add_argument("--end", type=float, default=None, help="use the footage only up to this second")
    t.add_argument(
        "--init", type=Path, default=None, help="weights to start from (default: the shipped ones)"
    )
    t.add_argument("--seed", type=int, default=0)


def _render_kwargs(args: argparse.Namespace) -> dict:
    sync_options = {
        f.name: getattr(args, f.name) for f in option_fields(SyncOptions) if hasattr(args, f.name)
    }
    return dict(engine=_engine_options(args), quiet=args.quiet, **sync_options)


def _serve(args: argparse.Namespace) -> None:
    from talkface.web.config import ServeConfig
    from talkface.web.server import serve

    for path in (args.checkpoint, args.hyperlips_checkpoint, args.hyperlips_hr_checkpoint):
        if path is not None and not path.is_file():
            raise TalkfaceError("checkpoint not found", path)
    if args.hyperlips_hr_checkpoint is not None and args.hyperlips_checkpoint is None:
        raise TalkfaceError("--hyperlips-hr-checkpoint needs --hyperlips-checkpoint")
    for name in ("workers", "queue", "ttl", "max_upload_mb", "max_seconds", "max_text_chars", "job_timeout"):
        if getattr(args, name) <= 0:
            raise TalkfaceError(f"--{name.replace('_', '-')} must be positive")
    serve(
        ServeConfig(
            host=args.host,
            port=args.port,
            workers=args.workers,
            max_queue=args.queue,
            ttl=args.ttl,
            max_upload_mb=args.max_upload_mb,
            max_seconds=args.max_seconds,
            max_text_chars=args.max_text_chars,
            job_timeout=args.job_timeout,
            checkpoint=args.checkpoint,
            hyperlips_checkpoint=args.hyperlips_checkpoint,
            hyperlips_hr_checkpoint=args.hyperlips_hr_checkpoint,
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``talkface`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    silence_native_stderr_for_process()
    install_signal_handlers()  # SIGTERM cleans up as Ctrl-C does (serve installs its own handler)
    try:
        if args.command == "train":
            run_train(args)
            return 0
        if args.command == "eval":
            _eval(args)
            return 0
        if args.command == "serve":
            _serve(args)
            return 0
        if args.command == "avatar":
            _avatar(args)
            return 0
        if args.command == "sync":
            _apply_avatar(args)
            result = sync(
                args.face,
                args.output,
                audio=args.audio,
                text=args.text,
                lang=args.lang,
                **_render_kwargs(args),
            )
        else:
            import tempfile

            args.output.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="talkface-demo-") as tmp:
                result = sync(
                    demo_face(Path(tmp)), args.output, text=args.text, lang="en", **_render_kwargs(args)
                )
    except BaseException as exc:
        # A signal first: one that landed inside an import or a native callback can surface as
        # another error (an ImportError, a TalkfaceError about a half-read file).
        status = exit_status_for_signal()
        if status is not None:
            word = "terminated" if status == EXIT_TERMINATED else "interrupted"
            print(f"talkface: {word}", file=sys.stderr)
            # Out at once: the cleanup has run, and a Ctrl-C that native code swallowed would make
            # the interpreter's shutdown kill the process by SIGINT instead of exiting with status.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
        if isinstance(exc, TalkfaceError):
            print(f"talkface: {exc}", file=sys.stderr)
            return 1
        raise
    if not args.quiet:
        print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
