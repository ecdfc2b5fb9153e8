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

from talkface.demo import DEMO_TEXT, demo_face
from talkface.errors import (
    EXIT_TERMINATED,
    TalkfaceError,
    exit_status_for_signal,
    install_signal_handlers,
)
from talkface.face.quiet import silence_native_stderr_for_process
from talkface.media.video import DEFAULT_FPS, PRESETS, VIDEO_PRESET
from talkface.pipeline import ACCELERATORS, ENGINES, MOTIONS, sync
from talkface.training.progress import SyncNetTraining, TrainingOptions, Wav2LipTraining


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line (``talkface: argument --fps: ...``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"talkface: {message} (see {self.prog} --help)\n")


def _add_render_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="warp",
        help="warp = training-free mesh warp of the real lips and jaw (default); "
        "wav2lip = the Wav2Lip generator (needs --checkpoint)",
    )
    p.add_argument(
        "--checkpoint",
        "--checkpoint_path",
        type=Path,
        default=None,
        help="weights for a neural engine: a wav2lip.pth / wav2lip_gan.pth file in the published format",
    )
    p.add_argument(
        "--accelerate",
        choices=ACCELERATORS,
        default="bf16",
        help="how a neural engine runs: bf16 = PyTorch under bf16 autocast (default, ~5x fp32 on this "
        "CPU), onnx = onnxruntime fp32 export (~1.5x), none = plain PyTorch fp32",
    )
    p.add_argument(
        "--motion",
        choices=MOTIONS,
        default="learned",
        help="speech -> mouth model (warp engine): learned = the shipped model trained on real talking clips "
        "(mel + pocketsphinx phones; default); heuristic = formant-band acoustics for --audio and visemes "
        "from espeak-ng's phoneme timing for --text",
    )
    p.add_argument(
        "--motion-model",
        type=Path,
        default=None,
        help="weights for --motion learned (a motion.npz from `talkface train motion`; default: the shipped "
        "talkface/weights/motion.npz)",
    )
    p.add_argument(
        "--fps",
        type=float,
        default=None,
        help=f"frame rate for a photo input (default {DEFAULT_FPS:g}); videos keep their own",
    )
    p.add_argument(
        "--pads",
        type=int,
        nargs=4,
        default=[0, 0, 0, 0],
        metavar=("TOP", "BOTTOM", "LEFT", "RIGHT"),
        help="pixels added around the warped lower face (as Wav2Lip's --pads; e.g. 0 20 0 0 "
        "gives the chin more room)",
    )
    p.add_argument(
        "--box",
        type=int,
        nargs=4,
        default=None,
        metavar=("TOP", "BOTTOM", "LEFT", "RIGHT"),
        help="fixed face box in pixels; skips face detection (as Wav2Lip's --box)",
    )
    p.add_argument("--nosmooth", action="store_true", help="do not smooth face landmarks over time")
    p.add_argument(
        "--resize-factor",
        type=int,
        default=1,
        help="divide the input resolution by this integer first (faster, smaller output)",
    )
    p.add_argument(
        "--loop",
        action="store_true",
        help="cycle a video shorter than the speech (default: ping-pong it back and forth)",
    )
    p.add_argument(
        "--preset",
        choices=PRESETS,
        default=VIDEO_PRESET,
        help=f"x264 preset (default {VIDEO_PRESET}): slower presets make smaller files at the same quality",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary line")


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
        "espeak-ng. Writes H.264 + AAC MP4 at the input resolution and frame rate, "
        "as long as the speech.",
    )
    p.add_argument("--face", required=True, type=Path, help="face video (any format FFmpeg reads) or photo")
    speech = p.add_mutually_exclusive_group(required=True)
    speech.add_argument(
        "--audio", type=Path, help="speech: wav, mp3, flac, m4a, ogg... or a video whose audio track is used"
    )
    speech.add_argument("--text", help="speech: text spoken by espeak-ng")
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
        "speaks a short English paragraph through espeak-ng.",
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
    e.add_argument(
        "--engine",
        choices=ENGINES,
        default="warp",
        help="engine re-driving the clips (--benchmark; default warp)",
    )
    e.add_argument("--checkpoint", type=Path, help="weights for a neural --engine (--benchmark)")
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

    t = sub.add_parser("train", help="prepare data and train models")
    tsub = t.add_subparsers(dest="train_command", required=True)
    tp = tsub.add_parser(
        "prepare",
        help="any folder of talking clips -> LRS2-style layout (25 fps face crops, audio.wav, filelists)",
        description="Writes OUT/<clip>/<i>.jpg face crops at 25 fps, OUT/<clip>/audio.wav (16 kHz mono) and "
        "OUT/train.txt, OUT/val.txt (split by clip). Clips without speech or without a face in most frames "
        "are skipped and listed.",
    )
    tp.add_argument("src", type=Path, help="folder of video clips")
    tp.add_argument("out", type=Path, help="output folder")

    ts = tsub.add_parser(
        "syncnet",
        help="train the expert lip-sync discriminator (SyncNet) on a prepared folder",
        description="Wav2Lip's color_syncnet_train.py recipe: balanced in-sync / off-sync pairs, cosine BCE, "
        "Adam. Writes OUT/checkpoint_step*.pth (published format), OUT/losses.json and OUT/losses.png; "
        "resumes from the latest checkpoint in OUT.",
    )
    ts.add_argument("data", type=Path, help="folder written by `talkface train prepare`")
    ts.add_argument("--out", type=Path, default=Path("results/syncnet"), help="checkpoint folder")
    _add_training_options(ts, SyncNetTraining())
    ts.add_argument(
        "--augment", action="store_true", help="mirror and colour-jitter the face windows (small datasets)"
    )
    ts.add_argument(
        "--jitter",
        action="store_true",
        help="shift the face windows by up to 4 pixels and perturb the mel windows (gain, noise, band shift "
        "and mask; small datasets)",
    )

    tw = tsub.add_parser(
        "wav2lip",
        help="train the Wav2Lip generator (L1 + frozen expert's sync loss [+ visual-quality GAN])",
        description="Wav2Lip's wav2lip_train.py / hq_wav2lip_train.py recipe: masked target + reference "
        "window, per-frame mel windows, loss = sw*sync + dw*adversarial + (1-sw-dw)*L1 with sw 0 -> 0.03 "
        "once the held-out sync loss falls below --sync-start (0.75) and dw 0.07 with --gan. Writes "
        "OUT/checkpoint_step*.pth "
        "(published format; use with `talkface sync --engine wav2lip --checkpoint`), "
        "OUT/disc_checkpoint_step*.pth with --gan, OUT/losses.json and OUT/losses.png.",
    )
    tw.add_argument("data", type=Path, help="folder written by `talkface train prepare`")
    tw.add_argument("--out", type=Path, default=Path("results/wav2lip"), help="checkpoint folder")
    tw.add_argument(
        "--syncnet",
        type=Path,
        default=None,
        help="expert SyncNet checkpoint (default: the one shipped in talkface/weights)",
    )
    tw.add_argument("--gan", action="store_true", help="also train the visual-quality discriminator")
    tw.add_argument(
        "--sync-start",
        type=float,
        default=Wav2LipTraining().sync_start,
        help="held-out sync loss below which the expert's sync term switches on (default: the published "
        "0.75, made for the published expert; with a weaker expert set it above the expert's loss on real "
        "frames, logged as 'eval sync (real frames)', or high to start at once)",
    )
    _add_training_options(tw, Wav2LipTraining())
    tm = tsub.add_parser(
        "motion",
        help="train the speech -> mouth-motion model on a folder of talking clips (minutes, CPU)",
        description="Tracks every clip's face (mediapipe), runs leave-speakers-out cross-validation (groups "
        "from MANIFEST.tsv's speaker column), fits ridge regression from mel + pocketsphinx phone features "
        "to PCA coefficients of standardised lip motion, and writes OUT (.npz), its model card (.md) and "
        "the cross-validation (.cv.json).",
    )
    tm.add_argument(
        "data", type=Path, help="folder of talking clips, or a folder holding video/ and MANIFEST.tsv"
    )
    tm.add_argument("--out", type=Path, default=Path("results/motion/motion.npz"), help="model file (.npz)")
    tm.add_argument("--folds", type=int, default=5, help="leave-speakers-out folds (default 5)")
    tm.add_argument("--cache", type=Path, default=None, help="folder to cache per-clip tracking in")
    tm.add_argument("--fold-models", type=Path, default=None, help="also write each fold's model here")
    tm.add_argument(
        "--augment",
        action="store_true",
        help="add copies of each clip with the speech 8%% slower/faster and with noise at 10/20 dB SNR "
        "(did not help on the shared clips: see talkface/weights/motion.md)",
    )
    return parser


