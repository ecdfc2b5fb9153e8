"""Stage A: speech audio -> per-frame target mouth shape."""
