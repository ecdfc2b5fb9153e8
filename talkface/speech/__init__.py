"""Speech analysis: mel spectrogram (Wav2Lip-compatible), voice activity, text-to-speech (espeak-ng)."""
