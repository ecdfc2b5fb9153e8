"""Research networks, one file each, with the published parameter names."""
