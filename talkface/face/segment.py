"""Person / background segmentation of a photo: mediapipe 0.10.21's bundled selfie segmentation
model (``selfie_segmentation.tflite``, offline), for the head renderer's layers."""

from __future__ import annotations

import numpy as np

from talkface.face.quiet import native_stderr_silenced
from talkface.face.track import import_mediapipe


def person_mask(rgb: np.ndarray) -> np.ndarray:
    """How much each pixel belongs to the person (head, hair, neck, body).

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB image.

    Returns:
        ``(H, W)`` float32 in [0, 1] (the model's confidence; soft at hair and edges).
    """
    with native_stderr_silenced():
        mp = import_mediapipe()
        with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as model:
            result = model.process(np.ascontiguousarray(rgb))
    return np.clip(result.segmentation_mask, 0, 1).astype(np.float32)
