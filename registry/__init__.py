"""The model registry: safetensors artifacts, named and versioned, loaded back by name."""
