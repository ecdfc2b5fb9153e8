"""Speech analysis: mel features, voice activity, text-to-speech (espeak-ng) and visemes."""
