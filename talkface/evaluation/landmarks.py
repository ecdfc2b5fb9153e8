"""Landmark metrics of a generated video against a reference: LMD and lip jitter.

Every frame's 478 mediapipe landmarks are mapped into a canonical face frame by the similarity
transform (scale, rotation, translation; least squares, Umeyama 1991) that best puts its
:data:`STABLE` points (eye corners, nose ridge, forehead, temples: points the mouth does not move)
onto those of a template; the template has an interocular distance of 1. Distances are then in
units of the interocular distance (IOD); the tables show them in % of IOD.

- **LMD** (landmark distance, Chen et al. 2019): mean Euclidean distance between the generated and
  the reference lip landmarks (the 40 lip-contour points), frame by frame, in the canonical frame.
- **Lip jitter**: mean magnitude of the second time difference of the canonical lip landmarks,
  ``|x[t+1] - 2 x[t] + x[t-1]|``: frame-to-frame shake. A generated video should not shake more
  than the real one (ratio near 1).
"""

from __future__ import annotations

import numpy as np

from talkface.face.landmarks import LEFT_EYE_OUTER, LIPS, RIGHT_EYE_OUTER

# Eye corners, nose ridge, forehead and temples: rigid with the skull.
STABLE = [33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 10, 151, 9, 8, 127, 356, 234, 454]


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity ``dst ~ s R src + t`` (Umeyama 1991).

    Args:
        src, dst: ``(k, 2)`` float point sets, ``k >= 2``.

    Returns:
        ``(s, R (2, 2), t (2,))``.
    """
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    scale = float((d * sign).sum() / max((a**2).sum() / len(src), 1e-12))
    return scale, rot, mu_d - scale * rot @ mu_s


def canonical_template(landmarks: np.ndarray) -> np.ndarray:
    """``(478, 2)`` template from one frame's landmarks: eyes level, IOD 1, centred on the stable points."""
    right, left = landmarks[RIGHT_EYE_OUTER], landmarks[LEFT_EYE_OUTER]
    d = left - right
    iod = float(np.hypot(*d))
    c, s = d / iod
    rot = np.array([[c, s], [-s, c]])
    out = (landmarks - landmarks[STABLE].mean(0)) @ rot.T / iod
    return out.astype(np.float32)


def to_canonical(landmarks: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Landmarks ``(n, 478, 2)`` (NaN rows where no face) mapped onto ``template`` frame by frame
    through their :data:`STABLE` points. Same shape, float32, NaN rows kept."""
    out = np.full(landmarks.shape, np.nan, np.float32)
    for i, lm in enumerate(landmarks):
        if np.isnan(lm).any():
            continue
        s, rot, t = similarity_transform(lm[STABLE].astype(np.float64), template[STABLE].astype(np.float64))
        out[i] = s * lm @ rot.T + t
    return out


def lmd(generated: np.ndarray, reference: np.ndarray) -> float:
    """Mean lip-landmark distance in IOD units over frames where both have a face.

    Args:
        generated, reference: ``(n, 478, 2)`` canonical landmarks (:func:`to_canonical`, same
            template), NaN rows where no face; compared over their common length.

    Returns:
        LMD, or NaN if no frame has a face in both.
    """
    n = min(len(generated), len(reference))
    d = np.linalg.norm(generated[:n, LIPS] - reference[:n, LIPS], axis=-1).mean(1)
    d = d[~np.isnan(d)]
    return float(d.mean()) if len(d) else float("nan")


def lip_jitter(canonical: np.ndarray) -> float:
    """Mean |second time difference| of the lip landmarks, in IOD units per frame squared, over
    runs of three consecutive frames with a face; NaN if there is none."""
    lips = canonical[:, LIPS]
    acc = np.linalg.norm(lips[2:] - 2 * lips[1:-1] + lips[:-2], axis=-1).mean(1)
    acc = acc[~np.isnan(acc)]
    return float(acc.mean()) if len(acc) else float("nan")
