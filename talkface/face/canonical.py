"""The canonical face frame: landmarks with the head's scale, rotation and position taken out.

Every frame's 478 mediapipe landmarks are mapped by the similarity transform (scale, rotation,
translation; least squares, Umeyama 1991) that best puts its :data:`STABLE` points (eye corners,
nose ridge, forehead, temples: points the mouth does not move) onto those of a template with an
interocular distance of 1 and the eyes level. Metrics (LMD) and the motion model's training
targets are measured there. :func:`face_frame` is the lighter frame a renderer works in: origin
at the mouth, axes along and across the eye line, the interocular distance as unit.
"""

from __future__ import annotations

import numpy as np

from talkface.face import landmarks as L
from talkface.face.landmarks import LEFT_EYE_OUTER, RIGHT_EYE_OUTER

# Eye corners, nose ridge, forehead and temples: rigid with the skull.
STABLE = [33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 10, 151, 9, 8, 127, 356, 234, 454]


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity ``dst ~ s R src + t`` (Umeyama 1991), in 2D or 3D.

    Args:
        src, dst: ``(k, d)`` float point sets, ``d`` 2 or 3, ``k >= d``.

    Returns:
        ``(s, R (d, d), t (d,))``, ``R`` a proper rotation.
    """
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, d, vt = np.linalg.svd(b.T @ a / len(src))
    sign = np.ones(src.shape[1])
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


def face_frame(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Face coordinate frame from landmarks.

    Args:
        lm: ``(478, 2)`` float32 pixel landmarks.

    Returns:
        ``(origin, ex, ey, iod)``: mouth centre (pixels), unit vector along the eye line, unit vector
        towards the chin, and the interocular distance in pixels.
    """
    ex = lm[L.LEFT_EYE_OUTER] - lm[L.RIGHT_EYE_OUTER]
    iod = float(np.linalg.norm(ex))
    ex = ex / iod
    ey = np.array([-ex[1], ex[0]], np.float32)
    origin = (lm[L.MOUTH_RIGHT] + lm[L.MOUTH_LEFT]) / 2
    return origin, ex, ey, iod


def face_region_affine(
    lm: np.ndarray, region: tuple[float, float, float, float], px_per_iod: float
) -> np.ndarray:
    """Affine from the pixels of a crop of the face frame to frame pixels.

    Args:
        lm: ``(478, 2)`` float32 pixel landmarks.
        region: ``(u0, v0, u1, v1)`` the crop in the :func:`face_frame`, interocular distances (IOD)
            about the mouth centre, v towards the chin (only ``u0, v0`` are needed here).
        px_per_iod: crop pixels per IOD.

    Returns:
        ``(2, 3)`` float64: crop pixel ``(c, r)`` sits at frame pixel ``M @ (c, r, 1)`` (for
        ``cv2.warpAffine`` with ``WARP_INVERSE_MAP`` to cut the crop).
    """
    origin, ex, ey, iod = face_frame(lm)
    s = iod / px_per_iod
    u0, v0 = region[:2]
    corner = origin + iod * (u0 * ex + v0 * ey)
    return np.array([[s * ex[0], s * ey[0], corner[0]], [s * ex[1], s * ey[1], corner[1]]], np.float64)


def pushed_out(points: np.ndarray, centre: np.ndarray, distance: float, unit: float = 1.0) -> np.ndarray:
    """``(k, 2)`` points each moved ``distance`` x ``unit`` away from ``centre`` (e.g. a distance in
    IOD with the IOD in pixels as ``unit``; the points' own unit by default)."""
    out = points - centre
    out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-6
    return points + out * distance * unit
