"""Built-in fusion plugins (entry point `fusions` -> builtin.py): SSE-FT, late-fusion, concat-pool,
TFN, LMF and MulT, registered exactly as a third-party fusion would be."""
