"""Training: dataset preparation (LRS2-style layout), trainers, checkpoints."""
