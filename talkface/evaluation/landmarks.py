"""Landmark metrics of a generated video against a reference: LMD and lip jitter.

Every frame's 478 mediapipe landmarks are mapped into a canonical face frame
(:func:`talkface.face.canonical.to_canonical`: interocular distance 1). Distances are then in
units of the interocular distance (IOD); the tables show them in % of IOD.

- **LMD** (landmark distance, Chen et al. 2019): mean Euclidean distance between the generated and
  the reference lip landmarks (the 40 lip-contour points), frame by frame, in the canonical frame.
- **Lip jitter**: mean magnitude of the second time difference of the canonical lip landmarks,
  ``|x[t+1] - 2 x[t] + x[t-1]|``: frame-to-frame shake. A generated video should not shake more
  than the real one (ratio near 1).
"""

from __future__ import annotations

import numpy as np

from talkface.face.landmarks import LIPS


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
