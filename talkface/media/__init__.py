"""Media I/O: decoding and encoding with PyAV, audio loading and resampling, atomic output."""
