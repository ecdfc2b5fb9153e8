"""Head pose and expression coefficients from the 478-point mesh with depth (SadTalker's coefficients,
learned here instead of a 3DMM).

SadTalker (Zhang et al., CVPR 2023, arXiv 2211.12194) drives a face by 3DMM coefficients: identity,
expression (64) and pose (3 angles + 3 translations). Here the mesh of :class:`~talkface.face.track.
FaceTracker` already has depth, so

- **pose** is the 3D similarity (scaled-orthographic camera) that best maps a canonical face shape
  onto the frame's landmarks through the points the expression does not move (:data:`RIGID`;
  least squares, Umeyama 1991): rotation as pitch, yaw, roll in degrees, translation in pixels,
  and scale (pixels per canonical unit; the canonical shape has an interocular distance of 1);
- **expression** is the frame's shape in the canonical frame (pose taken out), minus the person's
  own neutral shape, projected on a PCA basis learned from the shared clips (mouth, brows, cheeks
  and eyelids: ``talkface train head``).

Axes: x to the right of the image, y down, z away from the camera (mediapipe's). Pitch turns
about x (positive: the chin goes down, towards the chest), yaw about y (positive: the face turns
to the image's right), roll about z (positive: the head tilts clockwise as seen).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkface.face.canonical import similarity_transform
from talkface.face.landmarks import LEFT_EYE_OUTER, RIGHT_EYE_OUTER

# Forehead, nose ridge, eye corners, temples: moved by the head, hardly by the expression.
RIGID = [10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 33, 133, 362, 263, 127, 356, 234, 454, 109, 338, 67, 297]
POSE_AXES = ("pitch", "yaw", "roll")


@dataclass(frozen=True)
class HeadPose:
    """The head pose of one frame: ``points ~ scale * R(pitch, yaw, roll) @ canonical + translation``.

    Attributes:
        angles: ``(3,)`` float pitch, yaw, roll in degrees.
        translation: ``(3,)`` float pixels (x, y; z is arbitrary under this camera).
        scale: pixels per canonical unit (about the interocular distance in pixels).
    """

    angles: np.ndarray
    translation: np.ndarray
    scale: float

    @property
    def rotation(self) -> np.ndarray:
        """``(3, 3)`` rotation matrix."""
        return rotation_matrix(*self.angles)


def rotation_matrix(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` for angles in degrees: ``(3, 3)`` float64."""
    a, b, c = np.radians([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def euler_angles(rotation: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rotation_matrix`: ``(3,)`` pitch, yaw, roll in degrees (yaw within +-90)."""
    r = rotation
    yaw = np.arcsin(np.clip(-r[2, 0], -1, 1))
    pitch = np.arctan2(r[2, 1], r[2, 2])
    roll = np.arctan2(r[1, 0], r[0, 0])
    return np.degrees([pitch, yaw, roll])


def normalised_shape(mesh: np.ndarray) -> np.ndarray:
    """One mesh ``(478, 3)`` with its pose taken out as far as one frame allows: centred on the
    :data:`RIGID` points, eyes along x, interocular distance 1 (the start of a canonical shape)."""
    right, left = mesh[RIGHT_EYE_OUTER], mesh[LEFT_EYE_OUTER]
    x = left - right
    iod = float(np.linalg.norm(x))
    x = x / iod
    y = np.array([0.0, 1.0, 0.0]) - x[1] * x
    y /= np.linalg.norm(y)
    basis = np.stack([x, y, np.cross(x, y)])
    return ((mesh - mesh[RIGID].mean(0)) @ basis.T / iod).astype(np.float32)


def fit_pose(mesh: np.ndarray, canonical: np.ndarray) -> HeadPose:
    """The head pose of one frame's mesh.

    Args:
        mesh: ``(478, 3)`` float pixel landmarks with depth (:func:`~talkface.face.track.landmark_track`
            with ``depth``).
        canonical: ``(478, 3)`` canonical shape (IOD 1).

    Returns:
        :class:`HeadPose`.
    """
    s, rot, t = similarity_transform(canonical[RIGID].astype(np.float64), mesh[RIGID].astype(np.float64))
    return HeadPose(euler_angles(rot), t, s)


def pose_track(meshes: np.ndarray, canonical: np.ndarray) -> np.ndarray:
    """Pose of every frame as a ``(n, 7)`` float32 array: pitch, yaw, roll (degrees), tx, ty, tz
    (pixels), scale; NaN rows where the mesh is missing."""
    out = np.full((len(meshes), 7), np.nan, np.float32)
    for i, mesh in enumerate(meshes):
        if not np.isnan(mesh).any():
            pose = fit_pose(mesh, canonical)
            out[i] = [*pose.angles, *pose.translation, pose.scale]
    return out


def canonical_coordinates(meshes: np.ndarray, canonical: np.ndarray) -> np.ndarray:
    """Every frame's mesh with its pose taken out: ``(n, 478, 3)`` float32 in canonical units,
    NaN rows kept."""
    out = np.full(meshes.shape, np.nan, np.float32)
    for i, mesh in enumerate(meshes):
        if not np.isnan(mesh).any():
            s, rot, t = similarity_transform(
                canonical[RIGID].astype(np.float64), mesh[RIGID].astype(np.float64)
            )
            out[i] = (mesh - t) @ rot / s
    return out


def build_canonical(meshes: np.ndarray, iterations: int = 3) -> np.ndarray:
    """A canonical face shape from many meshes (generalised Procrustes on :data:`RIGID`).

    Args:
        meshes: ``(n, 478, 3)`` float pixel meshes of many people and frames, no NaN.
        iterations: align-and-average rounds.

    Returns:
        ``(478, 3)`` float32 mean shape, centred on the rigid points, eyes along x, IOD 1.
    """
    shape = normalised_shape(np.median(np.stack([normalised_shape(m) for m in meshes]), axis=0))
    for _ in range(iterations):
        aligned = canonical_coordinates(meshes, shape)
        shape = normalised_shape(aligned.mean(0))
    return shape
