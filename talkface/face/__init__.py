"""Faces: detection and 478-point landmarks (mediapipe), tracking, smoothing, masks and paste-back."""
