"""Media I/O: decoding and encoding with PyAV, audio loading and resampling, atomic output.

The constants below are read by :mod:`talkface.options` too, which must not import PyAV.
"""

DEFAULT_FPS = 25.0  # frames/s for a photo, and for videos whose rate cannot be read
FPS_RANGE = (1.0, 240.0)  # frames/s a photo may be given, and a video's rate is trusted within
# x264 speed/size trade-off at constant quality (CRF). At 720p here: ultrafast 7.9 ms CPU per frame,
# superfast 15.2 ms with 0.56x the file size; the default keeps the whole job faster than real time.
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")
VIDEO_PRESET = "ultrafast"
