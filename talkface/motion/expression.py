"""Expression of a photo from speech: SadTalker's ExpNet (:mod:`talkface.models.expnet`) over our
landmark expression basis (:mod:`talkface.face.expression`), from one shipped file
(``talkface train expression``).

ExpNet gives each frame's expression coefficients from the frame's mel window, the reference
expression and the frame's eye-blink ratio. The photo is taken as its person's neutral face
(reference zero: a still photo carries no clip median to measure it against), so what ExpNet
adds is the expression speech brings: brows, cheeks, eyelids. Photo animation applies its upper
face (:data:`~talkface.face.expression.HELD_BY_OTHERS` stay: the lip-sync engine moves the mouth
and the blink the eyelids), times ``--expression-scale``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from talkface.face.expression import ExpressionBasis

EXPNET = Path(__file__).resolve().parents[1] / "weights" / "expnet.pt"
EXPNET_FPS = 25.0  # the frame rate ExpNet was trained at


class ExpressionModel:
    """The shipped ExpNet and its basis.

    Args:
        path: the ``expnet.pt``; default :data:`EXPNET`.

    Raises:
        TalkfaceError: missing or unreadable file, or not an expression model.
    """

    def __init__(self, path: Path | None = None) -> None:
        import torch

        from talkface.models.expnet import ExpNetConfig, SimpleWrapperV2
        from talkface.weights import config_from, reading_model

        path = Path(path or EXPNET)
        with reading_model(path, "expression model"):
            data = torch.load(path, map_location="cpu", weights_only=True)
            self.net = SimpleWrapperV2(config_from(ExpNetConfig, data["config"]))
            self.net.load_state_dict({k: v.float() for k, v in data["state_dict"].items()})
            self.basis = ExpressionBasis(
                np.asarray(data["components"], np.float32), np.asarray(data["std"], np.float32)
            )
            self.canonical = np.asarray(data["canonical"], np.float32)
            self.report = data.get("report", {})
        self.net.eval()
        self.path = path

    def coefficients(self, samples: np.ndarray, n_frames: int, fps: float, blink: np.ndarray) -> np.ndarray:
        """Expression coefficients of every output frame (ExpNet, paper Eq. 2), smoothed.

        Args:
            samples: ``(n,)`` float32 16 kHz speech.
            n_frames: output frames at ``fps``.
            fps: frames per second (ExpNet runs at :data:`EXPNET_FPS`; other rates are resampled).
            blink: ``(n_frames,)`` float eye-blink ratio (0 open, 1 shut) of the output frames.

        Returns:
            ``(n_frames, K)`` float32 coefficients (canonical units: ``basis.shapes`` gives the
            landmark residuals), zero at frame 0.
        """
        import torch

        from talkface.motion.head import fade_in, mel_windows, savgol

        n = max(1, int(round(n_frames * EXPNET_FPS / fps)))
        at = np.arange(n) * fps / EXPNET_FPS
        ratio = np.interp(at, np.arange(n_frames), np.asarray(blink, np.float32))
        mels = torch.from_numpy(mel_windows(samples, n, EXPNET_FPS))
        k = self.basis.size
        out = []
        with torch.inference_mode():
            for s in range(0, n, 256):
                m = mels[s : s + 256]
                ref = torch.zeros(len(m), 1, k)
                r = torch.from_numpy(ratio[s : s + 256].astype(np.float32)).reshape(-1, 1, 1)
                out.append(self.net(m, ref, r)[:, 0].numpy())
        coeffs = savgol(np.concatenate(out)) * self.basis.std
        # Frame 0 is the photo: the expression rises from it as the head's pose does.
        coeffs = fade_in(coeffs - coeffs[:1], EXPNET_FPS)
        if n != n_frames:
            src = np.arange(n_frames) * EXPNET_FPS / fps
            coeffs = np.stack([np.interp(src, np.arange(n), coeffs[:, j]) for j in range(k)], 1)
        return coeffs.astype(np.float32)
