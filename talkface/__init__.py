"""talkface: a face (video or photo) + speech (audio or text) -> a lip-synced talking video, on CPU.

Public API::

    import talkface
    result = talkface.sync("face.mp4", "out.mp4", audio="speech.wav")
    print(result.summary())
"""

from talkface.errors import TalkfaceError
from talkface.pipeline import SyncResult, sync

__version__ = "0.1.0"
__all__ = ["SyncResult", "TalkfaceError", "__version__", "sync"]
