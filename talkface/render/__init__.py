"""Stage B: motion -> pixels renderers."""
