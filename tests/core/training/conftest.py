"""Training test fixtures; the helpers live in trainhelpers.py (a unique module name for imports)."""

from trainhelpers import tiny_store  # noqa: F401  (fixture)
