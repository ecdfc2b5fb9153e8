"""talkface: a face (video or photo) + speech (audio or text) -> a lip-synced talking video, on CPU.

Public API::

    import talkface
    result = talkface.sync("face.mp4", "out.mp4", audio="speech.wav")
    print(result.summary())

``sync`` and ``SyncResult`` are imported on first use, so that ``import talkface.speech.phones``
(run as a helper process) does not load the whole pipeline (OpenCV, PyAV, mediapipe; 0.5 s).
"""

from talkface.errors import TalkfaceError

__version__ = "0.1.0"
__all__ = ["SyncResult", "TalkfaceError", "__version__", "sync"]


def __getattr__(name: str):
    if name in ("sync", "SyncResult"):
        from talkface import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'talkface' has no attribute {name!r}")
