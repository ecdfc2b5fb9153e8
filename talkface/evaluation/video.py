"""Evaluate one generated video, optionally against the real video it should reproduce.

One decoding pass at 25 fps (both videos in lock-step) tracks the face of each frame with mediapipe
and collects what every metric needs: the lip-sync evaluator's face crops, the landmarks, and the
per-frame image metrics. Without a reference only the reference-free metrics are reported (LSE-D,
LSE-C, offset, lip jitter, mouth sharpness).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from talkface.errors import TalkfaceError
from talkface.evaluation.appearance import StripSample, appearance_score, mouth_strip
from talkface.evaluation.image import (
    FID_SIZE,
    InceptionFeatures,
    compare_frames,
    face_region,
    frechet_distance,
    mouth_mask,
    sharpness,
)
from talkface.evaluation.landmarks import lip_jitter, lmd
from talkface.evaluation.mouth import MouthTrack, follow_score
from talkface.evaluation.sync import EVAL_FPS, ExpertEvaluator, SyncEvaluator, SyncScore, score_sync
from talkface.face.canonical import canonical_template, to_canonical
from talkface.face.landmarks import N_LANDMARKS, mouth_aperture, mouth_width
from talkface.face.quiet import native_stderr_silenced
from talkface.face.track import FaceTracker
from talkface.media.audio import load_audio
from talkface.media.video import FaceMedia

FID_BATCH = 32


@dataclass
class VideoEvaluation:
    """Metrics of one generated video (``None`` where the input did not allow them).

    Attributes:
        video, reference: the files.
        evaluator: the lip-sync network behind LSE-D / LSE-C / offset.
        frames: frames scored (25 fps); faces: of them with a face found.
        lse_d, lse_c, offset, offset0_distance: :class:`~talkface.evaluation.sync.SyncScore` of the
            generated video.
        reference_lse_d, reference_lse_c, reference_offset: the same for the reference video.
        aperture_r, std_ratio, width_r: inner-lip aperture Pearson r, aperture std ratio
            (generated / real) and mouth-width r against the reference.
        lmd: lip landmark distance to the reference, in % of the interocular distance.
        jitter, reference_jitter: lip jitter in % IOD per frame^2; jitter_ratio their ratio.
        psnr_mouth, psnr_outside (dB), ssim_mouth, ssim_outside: means over frames.
        sharpness, reference_sharpness: variance of the Laplacian of the mouth region.
        fid: Frechet Inception distance of the face crops (with Inception weights only).
        appearance, appearance_sharpness: mouth appearance against the reference without time
            (:mod:`talkface.evaluation.appearance`: about 1 = as close to a real mouth of the clip
            as its own other moments are) and the strips' sharpness ratio to the real ones.
        aperture, reference_aperture: per-frame inner-lip aperture / IOD (NaN without a face),
            for plots; not printed.
    """

    video: str
    reference: str | None
    evaluator: str
    frames: int
    faces: int
    lse_d: float
    lse_c: float
    offset: int
    offset0_distance: float
    reference_lse_d: float | None = None
    reference_lse_c: float | None = None
    reference_offset: int | None = None
    aperture_r: float | None = None
    std_ratio: float | None = None
    width_r: float | None = None
    lmd: float | None = None
    jitter: float | None = None
    reference_jitter: float | None = None
    jitter_ratio: float | None = None
    psnr_mouth: float | None = None
    psnr_outside: float | None = None
    ssim_mouth: float | None = None
    ssim_outside: float | None = None
    sharpness: float | None = None
    reference_sharpness: float | None = None
    appearance: float | None = None
    appearance_sharpness: float | None = None
    fid: float | None = None
    aperture: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    reference_aperture: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    sync_distances: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)

    def to_json(self) -> dict:
        """The metrics as a JSON-ready dict (per-frame arrays as lists, NaN as ``None``)."""
        out = {}
        for key, value in asdict(self).items():
            if isinstance(value, np.ndarray):
                value = [None if math.isnan(v) else round(float(v), 5) for v in value]
            elif isinstance(value, float) and math.isnan(value):
                value = None
            out[key] = value
        return out

    def table(self) -> str:
        """A plain-text table of the metrics, generated next to reference."""
        rows = [
            ("LSE-D (lower is better)", self.lse_d, self.reference_lse_d, ".3f"),
            ("LSE-C (higher is better)", self.lse_c, self.reference_lse_c, ".3f"),
            ("AV offset (frames)", self.offset, self.reference_offset, "d"),
            ("sync distance at offset 0", self.offset0_distance, None, ".3f"),
            ("aperture r vs reference", self.aperture_r, None, ".3f"),
            ("aperture std ratio", self.std_ratio, None, ".2f"),
            ("mouth width r", self.width_r, None, ".3f"),
            ("LMD (% IOD)", self.lmd, None, ".2f"),
            ("lip jitter (% IOD/frame^2)", self.jitter, self.reference_jitter, ".3f"),
            ("PSNR mouth (dB)", self.psnr_mouth, None, ".2f"),
            ("PSNR face outside mouth (dB)", self.psnr_outside, None, ".2f"),
            ("SSIM mouth", self.ssim_mouth, None, ".3f"),
            ("SSIM face outside mouth", self.ssim_outside, None, ".3f"),
            ("mouth sharpness (var. of Laplacian)", self.sharpness, self.reference_sharpness, ".1f"),
            ("FID (face crops)", self.fid, None, ".2f"),
            ("mouth appearance (nearest real = 1)", self.appearance, None, ".2f"),
            ("mouth strip sharpness / real", self.appearance_sharpness, None, ".2f"),
        ]
        lines = [
            f"{self.video}: {self.frames} frames at 25 fps, face in {self.faces}",
            f"lip sync by: {self.evaluator}",
            f"{'metric':38s} {'generated':>10s} {'reference':>10s}",
        ]
        for name, value, ref, fmt in rows:
            if value is None:
                continue
            cell = format(value, fmt) if not (isinstance(value, float) and math.isnan(value)) else "n/a"
            rcell = "" if ref is None else format(ref, fmt)
            lines.append(f"{name:38s} {cell:>10s} {rcell:>10s}")
        if self.fid is None:
            lines.append("FID: not computed (give --inception PATH to a TorchScript inception-2015-12-05.pt)")
        return "\n".join(lines)


class _Side:
    """What the pass collects for one video."""

    def __init__(self, media: FaceMedia, evaluator: SyncEvaluator) -> None:
        self.media = media
        self.evaluator = evaluator
        self.tracker = FaceTracker(static=media.is_photo)
        self.landmarks: list[np.ndarray | None] = []
        self.crops: list[np.ndarray | None] = []
        self.sharpness: list[float] = []
        self.strips = StripSample()
        self.last: np.ndarray | None = None

    def add(self, rgb: np.ndarray) -> np.ndarray | None:
        lm = self.tracker(rgb).landmarks
        self.landmarks.append(lm)
        if lm is not None:
            self.last = lm
            self.sharpness.append(sharpness(rgb, mouth_mask(lm, rgb.shape)))
        self.strips.add(None if lm is None else mouth_strip(rgb, lm))
        # A faceless frame is cropped where the face last was (leading ones are filled in later).
        self.crops.append(None if self.last is None else self.evaluator.face_crop(rgb, self.last))
        return lm

    def crop_array(self) -> np.ndarray:
        first = next((c for c in self.crops if c is not None), None)
        if first is None:
            raise TalkfaceError("no face found in any frame", self.media.path)
        return np.stack([first if c is None else c for c in self.crops])

    def landmark_array(self) -> np.ndarray:
        out = np.full((len(self.landmarks), N_LANDMARKS, 2), np.nan, np.float32)
        for i, lm in enumerate(self.landmarks):
            if lm is not None:
                out[i] = lm
        return out

    def close(self) -> None:
        self.tracker.close()


def _speech(path: Path) -> np.ndarray:
    try:
        return load_audio(path)
    except TalkfaceError as exc:
        raise TalkfaceError(
            f"{exc.problem}: lip sync is scored against the video's own audio track", path
        ) from None


def _nanmean(values: list[float]) -> float:
    a = np.array(values, np.float64)
    a = a[~np.isnan(a)]
    return float(a.mean()) if len(a) else float("nan")


def evaluate_video(
    video: str | Path,
    reference: str | Path | None = None,
    evaluator: SyncEvaluator | None = None,
    inception: InceptionFeatures | None = None,
) -> VideoEvaluation:
    """Score ``video`` (its lip sync against its own audio track), and against ``reference``.

    Args:
        video: the generated video (with its speech as audio track).
        reference: the real video it should reproduce (same speech); enables the landmark and
            image metrics. Compared frame by frame over the common length at 25 fps; the image
            metrics need the same frame size.
        evaluator: lip-sync network (default: :class:`~talkface.evaluation.sync.ExpertEvaluator`).
        inception: feature extractor for FID (needs ``reference``).

    Raises:
        TalkfaceError: unreadable video, no audio track, no face in any frame, or too short
            (under 6 frames / 0.24 s).
    """
    evaluator = evaluator or ExpertEvaluator()
    gen_media = FaceMedia(video)
    samples = _speech(gen_media.path)
    ref_media = FaceMedia(reference) if reference is not None else None
    ref_samples = _speech(ref_media.path) if ref_media is not None else None
    same_size = ref_media is not None and (ref_media.width, ref_media.height) == (
        gen_media.width,
        gen_media.height,
    )
    frame_metrics = []
    fid_feats: tuple[list, list] = ([], [])
    fid_buf: tuple[list, list] = ([], [])

    def flush_fid() -> None:
        for feats, buf in zip(fid_feats, fid_buf, strict=True):
            if buf:
                feats.append(inception(np.stack(buf)))
                buf.clear()

    with native_stderr_silenced():
        gen = _Side(gen_media, evaluator)
        ref = _Side(ref_media, evaluator) if ref_media is not None else None
        try:
            ref_frames = ref_media.frames_at(EVAL_FPS) if ref_media is not None else iter(())
            for g, r in itertools.zip_longest(gen_media.frames_at(EVAL_FPS), ref_frames):
                if g is None:
                    break  # the reference is longer: nothing generated to compare with
                lm_g = gen.add(g[1])
                if r is None or ref is None:
                    continue
                lm_r = ref.add(r[1])
                if lm_r is not None and same_size:
                    frame_metrics.append(compare_frames(g[1], r[1], lm_r))
                if inception is not None and lm_r is not None and lm_g is not None:
                    for buf, rgb, lm in ((fid_buf[0], g[1], lm_g), (fid_buf[1], r[1], lm_r)):
                        rows, cols = face_region(lm, rgb.shape)
                        buf.append(
                            cv2.resize(rgb[rows, cols], (FID_SIZE, FID_SIZE), interpolation=cv2.INTER_AREA)
                        )
                    if len(fid_buf[0]) >= FID_BATCH:
                        flush_fid()
        finally:
            gen.close()
            if ref is not None:
                ref.close()
    sync = _score(evaluator, gen, samples)
    lm_gen = gen.landmark_array()
    result = VideoEvaluation(
        video=str(video),
        reference=None if reference is None else str(reference),
        evaluator=evaluator.name,
        frames=len(lm_gen),
        faces=int((~np.isnan(lm_gen[:, 0, 0])).sum()),
        lse_d=sync.lse_d,
        lse_c=sync.lse_c,
        offset=sync.offset,
        offset0_distance=sync.offset0_distance,
        sharpness=_nanmean(gen.sharpness),
        aperture=mouth_aperture(lm_gen).astype(np.float32),
        sync_distances=sync.distances,
    )
    faces = lm_gen[~np.isnan(lm_gen[:, 0, 0])]
    template = canonical_template(faces[0])
    if ref is not None and ref_samples is not None:
        lm_ref = ref.landmark_array()
        ref_faces = lm_ref[~np.isnan(lm_ref[:, 0, 0])]
        if len(ref_faces):
            template = canonical_template(ref_faces[0])
            ref_sync = _score(evaluator, ref, ref_samples)
            result.reference_lse_d, result.reference_lse_c = ref_sync.lse_d, ref_sync.lse_c
            result.reference_offset = ref_sync.offset
            score = follow_score(
                MouthTrack(result.aperture, mouth_width(lm_gen).astype(np.float32)),
                MouthTrack.of_landmarks(lm_ref),
            )
            result.aperture_r, result.std_ratio, result.width_r = (
                score.aperture_r,
                score.std_ratio,
                score.width_r,
            )
            canon_ref = to_canonical(lm_ref, template)
            result.lmd = 100 * lmd(to_canonical(lm_gen, template), canon_ref)
            result.reference_jitter = 100 * lip_jitter(canon_ref)
            result.reference_sharpness = _nanmean(ref.sharpness)
            result.reference_aperture = mouth_aperture(lm_ref).astype(np.float32)
            look = appearance_score(gen.strips, ref.strips)
            if look is not None:
                result.appearance, result.appearance_sharpness = look.ratio, look.sharpness_ratio
    result.jitter = 100 * lip_jitter(to_canonical(lm_gen, template))
    if result.reference_jitter:
        result.jitter_ratio = result.jitter / result.reference_jitter
    if frame_metrics:
        for key in ("psnr_mouth", "psnr_outside", "ssim_mouth", "ssim_outside"):
            setattr(result, key, _nanmean([getattr(m, key) for m in frame_metrics]))
    if inception is not None:
        flush_fid()
        if fid_feats[0]:
            result.fid = frechet_distance(np.concatenate(fid_feats[0]), np.concatenate(fid_feats[1]))
    return result


def _score(evaluator: SyncEvaluator, side: _Side, samples: np.ndarray) -> SyncScore:
    try:
        return score_sync(evaluator, side.crop_array(), samples)
    except ValueError as exc:
        raise TalkfaceError(str(exc), side.media.path) from None
