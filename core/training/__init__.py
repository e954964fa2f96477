"""Training, evaluation and ablations with HuggingFace Accelerate."""
