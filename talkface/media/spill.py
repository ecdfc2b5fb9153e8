"""Records spilled to anonymous temporary files: what a replay needs (a short video's frames, every
frame's landmarks) without holding it in memory for the length of the speech."""

from __future__ import annotations

import os
import tempfile

import numpy as np

from talkface.media.frame import I420Frame


class SpillFile:
    """Equal-sized records appended to an anonymous temporary file (it vanishes when closed), so
    that what a replay needs does not stay in memory."""

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="talkface-spill-")
        os.unlink(name)  # anonymous: vanishes when closed
        self.fd = fd
        self.size = 0  # bytes per record
        self.count = 0

    def append(self, record: bytes) -> None:
        self.size = self.size or len(record)
        if len(record) != self.size:
            raise ValueError(f"record of {len(record)} bytes in a file of {self.size}-byte records")
        os.pwrite(self.fd, record, self.count * self.size)
        self.count += 1

    def read(self, i: int) -> bytes:
        return os.pread(self.fd, self.size, i * self.size)

    def close(self) -> None:
        os.close(self.fd)


class FrameStore(SpillFile):
    """Frames spilled to disk, for replaying a video shorter than the speech."""

    def append(self, frame: I420Frame) -> None:  # type: ignore[override]
        self.shape = frame.data.shape
        super().append(np.ascontiguousarray(frame.data).tobytes())

    def __getitem__(self, i: int) -> I420Frame:
        """Frame ``i`` (read-only: copy it before drawing on it)."""
        return I420Frame(np.frombuffer(self.read(i), np.uint8).reshape(self.shape))


class LandmarkStore(SpillFile):
    """Finalised landmarks of every source frame (``None`` where no face), on disk: 3.8 KB a
    frame would otherwise grow by 57 MB per 10 minutes of video."""

    def __init__(self) -> None:
        super().__init__()
        self.record: list[int] = []  # per frame: its record, or -1 without a face
        self.template: np.ndarray | None = None  # dtype and shape of the records

    @property
    def faces(self) -> int:
        """Frames with landmarks."""
        return self.count

    def append(self, landmarks: np.ndarray | None) -> None:  # type: ignore[override]
        self.record.append(-1 if landmarks is None else self.count)
        if landmarks is not None:
            self.template = landmarks if self.template is None else self.template
            super().append(np.ascontiguousarray(landmarks, self.template.dtype).tobytes())

    def __len__(self) -> int:
        return len(self.record)

    def __getitem__(self, j: int) -> np.ndarray | None:
        if self.record[j] < 0:
            return None
        data = np.frombuffer(self.read(self.record[j]), self.template.dtype)
        return data.reshape(self.template.shape).copy()