def _add_training_options(p: argparse.ArgumentParser, defaults: TrainingOptions) -> None:
    d = defaults
    p.add_argument(
        "--width", type=float, default=d.width, help=f"channel width (1.0 = published; default {d.width:g})"
    )
    p.add_argument("--batch", type=int, default=d.batch, help=f"samples per step (default {d.batch})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default {d.lr:g})")
    p.add_argument("--steps", type=int, default=d.steps, help="stop at this global step")
    p.add_argument("--minutes", type=float, default=d.minutes, help="also stop after this many minutes")
    p.add_argument("--eval-every", type=int, default=d.eval_every, help="steps between evaluations")
    p.add_argument(
        "--checkpoint-every", type=int, default=d.checkpoint_every, help="steps between checkpoints"
    )
    p.add_argument("--fp32", action="store_true", help="no bf16 autocast")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--no-resume", action="store_true", help="start afresh even if OUT has checkpoints")


def _train(args: argparse.Namespace) -> None:
    if args.train_command == "motion":
        from talkface.training.motion import train_motion

        cv = train_motion(args.data, args.out, args.folds, args.cache, args.fold_models, args.augment)
        print(f"wrote {args.out} and {args.out.with_suffix('.md')} in {cv['seconds']:.0f} s")
        return
    if args.train_command == "prepare":
        from talkface.training.prepare import prepare_dataset

        print(prepare_dataset(args.src, args.out))
        return
    common = dict(
        width=args.width,
        batch=args.batch,
        lr=args.lr,
        steps=args.steps,
        minutes=args.minutes,
        eval_every=args.eval_every,
        checkpoint_every=args.checkpoint_every,
        bf16=not args.fp32,
        seed=args.seed,
    )
    if args.train_command == "syncnet":
        from talkface.training.syncnet import train_syncnet

        options = SyncNetTraining(**common, augment=args.augment, jitter=args.jitter)
        result = train_syncnet(args.data, args.out, options, resume=not args.no_resume)
        print(
            f"{args.out}: SyncNet step {result['step']}, held-out loss {result['loss']:.3f}, "
            f"accuracy {result['accuracy']:.3f} (in sync vs >= 5 frames off)"
        )
    else:
        from talkface.training.wav2lip import train_wav2lip
        from talkface.weights import SYNCNET

        options = Wav2LipTraining(**common, gan=args.gan, sync_start=args.sync_start)
        result = train_wav2lip(
            args.data, args.out, args.syncnet or SYNCNET, options, resume=not args.no_resume
        )
        print(
            f"{args.out}: Wav2Lip step {result['step']}, held-out L1 {result['l1']:.4f}, "
            f"sync loss {result['sync']:.3f} (real frames {result['sync_real']:.3f}; sync weight "
            f"{result['sync_weight']:g})"
        )


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
            engine=args.engine,
            mode=args.mode,
            checkpoint=args.checkpoint,
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


def _render_kwargs(args: argparse.Namespace) -> dict:
    return dict(
        engine=args.engine,
        motion=args.motion,
        motion_model=args.motion_model,
        checkpoint=args.checkpoint,
        accelerate=args.accelerate,
        fps=args.fps,
        pads=tuple(args.pads),
        box=tuple(args.box) if args.box else None,
        nosmooth=args.nosmooth,
        resize_factor=args.resize_factor,
        loop=args.loop,
        preset=args.preset,
        quiet=args.quiet,
    )


def _serve(args: argparse.Namespace) -> None:
    from talkface.web.config import ServeConfig
    from talkface.web.server import serve

    if args.checkpoint is not None and not args.checkpoint.is_file():
        raise TalkfaceError("checkpoint not found", args.checkpoint)
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
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``talkface`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    silence_native_stderr_for_process()
    install_signal_handlers()  # SIGTERM cleans up as Ctrl-C does (serve installs its own handler)
    try:
        if args.command == "train":
            _train(args)
            return 0
        if args.command == "eval":
            _eval(args)
            return 0
        if args.command == "serve":
            _serve(args)
            return 0
        if args.command == "sync":
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
