"""Face crops: the pads around the landmark box that Wav2Lip-family networks see."""

# (top, bottom, left, right) pixels added to the landmarks' bounding box, as Wav2Lip's default
# --pads (10 more below the chin): the training crops of `talkface train prepare`, the expert
# SyncNet's evaluation crops and the wav2lip engine's default face box.
WAV2LIP_PADS = (0, 10, 0, 0)
