"""``talkface train ...``: the data preparation and training subcommands of :mod:`talkface.cli`."""

from __future__ import annotations

import argparse
from pathlib import Path

from talkface.training.progress import (
    HRTraining,
    HyperLipsTraining,
    SyncNetTraining,
    TrainingOptions,
    Wav2LipTraining,
)


def add_train_parser(sub) -> None:
    """Add ``train`` and its subcommands to the ``talkface`` parser's subparsers ``sub``."""
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
    _add_syncnet_arg(tw)
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

    thb = tsub.add_parser(
        "hyperlips-base",
        help="train HyperLips' base network (hypernetwork lip sync, 128 px)",
        description="HyperLips' Train_hyperlipsBase.py recipe on the prepared data: masked target + "
        "reference window, per-frame mel windows, loss = 0.03*sync + 0.2*adversarial + 0.77*L1 from the "
        "first step (the frozen expert SyncNet on the faces resized to 96 px), discriminator Adam 5e-4. "
        "Writes OUT/checkpoint_step*.pth (published format; "
        "`talkface sync --engine hyperlips --checkpoint`), OUT/disc_checkpoint_step*.pth, OUT/losses.json "
        "and OUT/losses.png.",
    )
    thb.add_argument("data", type=Path, help="folder written by `talkface train prepare`")
    thb.add_argument("--out", type=Path, default=Path("results/hyperlips-base"), help="checkpoint folder")
    _add_syncnet_arg(thb)
    thb.add_argument("--no-gan", action="store_true", help="without the visual-quality discriminator")
    _add_training_options(thb, HyperLipsTraining())

    thr = tsub.add_parser(
        "hyperlips-hr",
        help="train HyperLips' HR decoder on a trained base network's outputs",
        description="HyperLips' Train_hyperlipsHR.py recipe: the frozen base network renders each frame, "
        "the mesh of the generated face is drawn as its sketch, the HR decoder maps both to the real "
        "frame at 128 x --rescaling px; loss = relativistic adversarial + structural (1 - SSIM, standing in "
        "for VGG-19 and LPIPS, whose weights cannot be downloaded) + L1, on the face and inside the lip box. "
        "Writes OUT/checkpoint_step*.pth (`talkface sync --engine hyperlips --hr-checkpoint`), "
        "OUT/disc_checkpoint_step*.pth, OUT/losses.json and OUT/losses.png.",
    )
    thr.add_argument("data", type=Path, help="folder written by `talkface train prepare`")
    thr.add_argument("--base", type=Path, required=True, help="the trained base network's checkpoint")
    thr.add_argument("--out", type=Path, default=Path("results/hyperlips-hr"), help="checkpoint folder")
    thr.add_argument(
        "--rescaling",
        type=int,
        choices=(1, 2, 4),
        default=HRTraining().rescaling,
        help="output 128 x this px",
    )
    _add_training_options(thr, HRTraining())
    tm = tsub.add_parser(
        "motion",
        help="train the speech -> mouth-motion model on a folder of talking clips (minutes, CPU)",
        description="Tracks every clip's face (mediapipe), runs leave-speakers-out cross-validation (groups "
        "from MANIFEST.tsv's speaker column) of the model and of its ingredients, fits ridge regression "
        "from Whisper encoder features to PCA coefficients of standardised lip motion, and writes OUT "
        "(.npz), its model card (.md) and the cross-validation (.cv.json).",
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
    tm.add_argument(
        "--exclude",
        type=Path,
        default=None,
        help="file listing clips to leave out, one file stem per line (default: talkface/training/"
        "excluded_clips.txt, the shared clips whose audio and video are out of sync)",
    )

    th = tsub.add_parser(
        "head",
        help="train the head-motion model of photo animation (PoseVAE, blinks) on talking clips (CPU)",
        description="Tracks every clip's face with depth, builds the canonical face shape, fits the blink "
        "model to the eyelid tracks and trains SadTalker's PoseVAE on head-pose residuals (every fifth "
        "speaker held out and measured), then writes OUT (head_motion.pt).",
    )
    _add_head_track_args(th, Path("results/head/head_motion.pt"), "PoseVAE")

    te = tsub.add_parser(
        "expression",
        help="train the expression basis and ExpNet of photo animation on talking clips (CPU)",
        description="Tracks every clip's face with depth (the cache of 'train head' can be shared), "
        "builds a PCA basis of expression residuals in the shipped head model's canonical frame and "
        "trains SadTalker's ExpNet (audio, reference expression, blink ratio -> coefficients; every "
        "fifth speaker held out and measured), then writes OUT (expnet.pt).",
    )
    _add_head_track_args(te, Path("results/head/expnet.pt"), "ExpNet")

    tr = tsub.add_parser(
        "mouth",
        help="train the learned mouth renderer on a folder of talking clips (tens of minutes, CPU)",
        description="Crops every clip's mouth region in the face frame (mediapipe; cached in --cache), "
        "then trains the U-Net that fills a masked mouth from a lip-contour sketch and a reference "
        "frame (L1 + gradient L1 + PatchGAN hinge), holding out every 8th speaker group, and writes "
        "OUT (.pt) with the held-out report in its meta.",
    )
    tr.add_argument(
        "data", type=Path, help="folder of talking clips, or a folder holding video/ and MANIFEST.tsv"
    )
    tr.add_argument(
        "--out", type=Path, default=Path("results/mouth/mouth_renderer.pt"), help="checkpoint (.pt)"
    )
    tr.add_argument("--cache", type=Path, default=Path("results/mouth/crops.npz"), help="crops file")
    tr.add_argument("--minutes", type=float, default=40.0, help="training budget (default 40)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument(
        "--init", type=Path, default=None, help="fine-tune this mouth_renderer.pt instead of starting afresh"
    )
    # Loss and sampling knobs (training.mouth_renderer.TrainConfig; unset: its defaults, which
    # reproduce the first shipped model).
    tr.add_argument("--gan-weight", type=float, default=None, help="weight of the adversarial term")
    tr.add_argument(
        "--interior-weight", type=float, default=None, help="extra L1 weight inside the target's inner lips"
    )
    tr.add_argument(
        "--closed-reference",
        type=float,
        default=None,
        help="share of examples whose reference is one of the clip's most closed mouths",
    )
    tr.add_argument(
        "--open-target", action="store_true", help="with a closed reference, the target is an open mouth"
    )
    tr.add_argument(
        "--fill",
        choices=("mouth", "interior"),
        default="mouth",
        help="what the network fills: the whole mouth region (lips and interior), or only the opening "
        "between the lips (the interior renderer used to open a mouth never seen open)",
    )


def _add_head_track_args(p: argparse.ArgumentParser, out: Path, network: str) -> None:
    """The arguments of ``train head`` and ``train expression``, which both learn from the clips'
    face tracks with depth: the data, the model file ``out``, the track cache, time and seed."""
    p.add_argument(
        "data", type=Path, help="folder of talking clips, or a folder holding video/ and MANIFEST.tsv"
    )
    p.add_argument("--out", type=Path, default=out, help="model file (.pt)")
    p.add_argument("--cache", type=Path, default=None, help="folder to cache per-clip tracking in")
    p.add_argument("--minutes", type=float, default=10.0, help=f"{network} training time (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def _add_syncnet_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--syncnet",
        type=Path,
        default=None,
        help="expert SyncNet checkpoint (default: the one shipped in talkface/weights)",
    )


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
    precision = p.add_mutually_exclusive_group()
    precision.add_argument(
        "--fp32",
        action="store_true",
        help="no bf16 autocast (default: bf16 where the CPU has bf16 instructions)",
    )
    precision.add_argument("--bf16", action="store_true", help="bf16 autocast even where the CPU emulates it")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--no-resume", action="store_true", help="start afresh even if OUT has checkpoints")


def run_train(args: argparse.Namespace) -> None:
    """Run the ``train`` subcommand parsed into ``args``."""
    if args.train_command == "motion":
        from talkface.training.motion import train_motion
        from talkface.training.motion_clips import EXCLUDED_CLIPS

        cv = train_motion(
            args.data,
            args.out,
            args.folds,
            args.cache,
            args.fold_models,
            args.augment,
            exclude=args.exclude or EXCLUDED_CLIPS,
        )
        print(f"wrote {args.out} and {args.out.with_suffix('.md')} in {cv['seconds']:.0f} s")
        return
    if args.train_command == "head":
        from talkface.training.head import train_head

        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = train_head(args.data, args.out, args.cache, args.minutes, args.seed)
        print(f"wrote {args.out}: {report['steps']} steps; held out: {report['held_out']}")
        return
    if args.train_command == "expression":
        from talkface.training.expression import train_expression

        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = train_expression(args.data, args.out, args.cache, args.minutes, args.seed)
        print(f"wrote {args.out}: {report['steps']} steps; held out: {report.get('held_out')}")
        return
    if args.train_command == "mouth":
        from talkface.training.mouth_data import MouthCrops, build_mouth_crops
        from talkface.training.mouth_renderer import TrainConfig, train_mouth_renderer

        if args.cache.is_file():
            crops = MouthCrops.load(args.cache)
        else:
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            crops = build_mouth_crops(args.data, args.cache)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        knobs = {
            "gan_weight": args.gan_weight,
            "interior_weight": args.interior_weight,
            "closed_reference": args.closed_reference,
        }
        train = TrainConfig(
            minutes=args.minutes,
            seed=args.seed,
            open_target=args.open_target,
            **{k: v for k, v in knobs.items() if v is not None},
        )
        config = None
        if args.fill == "interior":
            from talkface.models.mouth_renderer import INTERIOR_CONFIG

            config = INTERIOR_CONFIG
        meta = train_mouth_renderer(crops, args.out, config=config, train=train, init=args.init)
        report = meta["held_out"]
        print(
            f"wrote {args.out}: {meta['steps']} steps, held-out L1 {report['model L1']:.2f} levels "
            f"(reference copied in {report['reference L1']:.2f}), PSNR {report['model PSNR']:.2f} dB"
        )
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
        bf16=False if args.fp32 else (True if args.bf16 else None),
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
    elif args.train_command == "hyperlips-base":
        from talkface.training.hyperlips import train_hyperlips_base
        from talkface.weights import SYNCNET

        options = HyperLipsTraining(**common, gan=not args.no_gan)
        result = train_hyperlips_base(
            args.data, args.out, args.syncnet or SYNCNET, options, resume=not args.no_resume
        )
        print(
            f"{args.out}: HyperLips base step {result['step']}, held-out L1 {result['l1']:.4f}, "
            f"sync loss {result['sync']:.3f} (real frames {result['sync_real']:.3f})"
        )
    elif args.train_command == "hyperlips-hr":
        from talkface.training.hyperlips import train_hyperlips_hr

        options = HRTraining(**common, rescaling=args.rescaling)
        result = train_hyperlips_hr(args.data, args.out, args.base, options, resume=not args.no_resume)
        print(
            f"{args.out}: HyperLips HR step {result['step']}, held-out L1 {result['l1']:.4f} "
            f"(base upsampled {result['base_l1']:.4f}), SSIM {result['ssim']:.3f}"
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
