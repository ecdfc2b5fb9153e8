"""Expression coefficients from the 478-point mesh with depth: SadTalker's 64 3DMM expression
coefficients (arXiv 2211.12194, Sec. 3.1), learned here as a PCA basis instead of a 3DMM.

A frame's **expression residual** is its mesh in the canonical frame (pose taken out,
:func:`~talkface.face.pose.canonical_coordinates`; canonical units, interocular distance 1) minus
the person's own neutral shape (the median over the clip). Its **coefficients** are the
residual's projections on the principal axes of the residuals of the shared clips (mouth,
brows, cheeks, eyelids; ``talkface train expression``), so a shape is ``residual ~
sum_k c_k * components[k]``. Identity stays out of it: every clip is measured against itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkface.face.landmarks import CHIN, EYELIDS, JAW, LIPS, LOWER_FACE, NOSE_BASE
from talkface.face.pose import canonical_coordinates

# Landmarks that the expression field of photo animation holds still: the lips and everything
# the lip-sync engine redraws below the nose (it moves them), and the eyelid margins (the blink
# moves them).
HELD_BY_OTHERS = sorted(
    set(LIPS + LOWER_FACE + CHIN + JAW + NOSE_BASE + [p for lids in EYELIDS for lid in lids for p in lid])
)


@dataclass(frozen=True)
class ExpressionBasis:
    """A PCA basis of expression residuals.

    Attributes:
        components: ``(K, 478, 3)`` float32 orthonormal principal axes (canonical units), by
            decreasing variance.
        std: ``(K,)`` float32 standard deviation of each coefficient over the training frames.
    """

    components: np.ndarray
    std: np.ndarray

    @property
    def size(self) -> int:
        """K, the number of coefficients."""
        return len(self.components)

    def coefficients(self, residuals: np.ndarray) -> np.ndarray:
        """``(n, 478, 3)`` residuals -> ``(n, K)`` float32 coefficients (NaN rows stay NaN)."""
        flat = residuals.reshape(len(residuals), -1).astype(np.float32)
        return flat @ self.components.reshape(self.size, -1).T

    def shapes(self, coefficients: np.ndarray) -> np.ndarray:
        """``(n, K)`` coefficients -> ``(n, 478, 3)`` float32 residuals."""
        flat = np.asarray(coefficients, np.float32) @ self.components.reshape(self.size, -1)
        return flat.reshape(len(coefficients), *self.components.shape[1:])


def expression_residuals(meshes: np.ndarray, canonical: np.ndarray) -> np.ndarray:
    """Each frame's canonical-frame mesh minus the clip's median one.

    Args:
        meshes: ``(n, 478, 3)`` float pixel landmarks with depth, NaN rows where no face.
        canonical: ``(478, 3)`` canonical face shape.

    Returns:
        ``(n, 478, 3)`` float32 in canonical units, NaN rows kept.

    Raises:
        ValueError: no frame has a face.
    """
    canon = canonical_coordinates(meshes, canonical)
    ok = ~np.isnan(canon).any((1, 2))
    if not ok.any():
        raise ValueError("no frame has a face")
    return (canon - np.median(canon[ok], axis=0)).astype(np.float32)


def build_basis(residuals: np.ndarray, size: int) -> ExpressionBasis:
    """The principal axes of expression residuals (SVD of the pooled frames, not re-centred:
    zero residual is each person's neutral face).

    Args:
        residuals: ``(n, 478, 3)`` float residuals of many clips, no NaN.
        size: K.

    Returns:
        :class:`ExpressionBasis`.

    Raises:
        ValueError: fewer frames than ``size``.
    """
    if len(residuals) < size:
        raise ValueError(f"{len(residuals)} frames cannot give {size} expression components")
    flat = residuals.reshape(len(residuals), -1).astype(np.float64)
    _, sv, vt = np.linalg.svd(flat, full_matrices=False)
    comps = vt[:size]
    # A sign convention, so that a retrained basis reads the same way: largest entry positive.
    signs = np.sign(comps[np.arange(size), np.abs(comps).argmax(1)])
    comps = comps * signs[:, None]
    std = sv[:size] / np.sqrt(len(flat))
    return ExpressionBasis(
        comps.reshape(size, *residuals.shape[1:]).astype(np.float32), std.astype(np.float32)
    )
