"""Metrics: lip-sync (aperture/width correlation, LMD) and their reports."""
