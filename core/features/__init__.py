"""Feature store: safetensors shards + index."""
