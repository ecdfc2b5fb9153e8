"""The bundled default input: a portrait that ships inside a package and texts for it to speak.

Used by ``talkface demo`` and by the examples of ``talkface serve``; nothing here is downloaded.
"""

from __future__ import annotations

from pathlib import Path

DEMO_TEXT = (
    "Hello! I am an astronaut, and this photograph was taken by NASA. "
    "Today I am speaking to you through talkface, which runs on an ordinary computer, without a GPU. "
    "Look closely at my lips: they move with every word, and they close when I pause."
)
DEMO_TEXT_ZH = "你好！我是一名宇航员。今天我用普通的电脑和你说话，不需要显卡。"


def demo_face(folder: Path) -> Path:
    """Write scikit-image's astronaut portrait (512x512 RGB, NASA, public domain) as a PNG.

    Args:
        folder: an existing directory.

    Returns:
        The path of ``folder / "astronaut.png"``.
    """
    import cv2
    from skimage import data

    path = Path(folder) / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    return path
