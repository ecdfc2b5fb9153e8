"""How a neural engine runs a network on the CPU: plain PyTorch fp32, bf16 autocast, or onnxruntime.

Each runner is called with float32 NumPy arrays (the network's inputs, in order) and returns the
first output as a float32 NumPy array, so an engine does not care which one it was given
(:func:`runner`; the choices are :data:`talkface.options.ACCELERATORS`).

bf16 autocast is fast only on a CPU with bf16 instructions (AVX-512 BF16 or AMX): there it is
about 2x eager fp32; on an AVX2-only CPU oneDNN emulates it and it is some 70x *slower* than fp32
(HyperLips width 0.25: 1.08 s against 15 ms a frame on an AMD EPYC with AVX2, 2026-12-08). So
``auto``, the default, takes bf16 only where :func:`native_bf16` says the CPU has it, and the
training loops decide their autocast the same way (:func:`use_bf16`).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import torch
from torch import nn

from talkface.errors import TalkfaceError

Runner = Callable[..., np.ndarray]
AUTO = "auto"  # bf16 where the CPU has bf16 instructions, else the engine's fp32 fallback
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of native bf16 arithmetic


@cache
def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (oneDNN's own check, else ``/proc/cpuinfo``'s
    flags :data:`BF16_CPU_FLAGS`), so that bf16 autocast is faster than fp32 rather than emulated."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        pass
    try:
        flags = open("/proc/cpuinfo").read().split()
    except OSError:
        return False
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def use_bf16(requested: bool | None) -> bool:
    """A training loop's autocast: ``requested`` when given, else :func:`native_bf16`."""
    return native_bf16() if requested is None else requested


def resolve(accelerate: str, fallback: str) -> str:
    """The accelerator ``accelerate`` names: ``auto`` -> ``bf16`` on a CPU with native bf16,
    else ``fallback`` (the engine's fastest fp32 path); any other name as it is."""
    if accelerate == AUTO:
        return "bf16" if native_bf16() else fallback
    return accelerate


def eager(model: nn.Module) -> Runner:
    """Plain PyTorch fp32 inference."""

    def run(*inputs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(*(torch.from_numpy(x) for x in inputs)).numpy()

    return run


def bf16(model: nn.Module, channels_last: Sequence[int] = ()) -> Runner:
    """PyTorch inference under bf16 autocast, the model (and the inputs numbered in
    ``channels_last``) in channels-last memory format.

    On a CPU with AVX-512 BF16 instructions: about 2x eager fp32 for Wav2Lip
    (``benchmarks/wav2lip_speed.py``), with no export or compile step; on one without them far
    slower than fp32 (see the module docstring). Outputs differ from fp32 by bf16 rounding (mean
    ~1e-3, ``tests/test_engine_wav2lip.py``).
    """
    model = model.to(memory_format=torch.channels_last)

    def run(*inputs: np.ndarray) -> np.ndarray:
        tensors = [torch.from_numpy(x) for x in inputs]
        for i in channels_last:
            tensors[i] = tensors[i].contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return model(*tensors).float().contiguous().numpy()

    return run


class OnnxRunner:
    """The network exported to ONNX (in memory) and run by onnxruntime on all cores.

    About 1.5x eager PyTorch fp32 for Wav2Lip on this CPU with fp32 results (max difference ~1e-7);
    export takes ~1.5 s per run and nothing is cached on disk.

    Args:
        model: the network (in eval mode).
        example: one example input per argument (batch dimension first; the batch is dynamic).
        names: a name per input.
    """

    def __init__(self, model: nn.Module, example: Sequence[torch.Tensor], names: Sequence[str]) -> None:
        import onnxruntime

        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
            torch.onnx.export(
                model,
                tuple(example),
                buffer,
                input_names=list(names),
                output_names=["out"],
                dynamic_axes={name: {0: "batch"} for name in (*names, "out")},
                opset_version=17,
                dynamo=False,
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        self.names = tuple(names)
        self.session = onnxruntime.InferenceSession(
            buffer.getvalue(), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        return self.session.run(None, dict(zip(self.names, inputs, strict=True)))[0]


def runner(
    model: nn.Module,
    accelerate: str,
    example: Sequence[torch.Tensor],
    names: Sequence[str],
    channels_last: Sequence[int] = (),
    fallback: str = "none",
) -> Runner:
    """The runner called ``accelerate`` (``auto``, ``bf16``, ``onnx`` or ``none``) for ``model``;
    ``auto`` is ``bf16`` on a CPU with native bf16, else ``fallback`` (:func:`resolve`).

    Raises:
        TalkfaceError: an unknown name.
    """
    accelerate = resolve(accelerate, fallback)
    if accelerate == "bf16":
        return bf16(model, channels_last)
    if accelerate == "onnx":
        return OnnxRunner(model, example, names)
    if accelerate == "none":
        return eager(model)
    raise TalkfaceError(f"unknown accelerator {accelerate!r}")
