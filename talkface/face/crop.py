"""Face crops: the pads around the landmark box that Wav2Lip-family networks see, and crops of
the face frame (:func:`cut_region`)."""

import cv2
import numpy as np

# (top, bottom, left, right) pixels added to the landmarks' bounding box, as Wav2Lip's default
# --pads (10 more below the chin): the training crops of `talkface train prepare`, the expert
# SyncNet's evaluation crops and the wav2lip engine's default face box.
WAV2LIP_PADS = (0, 10, 0, 0)


def cut_region(rgb: np.ndarray, affine: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The ``size`` = ``(width, height)`` crop whose pixel ``(c, r)`` sits at frame pixel
    ``affine @ (c, r, 1)`` (:func:`~talkface.face.canonical.face_region_affine`): area-averaged,
    the frame's border replicated. ``rgb``: ``(H, W, 3)`` uint8; returns ``(height, width, 3)`` uint8."""
    return cv2.warpAffine(
        rgb, affine, size, flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
