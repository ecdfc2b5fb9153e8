"""Face tracking: mediapipe full-range detection for the box, the 478-point mesh on a crop around it.

The legacy FaceMesh finds only close-up faces, so small faces (wide or vertical shots) would be
missed on the full frame. We therefore run ``FaceDetection(model_selection=1)`` (full range) to
find the face, crop a square around it, scale the crop to :data:`MESH_CROP` pixels and run
``FaceMesh(refine_landmarks=True)`` on that. The crop follows the landmarks from frame to frame
and is re-placed only when the face moves, so the mesh's own tracking stays valid; detection
runs again when the mesh loses the face and every :data:`REDETECT_EVERY` frames. Where the
full-range model finds no face, the short-range one (``model_selection=0``) has a go: it is the
better judge of close-ups.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from talkface.face.landmarks import N_LANDMARKS
from talkface.face.quiet import native_stderr_silenced
from talkface.media.frame import I420Frame, crop_square
from talkface.media.video import FaceMedia

MESH_CROP = 256  # pixels: side of the square crop the face mesh runs on
CROP_SCALE = 1.9  # crop side / face box side
REDETECT_EVERY = 50  # frames between periodic full-frame detections
MIN_DETECTION_CONFIDENCE = 0.5


def import_mediapipe() -> types.ModuleType:
    """``import mediapipe``, without the matplotlib its drawing helpers import at load time.

    ``mediapipe.python.solutions.drawing_utils`` imports ``matplotlib.pyplot`` for one plotting
    function we never call: 0.7 of mediapipe's 1.0 s of import here. While mediapipe loads,
    placeholder ``matplotlib`` modules stand in (only if matplotlib is not loaded yet) and are
    removed afterwards, so a later ``import matplotlib`` gets the real one.
    """
    if "mediapipe" in sys.modules:
        return sys.modules["mediapipe"]
    stubs = {}
    if "matplotlib" not in sys.modules:
        for name in ("matplotlib", "matplotlib.pyplot"):
            stubs[name] = sys.modules[name] = types.ModuleType(name)
        stubs["matplotlib"].pyplot = stubs["matplotlib.pyplot"]
    try:
        import mediapipe
    finally:
        for name, stub in stubs.items():
            if sys.modules.get(name) is stub:
                del sys.modules[name]
    return mediapipe


# A NormalizedLandmark with x, y and z set, as protobuf serialises it inside its list: field 1
# (length-delimited, 15 bytes), then the three floats (fields 1-3, fixed32), each after its tag.
_LANDMARK_WIRE = np.dtype(
    [
        ("tag", "u1"),
        ("size", "u1"),
        ("tx", "u1"),
        ("x", "<f4"),
        ("ty", "u1"),
        ("y", "<f4"),
        ("tz", "u1"),
        ("z", "<f4"),
    ]
)
_LANDMARK_TAGS = (0x0A, 0x0F, 0x0D, 0x15, 0x1D)


def landmark_array(landmarks, depth: bool = False) -> np.ndarray:
    """``(n, 2)`` float32 normalised (x, y) of a mediapipe ``NormalizedLandmarkList``; with
    ``depth``, ``(n, 3)`` (x, y, z): z is mediapipe's relative depth, in the units of x (the crop's
    width), smaller towards the camera.

    Read from the list's serialised bytes (0.04 ms for the 478-point mesh) rather than point by
    point in Python (0.37 ms); any list not laid out as expected (a coordinate of exactly 0 is
    left out by protobuf, visibility set) takes the slow path.
    """
    data = landmarks.SerializeToString()
    n = len(data) // _LANDMARK_WIRE.itemsize
    if n and n * _LANDMARK_WIRE.itemsize == len(data):
        wire = np.frombuffer(data, _LANDMARK_WIRE)
        tags = (wire["tag"], wire["size"], wire["tx"], wire["ty"], wire["tz"])
        if all((t == v).all() for t, v in zip(tags, _LANDMARK_TAGS, strict=True)):
            return np.stack([wire["x"], wire["y"], wire["z"]] if depth else [wire["x"], wire["y"]], axis=1)
    if depth:
        return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], np.float32).reshape(-1, 3)
    return np.array([(p.x, p.y) for p in landmarks.landmark], np.float32).reshape(-1, 2)


@dataclass
class FrameFace:
    """What the tracker found in one frame.

    Attributes:
        landmarks: ``(478, 2)`` float32 pixel coordinates (x, y), or ``None`` when the mesh failed.
        present: whether a face is in the frame (the detector saw one even if the mesh failed).
        depth: ``(478,)`` float32 depth of each landmark in pixels (mediapipe's z scaled as x;
            smaller is nearer the camera; relative to the face, not absolute), or ``None``.
    """

    landmarks: np.ndarray | None
    present: bool
    depth: np.ndarray | None = None


@dataclass
class FaceTracker:
    """Track the largest face through a sequence of RGB frames.

    Args:
        box: optional fixed face box ``(top, bottom, left, right)`` in pixels (Wav2Lip's ``--box``):
            detection is skipped and the mesh runs on a crop around it.
        static: treat every frame independently (photos).

    Call it with one frame at a time, a ``(H, W, 3)`` uint8 RGB array or an
    :class:`~talkface.media.frame.I420Frame` (then only the mesh crop is converted to RGB, and the
    whole frame only when detection runs); it returns a :class:`FrameFace`.
    mediapipe logs to file descriptor 2 from its own threads: run it inside
    :func:`talkface.face.quiet.native_stderr_silenced` to keep a terminal clean.
    """

    box: tuple[int, int, int, int] | None = None
    static: bool = False
    _crop: tuple[float, float, float] | None = field(default=None, init=False)  # cx, cy, side
    _since_detect: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        with native_stderr_silenced():
            mp = import_mediapipe()
        self._mp = mp
        self._near_detector = None  # short-range model, built when the full-range one first fails
        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=MIN_DETECTION_CONFIDENCE
        )
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=self.static, refine_landmarks=True, max_num_faces=1
        )

    def close(self) -> None:
        """Release the mediapipe graphs."""
        self._detector.close()
        if self._near_detector is not None:
            self._near_detector.close()
        self._mesh.close()

    def __call__(self, rgb: np.ndarray | I420Frame) -> FrameFace:
        self._since_detect += 1
        if self._crop is not None and self._since_detect < REDETECT_EVERY:
            mesh = self._mesh_on_crop(rgb, self._crop)
            if mesh is not None:
                return self._found(mesh)
        crop = self._detect(rgb)
        self._since_detect = 0
        if crop is None:
            self._crop = None
            return FrameFace(None, False)
        self._crop = crop
        mesh = self._mesh_on_crop(rgb, crop)
        if mesh is None:
            return FrameFace(None, True)
        return self._found(mesh)

    def _found(self, mesh: np.ndarray) -> FrameFace:
        """The face of a ``(478, 3)`` mesh (x, y contiguous, as every consumer expects)."""
        lm = np.ascontiguousarray(mesh[:, :2])
        self._follow(lm)
        return FrameFace(lm, True, np.ascontiguousarray(mesh[:, 2]))

    def _detect(self, frame: np.ndarray | I420Frame) -> tuple[float, float, float] | None:
        """Crop (cx, cy, side) around the largest detected face, or None."""
        h, w = frame.shape[:2]
        if self.box is not None:
            top, bottom, left, right = self.box
            return (left + right) / 2, (top + bottom) / 2, CROP_SCALE * max(bottom - top, right - left) / 1.3
        rgb = frame.rgb()[0] if isinstance(frame, I420Frame) else frame
        result = self._detector.process(rgb)
        if not result.detections:
            # The full-range model is made for faces far from the camera and scores some close-ups
            # (a face filling the frame, as in LRS2's crops) just under the threshold.
            if self._near_detector is None:
                self._near_detector = self._mp.solutions.face_detection.FaceDetection(
                    model_selection=0, min_detection_confidence=MIN_DETECTION_CONFIDENCE
                )
            result = self._near_detector.process(rgb)
        if not result.detections:
            return None
        boxes = [d.location_data.relative_bounding_box for d in result.detections]
        b = max(boxes, key=lambda b: b.width * b.height)
        cx, cy = (b.xmin + b.width / 2) * w, (b.ymin + b.height / 2) * h
        side = CROP_SCALE * max(b.width * w, b.height * h)
        return cx, cy, side

    def _mesh_on_crop(
        self, frame: np.ndarray | I420Frame, crop: tuple[float, float, float]
    ) -> np.ndarray | None:
        cx, cy, side = crop
        patch, (x0, y0, side_px) = crop_square(
            frame, int(round(cx - side / 2)), int(round(cy - side / 2)), int(round(side)), MESH_CROP
        )
        result = self._mesh.process(patch)
        if not result.multi_face_landmarks:
            return None
        # Normalised crop coordinates -> frame pixels (pixel edges, as mediapipe's are); z as x.
        mesh = landmark_array(result.multi_face_landmarks[0], depth=True)[:N_LANDMARKS]
        return mesh * np.float32(side_px) + np.array([x0, y0, 0], np.float32)

    def _follow(self, lm: np.ndarray) -> None:
        """Re-place the crop only when the face has moved or changed size noticeably."""
        lo, hi = lm.min(0), lm.max(0)
        cx, cy = (lo + hi) / 2
        side = CROP_SCALE * float(max(hi - lo)) * 1.1
        if self._crop is not None:
            ocx, ocy, oside = self._crop
            if abs(cx - ocx) < 0.06 * oside and abs(cy - ocy) < 0.06 * oside and abs(side / oside - 1) < 0.1:
                return
        self._crop = (float(cx), float(cy), side)


def photo_landmarks(rgb: np.ndarray) -> np.ndarray | None:
    """The ``(478, 2)`` float32 pixel landmarks of the largest face in one ``(H, W, 3)`` uint8 RGB
    image (a :class:`FaceTracker` in static mode), or ``None`` where it finds no face."""
    with native_stderr_silenced():
        tracker = FaceTracker(static=True)
        try:
            return tracker(rgb).landmarks
        finally:
            tracker.close()


def landmark_track(
    path: str | Path | FaceMedia, max_frames: int | None = None, depth: bool = False
) -> np.ndarray:
    """Track the face through ``path`` (or already opened media): the mediapipe landmarks of every frame.

    Args:
        path: the video or photo.
        max_frames: stop after this many frames.
        depth: also each landmark's depth (:attr:`FrameFace.depth`), as a third coordinate.

    Returns:
        ``(n, 478, 2)`` (``(n, 478, 3)`` with ``depth``) float32 pixel coordinates, NaN rows where
        no face was found.

    Raises:
        TalkfaceError: the video cannot be read.
    """
    media = path if isinstance(path, FaceMedia) else FaceMedia(path)
    track = []
    dims = 3 if depth else 2
    with native_stderr_silenced():
        tracker = FaceTracker(static=media.is_photo)
        try:
            for rgb in media.frames():
                found = tracker(rgb)
                lm = found.landmarks
                if lm is not None and depth:
                    lm = np.concatenate([lm, found.depth[:, None]], axis=1)
                track.append(np.full((N_LANDMARKS, dims), np.nan, np.float32) if lm is None else lm)
                if max_frames is not None and len(track) >= max_frames:
                    break
        finally:
            tracker.close()
    return np.stack(track).astype(np.float32) if track else np.zeros((0, N_LANDMARKS, dims), np.float32)


class CropMesh:
    """The 478-point mesh of a face that fills an image (a face crop, a generated face): the image
    is centred on a square :data:`CROP_SCALE` x 1.1 times its side (edges repeated), as the tracker
    crops round a face it follows, scaled to :data:`MESH_CROP` pixels, and the mesh run on it in
    static mode (each image on its own).

    Call with an ``(h, w, 3)`` uint8 RGB image; returns ``(478, 2)`` float32 pixel coordinates in
    that image, or ``None`` where no face was found. :meth:`close` releases the graph.
    """

    def __init__(self) -> None:
        with native_stderr_silenced():
            mp = import_mediapipe()
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, refine_landmarks=True, max_num_faces=1
            )

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        h, w = rgb.shape[:2]
        side = int(round(CROP_SCALE * 1.1 * max(h, w)))
        top, left = (side - h) // 2, (side - w) // 2
        padded = cv2.copyMakeBorder(rgb, top, side - h - top, left, side - w - left, cv2.BORDER_REPLICATE)
        patch = cv2.resize(padded, (MESH_CROP, MESH_CROP), interpolation=cv2.INTER_AREA)
        with native_stderr_silenced():
            result = self._mesh.process(patch)
        if not result.multi_face_landmarks:
            return None
        lm = landmark_array(result.multi_face_landmarks[0])[:N_LANDMARKS]
        return lm * np.float32(side) - np.array([left, top], np.float32)

    def close(self) -> None:
        """Release the mediapipe graph."""
        self._mesh.close()
