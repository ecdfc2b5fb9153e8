"""talkface: a face (video or photo) + speech (audio or text) -> a lip-synced talking video, on CPU.

Public API::

    import talkface
    result = talkface.sync("face.mp4", "out.mp4", audio="speech.wav")
    print(result.summary())
    # An engine and its options, checked when the options object is made:
    talkface.sync("face.mp4", "out.mp4", audio="speech.wav",
                  engine=talkface.Wav2LipOptions(checkpoint="wav2lip_gan.pth", pads=(0, 20, 0, 0)))

These names are imported on first use, so that ``import talkface.speech.phones`` (run as a helper
process) does not load the whole pipeline (OpenCV, PyAV, mediapipe; 0.5 s).
"""

from talkface.errors import TalkfaceError

__version__ = "0.1.0"
__all__ = [
    "ENGINES",
    "SyncOptions",
    "SyncResult",
    "TalkfaceError",
    "WarpOptions",
    "Wav2LipOptions",
    "__version__",
    "engine_options",
    "sync",
]
_LAZY = {
    "sync": "talkface.pipeline",
    "SyncResult": "talkface.pipeline",
    "SyncOptions": "talkface.options",
    "ENGINES": "talkface.engines.registry",
    "engine_options": "talkface.engines.registry",
    "WarpOptions": "talkface.engines.warp",
    "Wav2LipOptions": "talkface.engines.wav2lip",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'talkface' has no attribute {name!r}")
