"""Image metrics of a generated video against a reference: PSNR and SSIM inside and outside the
mouth mask, mouth sharpness, and FID with user-supplied Inception weights.

- The **mouth mask** of a frame is the convex hull of the reference's lip and lower-face landmarks
  (``LIPS + LOWER_FACE + CHIN``), the region a lip-sync renderer redraws. "Outside" is the rest of
  the face box (the landmarks' box, 10% larger): the face a renderer must leave alone.
- **PSNR** in dB over the 8-bit RGB pixels of the region (100 dB when identical).
- **SSIM** (Wang et al. 2004; scikit-image, Gaussian window sigma 1.5, on luma) averaged over the
  region.
- **Sharpness**: variance of the Laplacian of the luma inside the mouth's bounding box (Pech-Pacheco
  et al. 2000); a blurry mouth scores low. Reported for the generated and the reference video.
- **FID** (Heusel et al. 2017) between the generated and reference face crops, only with a
  TorchScript Inception-v3 feature extractor supplied by the user (for example clean-fid's
  ``inception-2015-12-05.pt``): no such weights ship with talkface or can be downloaded here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from talkface.errors import TalkfaceError
from talkface.face.landmarks import CHIN, LIPS, LOWER_FACE

MOUTH_REGION = sorted(set(LIPS + LOWER_FACE + CHIN))
FACE_MARGIN = 0.1  # the face box is the landmarks' box grown by this fraction on each side
PSNR_IDENTICAL = 100.0  # dB reported for identical regions
FID_SIZE = 299  # pixels: Inception-v3 input side


def mouth_mask(landmarks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``(H, W)`` bool mask: convex hull of the mouth-region landmarks of ``(478, 2)`` pixels."""
    mask = np.zeros(shape[:2], np.uint8)
    hull = cv2.convexHull(np.round(landmarks[MOUTH_REGION]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


def face_region(landmarks: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """Row and column slices of the landmarks' box grown by :data:`FACE_MARGIN`, clipped."""
    lo, hi = landmarks.min(0), landmarks.max(0)
    grow = (hi - lo) * FACE_MARGIN
    x0, y0 = np.maximum(np.floor(lo - grow).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(hi + grow).astype(int), [shape[1], shape[0]])
    return slice(y0, max(y0, y1)), slice(x0, max(x0, x1))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 pixel sets of equal shape (:data:`PSNR_IDENTICAL` if equal)."""
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2)) if a.size else 0.0
    return PSNR_IDENTICAL if mse == 0 else min(PSNR_IDENTICAL, 10 * np.log10(255.0**2 / mse))


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def sharpness(rgb: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the Laplacian of the luma inside the bounding box of ``mask``."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return float("nan")
    box = _luma(rgb[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
    return float(cv2.Laplacian(box, cv2.CV_32F).var())


@dataclass
class FrameImageMetrics:
    """One frame's image metrics (see the module docstring)."""

    psnr_mouth: float
    psnr_outside: float
    ssim_mouth: float
    ssim_outside: float


def compare_frames(generated: np.ndarray, reference: np.ndarray, landmarks: np.ndarray) -> FrameImageMetrics:
    """PSNR / SSIM inside and outside the mouth mask of the reference's ``(478, 2)`` landmarks.

    Args:
        generated, reference: ``(H, W, 3)`` uint8 RGB frames of the same size.
    """
    from skimage.metrics import structural_similarity

    rows, cols = face_region(landmarks, reference.shape)
    g, r = generated[rows, cols], reference[rows, cols]
    mask = mouth_mask(landmarks - [cols.start, rows.start], r.shape)
    if g.shape[0] < 7 or g.shape[1] < 7:
        nan = float("nan")
        return FrameImageMetrics(nan, nan, nan, nan)
    _, ssim_map = structural_similarity(
        _luma(g),
        _luma(r),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        full=True,
    )
    return FrameImageMetrics(
        psnr_mouth=psnr(g[mask], r[mask]),
        psnr_outside=psnr(g[~mask], r[~mask]),
        ssim_mouth=float(ssim_map[mask].mean()) if mask.any() else float("nan"),
        ssim_outside=float(ssim_map[~mask].mean()) if (~mask).any() else float("nan"),
    )


class InceptionFeatures:
    """2048-d pool features of a user-supplied TorchScript Inception-v3 (for FID).

    The module is called as ``model(images, return_features=True)`` on ``(B, 3, 299, 299)`` uint8
    RGB tensors, the interface of clean-fid's and StyleGAN's ``inception-2015-12-05.pt``.

    Raises:
        TalkfaceError: missing file, not TorchScript, or not returning ``(B, 2048)`` features.
    """

    def __init__(self, path: str | Path) -> None:
        import torch

        path = Path(path)
        if not path.is_file():
            raise TalkfaceError(
                "Inception weights not found (FID needs a TorchScript inception-2015-12-05.pt)", path
            )
        try:
            with warnings.catch_warnings():  # TorchScript is deprecated; it is the weights' format
                warnings.simplefilter("ignore", DeprecationWarning)
                self.model = torch.jit.load(str(path), map_location="cpu").eval()
            probe = self(np.zeros((1, FID_SIZE, FID_SIZE, 3), np.uint8))
        except TalkfaceError:
            raise
        except Exception as exc:  # noqa: BLE001 - any load or call failure means a wrong file
            raise TalkfaceError(
                f"not a TorchScript Inception feature extractor ({type(exc).__name__})", path
            ) from None
        if probe.shape != (1, 2048):
            raise TalkfaceError(f"Inception features have shape {probe.shape[1:]}, expected (2048,)", path)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """``(B, 299, 299, 3)`` uint8 RGB -> ``(B, 2048)`` float64 features."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        with torch.inference_mode():
            return self.model(x, return_features=True).double().numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two ``(n, d)`` feature sets: |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2).

    Raises:
        ValueError: fewer than 2 samples in a set.
    """
    from scipy import linalg

    if len(a) < 2 or len(b) < 2:
        raise ValueError("FID needs at least 2 images on each side")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(root).all():
        eps = np.eye(len(s_a)) * 1e-6
        root = linalg.sqrtm((s_a + eps) @ (s_b + eps))
    root = np.real(root)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(root))


# The mouth in the face's own frame (origin at the mouth centre, the eye line as x axis): a box of
# (u0, v0, u1, v1) interocular distances, sampled at ALIGNED_PX_PER_IOD pixels per IOD.
ALIGNED_MOUTH_REGION = (-0.8, -0.45, 0.8, 0.75)
ALIGNED_PX_PER_IOD = 60.0


def aligned_mouth(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The mouth of a frame after canonical alignment (rotation, scale and position taken out by
    the face frame of :func:`~talkface.face.canonical.face_frame`), so that two frames with
    different head poses can be compared pixel by pixel.

    Args:
        rgb: ``(H, W, 3)`` uint8 frame.
        landmarks: ``(478, 2)`` float pixel landmarks of its face.

    Returns:
        ``(72, 96, 3)`` uint8 (for the default region and scale).
    """
    from talkface.face.canonical import face_region_affine
    from talkface.face.crop import cut_region

    u0, v0, u1, v1 = ALIGNED_MOUTH_REGION
    size = (int(round((u1 - u0) * ALIGNED_PX_PER_IOD)), int(round((v1 - v0) * ALIGNED_PX_PER_IOD)))
    affine = face_region_affine(landmarks.astype(np.float32), ALIGNED_MOUTH_REGION, ALIGNED_PX_PER_IOD)
    return cut_region(rgb, affine, size)


@dataclass
class AlignedMouthMetrics:
    """One frame's mouth against the real one after canonical alignment (:func:`aligned_mouth`):
    SSIM (luma, Gaussian window sigma 1.5), PSNR (dB) and each side's sharpness (variance of the
    Laplacian of the luma)."""

    ssim: float
    psnr: float
    sharpness: float
    reference_sharpness: float


def compare_aligned_mouths(
    generated: np.ndarray,
    generated_landmarks: np.ndarray,
    reference: np.ndarray,
    reference_landmarks: np.ndarray,
) -> AlignedMouthMetrics:
    """:class:`AlignedMouthMetrics` of a generated frame against the real one, each aligned by
    its own ``(478, 2)`` landmarks (frames may differ in size and head pose)."""
    from skimage.metrics import structural_similarity

    g, r = aligned_mouth(generated, generated_landmarks), aligned_mouth(reference, reference_landmarks)
    ssim = structural_similarity(
        _luma(g), _luma(r), gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    full = np.ones(g.shape[:2], bool)
    return AlignedMouthMetrics(float(ssim), psnr(g, r), sharpness(g, full), sharpness(r, full))
