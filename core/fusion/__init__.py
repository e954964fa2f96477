"""SSE-FT fusion engine (N modalities)."""
