"""Learned audio -> mouth motion: a linear temporal network on Whisper encoder features.

**Motion representation.** Per video frame, the 40 lip-contour points and the 7 chin points of
mediapipe's mesh are mapped into a canonical face frame (similarity transform on points the mouth
does not move, interocular distance 1, eyes level; :func:`canonical_motion`). The clip's mean shape
is subtracted and the displacements are divided by the clip's own RMS displacement, so that every
speaker's motion has the same overall scale (per-speaker standardisation: how far a person opens
their mouth is not predictable from their voice). A PCA of these 94-d vectors over the training
clips keeps :attr:`MotionConfig.n_coeffs` coefficients (96 % of the variance). On the shipped
model (its card, ``talkface/weights/motion.md``, tabulates each coefficient's effect):

1. (40 %) the jaw: lower lip and chin up together, closing the mouth (its negative opens it);
2. (22 %) small moves of the whole mouth, nearly no change of aperture or width;
3. (19 %) spread opening: upper lip up, corners out, wider and more open;
4. (8 %) spread with the lips closing (upper lip down, corners out, chin up);
5. (5 %) chin up with the lips parting and the corners drawn in; 6-8 (4 % together) small
   corrections.

**Model.** The input blocks are named by :attr:`MotionConfig.inputs` (:func:`audio_features`):
``whisper``, the output of one layer of Whisper base's encoder
(:class:`~talkface.speech.whisper.WhisperEncoder`; the shipped model: transformer block 3 of 6)
averaged over each video frame and z-scored per utterance and feature, over +-2 frames; ``mel``,
4 mel sub-frames (the Wav2Lip-compatible mel spectrogram of :mod:`talkface.speech.mel`, 80 bands,
z-scored per utterance and band) over +-2 frames; ``phones``, the fractions of each recognised
phone (:mod:`talkface.speech.phones`) over +-3 frames. One linear layer over that window (a
temporal convolution; 2,561 x 8 weights for the shipped model) maps it to the coefficients; it is
fitted in closed form by ridge regression, whose penalty is the regulariser, each block's columns
weighted by its :meth:`MotionConfig.scale`. Outputs are smoothed over time (sigma 1 frame). On the
mel spectrogram and phones, trained bigger nets did no better on the available minutes of data
(``shared/research/motion-feasibility.md``; a 3-layer dilated CNN reached aperture r 0.428 against
the ridge's 0.453), and on Whisper's output a small temporal CNN neither (0.45 against 0.504).

**Use.** :meth:`LearnedMotion.motion` turns the coefficients back into canonical landmark
displacements, reads off inner-lip aperture and mouth width, z-scores them over the voiced
frames of the utterance and closes the mouth in pauses of at least :data:`PAUSE_SECONDS` (VAD
silence or, for synthesised speech, the gaps between its phonemes; :func:`pause_drive`), following
the model in shorter gaps: a :class:`MouthMotion` in the same
standard units as the heuristic one, rescaled to the face being animated by the warp engine.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from talkface.errors import TalkfaceError
from talkface.face.landmarks import CHIN, LIPS, LOWER_LIP_INNER, MOUTH_LEFT, MOUTH_RIGHT, UPPER_LIP_INNER
from talkface.motion import MouthMotion, long_runs, smooth_curve, zscore
from talkface.motion.heuristic import LEAD_FRAMES, ROUNDING_Z, SILENCE_Z
from talkface.speech.mel import MEL_FRAMES_PER_SECOND, melspectrogram_frames, n_mel_frames
from talkface.speech.phones import PHONES, phone_fractions, start_phone_labels
from talkface.speech.vad import phoneme_speech_mask, speech_mask
from talkface.speech.whisper import ENCODER_WIDTH

if TYPE_CHECKING:
    from talkface.media.audio import Speech

MOTION_POINTS = LIPS + CHIN  # mesh points whose motion the coefficients describe
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "motion.npz"
# Video frames analysed at a time (60 s at 25 fps): memory does not grow with the speech length.
MOTION_CHUNK = 1500
# Seconds: a silence at least this long is a pause, where the mouth closes (opening SILENCE_Z);
# in a shorter gap it follows the model. Held out (fold models, 66 clips, drive mapped as the warp
# engine maps it; benchmarks/pause_closing.py): closing every silence r 0.534, silences of
# >= 0.48 s 0.555, >= 0.6 s 0.556, >= 0.8 s 0.561, never 0.560. 0.6 s, not the best figure: a
# presenter's mouth should shut at the end of a phrase.
PAUSE_SECONDS = 0.6
INPUTS = ("mel", "phones", "whisper")  # the feature blocks a model can be built on (audio_features)
LEGACY_INPUTS = ("mel", "phones")  # what models of format versions 1 and 2 were built on


@dataclass(frozen=True)
class MotionConfig:
    """Hyper-parameters of the learned motion model (frames are video frames).

    ``inputs`` names the feature blocks (of :data:`INPUTS`) in the order of the model's columns.
    The shipped model uses the output of block 3 (of 6) of Whisper base's encoder alone: in the
    leave-speakers-out cross-validation it beat the encoder's final output (aperture r 0.565 vs
    0.504) and gained nothing from the mel spectrogram or phones beside it
    (``talkface/weights/motion.md``).
    """

    n_coeffs: int = 8  # PCA coefficients predicted per frame
    inputs: tuple[str, ...] = ("whisper",)
    mel_subframes: int = 4  # mel frames per video frame after resampling
    mel_context: int = 2  # frames of mel on each side
    phone_context: int = 3  # frames of phone labels on each side
    phone_scale: float = 10.0  # weight of the phone block against the z-scored mel in the ridge penalty
    whisper_context: int = 2  # frames of Whisper features on each side
    whisper_scale: float = 0.3  # weight of the (z-scored) Whisper block in the ridge penalty
    whisper_layer: int = 3  # Whisper encoder layer (WhisperEncoder.encoder_features): block 3 of 6
    ridge_alpha: float = 6e3  # chosen from 1.5e3, 3e3, 6e3 on the leave-speakers-out CV (motion.md)
    output_sigma: float = 1.0  # frames: smoothing of the predicted coefficients

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))  # a list when read from JSON
        unknown = [name for name in self.inputs if name not in INPUTS]
        if unknown or not self.inputs:
            raise TypeError(f"inputs {list(self.inputs)} (choose from {', '.join(INPUTS)})")

    def width(self, name: str) -> int:
        """Columns of feature block ``name`` per frame."""
        return {"mel": self.mel_subframes * 80, "phones": len(PHONES), "whisper": ENCODER_WIDTH}[name]

    def context(self, name: str) -> int:
        """Frames of context on each side of block ``name``."""
        return {"mel": self.mel_context, "phones": self.phone_context, "whisper": self.whisper_context}[name]

    def scale(self, name: str) -> float:
        """Weight of block ``name`` in the ridge penalty (its columns are multiplied by it)."""
        return {"mel": 1.0, "phones": self.phone_scale, "whisper": self.whisper_scale}[name]

    @property
    def n_features(self) -> int:
        """Columns of :func:`audio_features` per frame."""
        return sum(self.width(name) for name in self.inputs)

    @property
    def n_weights(self) -> int:
        """Rows of the ridge weights: every block over its context window, and the bias."""
        return sum((2 * self.context(name) + 1) * self.width(name) for name in self.inputs) + 1

    @property
    def margin(self) -> int:
        """The widest context of the inputs, in frames."""
        return max(self.context(name) for name in self.inputs)


CONFIG = MotionConfig()
_ROWS = {p: i for i, p in enumerate(MOTION_POINTS)}


def _mel_rows(
    samples: np.ndarray, n_frames: int, fps: float, start: int, stop: int, config: MotionConfig = CONFIG
) -> np.ndarray:
    """Un-normalised mel sub-frames of video frames ``start..stop``: the mel spectrogram
    interpolated to :attr:`MotionConfig.mel_subframes` per frame, from the samples they need.

    Returns:
        ``((stop - start) * config.mel_subframes, 80)`` float64.
    """
    sub = config.mel_subframes
    n_mel = n_mel_frames(len(samples))
    t = (np.arange(start * sub, stop * sub) + 0.5) / (fps * sub) * MEL_FRAMES_PER_SECOND - 0.5
    t = np.clip(t, 0, n_mel - 1)
    i0 = np.floor(t).astype(int)
    i1 = np.minimum(i0 + 1, n_mel - 1)
    lo, hi = (int(i0.min()), int(i1.max()) + 1) if len(t) else (0, 0)
    mel = melspectrogram_frames(samples, lo, hi).T  # (hi - lo, 80)
    w = (t - i0)[:, None]
    return mel[i0 - lo] * (1 - w) + mel[i1 - lo] * w


def _chunks(n_frames: int, margin: int = 0) -> list[tuple[int, int, int, int]]:
    """``(lo, start, stop, hi)`` video-frame chunks of :data:`MOTION_CHUNK`: frames ``start..stop``
    with ``margin`` frames of context on each side (``lo..hi``, within the speech)."""
    return [
        (max(0, a - margin), a, min(a + MOTION_CHUNK, n_frames), min(n_frames, a + MOTION_CHUNK + margin))
        for a in range(0, n_frames, MOTION_CHUNK)
    ]


def mel_statistics(
    samples: np.ndarray, n_frames: int, fps: float, config: MotionConfig = CONFIG
) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and standard deviation of the mel sub-frames of the whole utterance, chunk by
    chunk (Chan et al.'s pairwise update), as ``m.mean(0)``, ``m.std(0)`` of all of them.

    Returns:
        ``(mean, std)``, each ``(80,)`` float64.
    """
    count, mean, m2 = 0, np.zeros(80), np.zeros(80)
    for _, start, stop, _ in _chunks(n_frames):
        rows = _mel_rows(samples, n_frames, fps, start, stop, config)
        k, mu = len(rows), rows.mean(0)
        delta = mu - mean
        m2 += ((rows - mu) ** 2).sum(0) + delta**2 * count * k / (count + k)
        mean += delta * k / (count + k)
        count += k
    return mean, np.sqrt(m2 / max(count, 1))


