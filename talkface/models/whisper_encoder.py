"""Whisper's audio encoder in PyTorch, with openai-whisper's parameter names (Radford et al. 2022,
"Robust Speech Recognition via Large-Scale Weak Supervision", section 2.2 and figure 1).

The encoder: two 1-D convolutions over the 80-band log-mel spectrogram (kernel 3, the second with
stride 2: 100 -> 50 frames/s), each followed by GELU; sinusoidal position embeddings; ``n_layer``
pre-norm transformer blocks (multi-head self-attention, then a 4x MLP with GELU); a final layer
norm. :meth:`AudioEncoder.forward` can return every block's output, not only the last: MuseTalk
and LatentSync condition on several of them.

Weights load from an openai-whisper checkpoint (``tiny.pt``, ``base.pt``: ``{"dims",
"model_state_dict"}``; :func:`load_openai_checkpoint`) or from the bundled CTranslate2 Whisper
base (:func:`load_ctranslate2`, which reads CTranslate2's ``model.bin`` format: float16
variables named ``encoder/...``).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn

from talkface.errors import TalkfaceError

N_MELS = 80
N_CTX = 1500  # encoder positions per 30 s window


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """Whisper's position embeddings: ``(length, channels)`` float32, sines then cosines."""
    increment = np.log(max_timescale) / (channels // 2 - 1)
    inv = torch.exp(-increment * torch.arange(channels // 2, dtype=torch.float32))
    t = torch.arange(length, dtype=torch.float32)[:, None] * inv[None]
    return torch.cat([torch.sin(t), torch.cos(t)], dim=1)


class MultiHeadAttention(nn.Module):
    """Self-attention as openai-whisper's (``query``/``value``/``out`` with bias, ``key`` without)."""

    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, T, n_state)`` -> same shape."""
        b, t, d = x.shape
        q, k, v = (
            f(x).view(b, t, self.n_head, d // self.n_head).transpose(1, 2)
            for f in (self.query, self.key, self.value)
        )
        y = nn.functional.scaled_dot_product_attention(q, k, v)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class ResidualAttentionBlock(nn.Module):
    """Pre-norm transformer block: ``x + attn(attn_ln(x))``, then ``x + mlp(mlp_ln(x))``."""

    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(n_state, n_head)
        self.attn_ln = nn.LayerNorm(n_state)
        self.mlp = nn.Sequential(nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state))
        self.mlp_ln = nn.LayerNorm(n_state)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, T, n_state)`` -> same shape."""
        x = x + self.attn(self.attn_ln(x))
        return x + self.mlp(self.mlp_ln(x))


class AudioEncoder(nn.Module):
    """openai-whisper's ``AudioEncoder`` (``model.encoder``): base is ``n_state`` 512, ``n_head`` 8,
    ``n_layer`` 6; tiny is 384, 6, 4.

    Args:
        n_mels: mel bands of the input (80).
        n_ctx: positions (1500 per 30 s window).
        n_state: width.
        n_head: attention heads.
        n_layer: transformer blocks.
    """

    def __init__(
        self, n_mels: int = N_MELS, n_ctx: int = N_CTX, n_state: int = 512, n_head: int = 8, n_layer: int = 6
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, n_state, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(n_state, n_state, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", sinusoids(n_ctx, n_state))
        self.blocks = nn.ModuleList([ResidualAttentionBlock(n_state, n_head) for _ in range(n_layer)])
        self.ln_post = nn.LayerNorm(n_state)

    def states(self, mel: torch.Tensor, depth: int | None = None) -> list[torch.Tensor]:
        """The embedded input and the outputs of the first ``depth`` blocks (default all), each
        ``(batch, n_ctx, n_state)``; the blocks past ``depth`` are not run."""
        x = nn.functional.gelu(self.conv1(mel))
        x = nn.functional.gelu(self.conv2(x)).permute(0, 2, 1)
        x = x + self.positional_embedding[: x.shape[1]]
        out = [x]
        for block in self.blocks[: len(self.blocks) if depth is None else depth]:
            x = block(x)
            out.append(x)
        return out

    def forward(self, mel: torch.Tensor, hidden_states: bool = False) -> torch.Tensor:
        """Encode log-mel windows.

        Args:
            mel: ``(batch, n_mels, 2 * n_ctx)`` float32 log-mel spectrogram (Whisper's, 100
                frames/s, 30 s windows).
            hidden_states: also return every block's input and output.

        Returns:
            ``(batch, n_ctx, n_state)`` float32 encoder output; with ``hidden_states``,
            ``(n_layer + 2, batch, n_ctx, n_state)``: the embedded input, each block's output,
            and the final (layer-normed) output.
        """
        states = self.states(mel)
        out = self.ln_post(states[-1])
        return torch.stack([*states, out]) if hidden_states else out


def _read_ctranslate2(path: Path) -> dict[str, np.ndarray]:
    """The ``encoder/...`` variables of a CTranslate2 ``model.bin`` (binary version 6) as float32.

    Raises:
        TalkfaceError: not a CTranslate2 Whisper model.
    """
    dtypes = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
    out = {}
    try:
        with open(path, "rb") as f:

            def string() -> str:
                (n,) = struct.unpack("<H", f.read(2))
                return f.read(n)[:-1].decode()

            (version,) = struct.unpack("<I", f.read(4))
            spec = string()
            if spec != "WhisperSpec" or version < 5:
                raise TalkfaceError(f"not a CTranslate2 Whisper model ({spec!r}, version {version})", path)
            f.read(4)  # spec revision
            (count,) = struct.unpack("<I", f.read(4))
            for _ in range(count):
                name = string()
                rank = f.read(1)[0]
                shape = struct.unpack(f"<{rank}I", f.read(4 * rank))
                dtype = f.read(1)[0]
                (size,) = struct.unpack("<I", f.read(4))
                if name.startswith("encoder/") and dtype in dtypes:
                    out[name] = np.frombuffer(f.read(size), dtypes[dtype]).reshape(shape)
                else:
                    f.seek(size, 1)
    except (OSError, struct.error, ValueError) as exc:
        raise TalkfaceError(f"cannot read the CTranslate2 model ({exc})", path) from None
    return out


def load_ctranslate2(folder: Path) -> AudioEncoder:
    """The encoder of a CTranslate2 Whisper model folder (e.g. the bundled base,
    :func:`~talkface.speech.whisper.whisper_model_dir`), in float32.

    Raises:
        TalkfaceError: the folder's ``model.bin`` is not a CTranslate2 Whisper model.
    """
    v = _read_ctranslate2(Path(folder) / "model.bin")
    n_layer = len({k.split("/")[1] for k in v if re.match(r"encoder/layer_\d+/", k)})
    n_state = v["encoder/conv1/weight"].shape[0]
    n_head = int(v["encoder/num_heads"]) if "encoder/num_heads" in v else n_state // 64
    enc = AudioEncoder(n_state=n_state, n_head=n_head, n_layer=n_layer)
    sd = {
        "conv1.weight": v["encoder/conv1/weight"],
        "conv1.bias": v["encoder/conv1/bias"],
        "conv2.weight": v["encoder/conv2/weight"],
        "conv2.bias": v["encoder/conv2/bias"],
        "ln_post.weight": v["encoder/layer_norm/gamma"],
        "ln_post.bias": v["encoder/layer_norm/beta"],
        "positional_embedding": v["encoder/position_encodings/encodings"],
    }
    for i in range(n_layer):
        p, b = f"encoder/layer_{i}/", f"blocks.{i}."
        q, k, val = np.split(v[p + "self_attention/linear_0/weight"], 3)
        qb, _, vb = np.split(v[p + "self_attention/linear_0/bias"], 3)
        sd |= {
            b + "attn.query.weight": q,
            b + "attn.query.bias": qb,
            b + "attn.key.weight": k,
            b + "attn.value.weight": val,
            b + "attn.value.bias": vb,
            b + "attn.out.weight": v[p + "self_attention/linear_1/weight"],
            b + "attn.out.bias": v[p + "self_attention/linear_1/bias"],
            b + "attn_ln.weight": v[p + "self_attention/layer_norm/gamma"],
            b + "attn_ln.bias": v[p + "self_attention/layer_norm/beta"],
            b + "mlp.0.weight": v[p + "ffn/linear_0/weight"],
            b + "mlp.0.bias": v[p + "ffn/linear_0/bias"],
            b + "mlp.2.weight": v[p + "ffn/linear_1/weight"],
            b + "mlp.2.bias": v[p + "ffn/linear_1/bias"],
            b + "mlp_ln.weight": v[p + "ffn/layer_norm/gamma"],
            b + "mlp_ln.bias": v[p + "ffn/layer_norm/beta"],
        }
    enc.load_state_dict({k: torch.from_numpy(np.asarray(a, np.float32).copy()) for k, a in sd.items()})
    return enc.eval()


def load_openai_checkpoint(path: str | Path) -> AudioEncoder:
    """The encoder of an openai-whisper checkpoint (``tiny.pt``, ``base.pt``, ...: a dict with
    ``dims`` and ``model_state_dict``), loaded strictly.

    Raises:
        TalkfaceError: the file is missing or not an openai-whisper checkpoint.
    """
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        dims, state = ckpt["dims"], ckpt["model_state_dict"]
        enc = AudioEncoder(
            dims["n_mels"],
            dims["n_audio_ctx"],
            dims["n_audio_state"],
            dims["n_audio_head"],
            dims["n_audio_layer"],
        )
        enc.load_state_dict(
            {k.removeprefix("encoder."): v.float() for k, v in state.items() if k.startswith("encoder.")}
        )
    except FileNotFoundError:
        raise TalkfaceError("Whisper checkpoint not found", path) from None
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise TalkfaceError(f"not an openai-whisper checkpoint ({str(exc).splitlines()[0]})", path) from None
    return enc.eval()