def mel_per_frame(
    samples: np.ndarray,
    n_frames: int,
    fps: float,
    frames: tuple[int, int] | None = None,
    stats: tuple[np.ndarray, np.ndarray] | None = None,
    config: MotionConfig = CONFIG,
) -> np.ndarray:
    """Mel spectrogram resampled to :attr:`MotionConfig.mel_subframes` sub-frames per video frame.

    Args:
        samples: ``(n,)`` float32 waveform at 16 kHz.
        n_frames: number of video frames.
        fps: video frame rate in frames/s.
        frames: only video frames ``start..stop`` (default all).
        stats: :func:`mel_statistics` of the utterance if already computed.
        config: the model's :class:`MotionConfig`.

    Returns:
        ``(stop - start, config.mel_subframes * 80)`` float32, z-scored per utterance and band.
    """
    start, stop = frames or (0, n_frames)
    mean, std = stats or mel_statistics(samples, n_frames, fps, config)
    m = (_mel_rows(samples, n_frames, fps, start, stop, config) - mean) / (std + 1e-6)
    return m.reshape(stop - start, -1).astype(np.float32)


def whisper_block(rows: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """The Whisper block of :func:`audio_features`: encoder rows averaged per video frame
    (:func:`~talkface.speech.whisper.frame_average`) and z-scored per utterance and feature.

    Args:
        rows: ``(m, 512)`` float32 :meth:`~talkface.speech.whisper.WhisperEncoder.encoder_features`.
        n_frames: number of video frames.
        fps: video frame rate in frames/s.

    Returns:
        ``(n_frames, 512)`` float32.
    """
    from talkface.speech.whisper import frame_average

    x = frame_average(rows, n_frames, fps)
    return ((x - x.mean(0)) / (x.std(0) + 1e-6)).astype(np.float32)


def audio_features(
    samples: np.ndarray,
    n_frames: int,
    fps: float,
    phone_labels: np.ndarray | None = None,
    config: MotionConfig = CONFIG,
    encoder_rows: np.ndarray | None = None,
) -> np.ndarray:
    """Per-frame model input: the blocks named by :attr:`MotionConfig.inputs`, side by side.

    Blocks: ``mel``, :func:`mel_per_frame`; ``phones``, the fraction of each recognised phone
    (:func:`~talkface.speech.phones.phone_fractions`); ``whisper``, :func:`whisper_block`.

    Args:
        samples: ``(n,)`` float32 waveform at 16 kHz.
        n_frames: number of video frames.
        fps: video frame rate in frames/s.
        phone_labels: :func:`~talkface.speech.phones.phone_labels` of ``samples`` if already
            computed (else they are computed here).
        config: the model's :class:`MotionConfig`.
        encoder_rows: Whisper encoder rows (of layer :attr:`MotionConfig.whisper_layer`) of
            ``samples`` if already computed (else the bundled Whisper computes them here).

    Returns:
        ``(n_frames, config.n_features)`` float32.

    Raises:
        TalkfaceError: the bundled Whisper model is missing or corrupt.
    """
    return np.concatenate(
        [
            mel_per_frame(samples, n_frames, fps, config=config)
            if name == "mel"
            else _whole_block(name, samples, n_frames, fps, config, phone_labels, encoder_rows)
            for name in config.inputs
        ],
        axis=1,
    )


def _whole_block(
    name: str,
    samples: np.ndarray,
    n_frames: int,
    fps: float,
    config: MotionConfig,
    phone_labels: np.ndarray | None,
    encoder_rows: np.ndarray | None,
) -> np.ndarray:
    """The ``phones`` or ``whisper`` block of :func:`audio_features` for the whole utterance (the
    labels or encoder rows computed here if not given)."""
    if name == "phones":
        return phone_fractions(samples, n_frames, fps, phone_labels)
    if encoder_rows is None:
        from talkface.speech.whisper import shared_encoder

        encoder_rows = shared_encoder().encoder_features(samples, config.whisper_layer)
    return whisper_block(encoder_rows, n_frames, fps)


def _smoothed(c: np.ndarray, sigma: float) -> np.ndarray:
    """Each coefficient curve smoothed over time (``sigma`` frames); float32."""
    return np.stack([smooth_curve(c[:, k], sigma) for k in range(c.shape[1])], 1).astype(np.float32)


def _context(x: np.ndarray, n: int) -> np.ndarray:
    """Stack ``x`` (frames, d) over frames ``-n..n`` (zero-padded): ``(frames, (2n + 1) d)``."""
    pad = np.zeros((n, x.shape[1]), x.dtype)
    xp = np.concatenate([pad, x, pad])
    return np.concatenate([xp[k : k + len(x)] for k in range(2 * n + 1)], axis=1)


def _blocks(features: np.ndarray, config: MotionConfig = CONFIG) -> list[tuple[np.ndarray, int, float]]:
    """The feature blocks of :func:`audio_features` as ``(block, context frames, scale)``, in the
    column order of :func:`design_matrix` (the bias column follows them)."""
    out, col = [], 0
    for name in config.inputs:
        width = config.width(name)
        out.append((features[:, col : col + width], config.context(name), config.scale(name)))
        col += width
    return out


def design_matrix(features: np.ndarray, config: MotionConfig = CONFIG) -> np.ndarray:
    """Ridge inputs from :func:`audio_features`: context windows and a bias column.

    Returns:
        ``(frames, config.n_weights)`` float32.
    """
    ones = np.ones((len(features), 1), np.float32)
    return np.concatenate([scale * _context(x, n) for x, n, scale in _blocks(features, config)] + [ones], 1)


def canonical_motion(canonical: np.ndarray) -> np.ndarray:
    """Per-speaker standardised motion of one clip.

    Args:
        canonical: ``(n, 478, 2)`` landmarks in a canonical face frame (IOD 1), NaN rows where no face.

    Returns:
        ``(n, 2 * len(MOTION_POINTS))`` float32 displacement from the clip's mean shape over the
        clip's RMS displacement (NaN rows kept).
    """
    pts = canonical[:, MOTION_POINTS].reshape(len(canonical), -1)
    d = pts - np.nanmean(pts, 0)
    return (d / (np.sqrt(np.nanmean(d**2)) + 1e-9)).astype(np.float32)


def aperture_width(displacement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Change of inner-lip aperture and of mouth width (canonical units) encoded in displacements.

    Args:
        displacement: ``(n, 2 * len(MOTION_POINTS))`` as from :func:`canonical_motion`.

    Returns:
        ``(aperture, width)``, each ``(n,)``: lower-minus-upper inner-lip y and left-minus-right
        corner x displacement, equal to the aperture and width changes while the face is upright.
    """
    v = displacement.reshape(len(displacement), -1, 2)
    ap = v[:, _ROWS[LOWER_LIP_INNER], 1] - v[:, _ROWS[UPPER_LIP_INNER], 1]
    wd = v[:, _ROWS[MOUTH_LEFT], 0] - v[:, _ROWS[MOUTH_RIGHT], 0]
    return ap, wd


FORMAT = "talkface.motion.learned"  # what a model file says it is
# 1: the arrays only (mel + phones, the then default config); 2: with config and phones (mel + phones);
# 3: the config names its inputs.
FORMAT_VERSION = 3


def pause_drive(
    opening: np.ndarray,
    width: np.ndarray,
    speech: np.ndarray,
    fps: float,
    pause_seconds: float = PAUSE_SECONDS,
) -> tuple[np.ndarray, np.ndarray]:
    """The model's opening and width drives with the mouth closed in the pauses of speech.

    Silence counts from :data:`LEAD_FRAMES` later than the speech mask says (the mouth closes
    before the sound stops and opens before it starts), as in the heuristic motion. A silence of
    at least ``pause_seconds`` closes the mouth (opening :data:`SILENCE_Z`, width 0). In a shorter
    gap real mouths stay about as open as the model predicts (0.068 IOD there, against 0.079 in
    speech and 0.049 in the longer pauses, over the 66 training clips), so there the model is
    followed, held no wider than its mean speech opening (z 0).

    Args:
        opening, width: ``(n,)`` float z-scored drives, one per video frame.
        speech: ``(n,)`` bool speech mask (VAD, or the synthesised speech's phonemes).
        fps: video frame rate in frames/s.
        pause_seconds: shortest silence that closes the mouth, in seconds (0: every silence;
            ``inf``: none).

    Returns:
        ``(opening, width)``: ``(n,)`` float64 each, not yet smoothed.
    """
    n_frames = len(speech)
    ahead = np.concatenate([speech[LEAD_FRAMES:], np.repeat(speech[-1:], LEAD_FRAMES)])[:n_frames]
    silent = ~speech & ~ahead
    closed = long_runs(silent, int(np.ceil(min(pause_seconds * fps, n_frames + 1))))
    opening = np.where(closed, SILENCE_Z, np.where(silent, np.minimum(opening, 0.0), opening))
    return opening.astype(np.float64), np.where(closed, 0.0, width).astype(np.float64)


@dataclass
class LearnedMotion:
    """The learned speech -> mouth-motion model (a :class:`~talkface.motion.MotionSource`).

    Attributes:
        weights: ``(D, n_coeffs)`` float32 ridge weights over :func:`design_matrix` columns.
        mean: ``(2 * len(MOTION_POINTS),)`` float32 PCA mean of the standardised displacements.
        components: ``(n_coeffs, 2 * len(MOTION_POINTS))`` float32 PCA basis (rows orthonormal).
        explained: ``(n_coeffs,)`` float32 share of the training variance of each component.
        config: the :class:`MotionConfig` the features and the smoothing are computed with.
    """

    weights: np.ndarray
    mean: np.ndarray
    components: np.ndarray
    explained: np.ndarray
    config: MotionConfig = CONFIG

    @classmethod
    def load(cls, path: str | Path = DEFAULT_WEIGHTS) -> LearnedMotion:
        """Read a model written by :meth:`save`: its arrays, and the config and phone set it was
        trained with (a version-1 file, without them, was made with the default config).

        Raises:
            TalkfaceError: the file is missing or not a motion model, or one of another format
                version, config or phone set than this talkface computes.
        """
        path = Path(path)
        if not path.is_file():
            raise TalkfaceError("motion model not found", path)
        try:
            with np.load(path) as f:
                arrays = [f[k] for k in ("weights", "mean", "components", "explained")]
                meta = json.loads(str(f["meta"])) if "meta" in f else {"format": FORMAT, "version": 1}
        except (OSError, KeyError, ValueError) as exc:
            raise TalkfaceError(f"not a talkface motion model ({exc})", path) from None
        if meta.get("format") != FORMAT:
            raise TalkfaceError(f"not a talkface motion model (format {meta.get('format')!r})", path)
        if meta.get("version") not in (1, 2, FORMAT_VERSION):
            raise TalkfaceError(
                f"motion model format version {meta.get('version')!r}; "
                f"this talkface reads 1-{FORMAT_VERSION}",
                path,
            )
        settings = dict(meta.get("config", {}))
        if meta.get("version") in (1, 2):
            settings["inputs"] = LEGACY_INPUTS
        try:
            config = MotionConfig(**settings)
        except TypeError as exc:
            raise TalkfaceError(f"motion model config not understood ({exc})", path) from None
        if list(meta.get("phones", PHONES)) != list(PHONES):
            raise TalkfaceError("motion model made for another phone set than this talkface's", path)
        model = cls(*arrays, config=config)
        if model.weights.shape != (config.n_weights, config.n_coeffs):
            raise TalkfaceError(
                f"motion model weights {model.weights.shape} do not fit its config "
                f"({config.n_weights}, {config.n_coeffs})",
                path,
            )
        return model

    def save(self, path: str | Path) -> None:
        """Write the model as an ``.npz`` file (atomically), with its format version, config and
        phone set in a ``meta`` JSON entry."""
        from talkface.media.atomic import save_npz_atomic

        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "config": dataclasses.asdict(self.config),
            "phones": list(PHONES),
        }
        save_npz_atomic(
            path,
            weights=self.weights,
            mean=self.mean,
            components=self.components,
            explained=self.explained,
            meta=np.array(json.dumps(meta)),
        )

    def __call__(self, speech: Speech, n_frames: int, fps: float) -> MouthMotion:
        """:meth:`motion` of ``speech.samples``, with the exact phoneme timing of synthesised
        speech (``speech.phonemes``, from ``--text``) when it has it (the
        :class:`~talkface.motion.MotionSource` call)."""
        return self.motion(speech.samples, n_frames, fps, speech.phonemes)

    def coefficients(self, features: np.ndarray) -> np.ndarray:
        """Predicted motion coefficients, ``(frames, n_coeffs)`` float32, from :func:`audio_features`:
        :meth:`raw_coefficients` smoothed over time (sigma :attr:`MotionConfig.output_sigma`)."""
        return _smoothed(self.raw_coefficients(features), self.config.output_sigma)

    def raw_coefficients(self, features: np.ndarray) -> np.ndarray:
        """``design_matrix(features) @ weights``, ``(frames, n_coeffs)`` float64, without building
        that matrix (11 MB a minute of speech): each context offset's block of weights is applied
        to the features and the product shifted into place, so memory does not grow with the window.
        """
        c = np.zeros((len(features), self.weights.shape[1]), np.float64)
        row = 0
        for x, n, scale in _blocks(features, self.config):
            d = x.shape[1]
            for k in range(2 * n + 1):
                y = scale * (x @ self.weights[row : row + d])  # contribution of frame i + (k - n) to frame i
                off = k - n
                if 0 <= off < len(x):
                    c[: len(x) - off] += y[off:]
                elif 0 < -off < len(x):
                    c[-off:] += y[: len(x) + off]
                row += d
        c += self.weights[row]  # the bias column
        return c

    def speech_coefficients(
        self,
        samples: np.ndarray,
        n_frames: int,
        fps: float,
        labels: np.ndarray | None = None,
        encoder_rows: np.ndarray | None = None,
    ) -> np.ndarray:
        """:meth:`coefficients` of ``audio_features(samples, n_frames, fps, labels, encoder_rows=...)``,
        computed :data:`MOTION_CHUNK` frames at a time with their context (equal to 1e-5). The mel
        spectrogram is made chunk by chunk (10 minutes of speech need about 10 MB of mel beside
        the samples instead of 370 MB); phones and Whisper features are made whole (2.4 and
        31 MB for 10 minutes at 25 fps).

        Args:
            samples: ``(n,)`` float32 waveform at 16 kHz.
            n_frames: number of video frames.
            fps: video frame rate in frames/s.
            labels: phone labels (as :func:`~talkface.speech.phones.phone_labels`), if the model
                uses phones (recognised here if not given).
            encoder_rows: Whisper encoder rows, if the model uses Whisper (computed here if not).

        Returns:
            ``(n_frames, n_coeffs)`` float32.
        """
        config = self.config
        stats = mel_statistics(samples, n_frames, fps, config) if "mel" in config.inputs else None
        whole = {
            name: _whole_block(name, samples, n_frames, fps, config, labels, encoder_rows)
            for name in config.inputs
            if name != "mel"
        }
        raw = np.empty((n_frames, self.weights.shape[1]), np.float64)
        for lo, start, stop, hi in _chunks(n_frames, config.margin):
            blocks = [
                mel_per_frame(samples, n_frames, fps, (lo, hi), stats, config)
                if name == "mel"
                else whole[name][lo:hi]
                for name in config.inputs
            ]
            chunk = self.raw_coefficients(np.concatenate(blocks, axis=1))
            raw[start:stop] = chunk[start - lo : stop - lo]
        return _smoothed(raw, config.output_sigma)

    def displacement(self, coefficients: np.ndarray) -> np.ndarray:
        """Standardised canonical displacements ``(frames, 2 * len(MOTION_POINTS))`` of coefficients."""
        return coefficients @ self.components + self.mean

    def motion(
        self,
        samples: np.ndarray,
        n_frames: int,
        fps: float,
        phonemes: list[tuple[float, float, str]] | None = None,
    ) -> MouthMotion:
        """Mouth drive for ``n_frames`` video frames at ``fps`` from 16 kHz speech.

        The phone recogniser (a helper process) and Whisper's encoder (a thread), whichever
        the model uses, run beside the VAD here and the caller's other threads (the tracker).

        Args:
            samples: ``(n,)`` float32 waveform at 16 kHz.
            n_frames: number of output video frames.
            fps: output frame rate in frames/s.
            phonemes: exact espeak-ng phoneme timing ``[(start_s, end_s, phoneme), ...]`` of
                synthesised speech: where it speaks replaces the VAD, and its phones replace the
                recognised ones (for a model with a ``phones`` input).

        Returns:
            :class:`MouthMotion`: opening and width z-scored over the voiced frames, the mouth
            closed (opening :data:`SILENCE_Z`) in pauses of at least :data:`PAUSE_SECONDS`
            (VAD silence, or the synthesised speech's own pauses), no wider than its mean speech
            opening in shorter gaps, rounding where the width drops.

        Raises:
            TalkfaceError: the model uses Whisper and the bundled model is missing or corrupt.
        """
        inputs = self.config.inputs
        phones = encoder = None
        if "whisper" in inputs:
            from talkface.speech.whisper import start_encoder_features

            encoder = start_encoder_features(samples, self.config.whisper_layer)
        if "phones" in inputs:
            if phonemes:
                from talkface.speech.alignment import timed_phone_labels

                labels = timed_phone_labels(len(samples), phonemes)
                phones = lambda: labels  # noqa: E731
            else:
                phones = start_phone_labels(samples)
        speech = (
            phoneme_speech_mask(phonemes, n_frames, fps) if phonemes else speech_mask(samples, n_frames, fps)
        )
        coefficients = self.speech_coefficients(
            samples, n_frames, fps, phones() if phones else None, encoder() if encoder else None
        )
        ap, wd = aperture_width(self.displacement(coefficients))
        opening, width = pause_drive(zscore(ap, speech), zscore(wd, speech), speech, fps)
        opening = smooth_curve(opening, self.config.output_sigma).astype(np.float32)
        width = smooth_curve(width, self.config.output_sigma).astype(np.float32)
        return MouthMotion(
            opening=opening,
            width=width,
            rounding=np.clip(-width / ROUNDING_Z, 0, 1).astype(np.float32),
            speech=speech,
        )
