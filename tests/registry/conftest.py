"""Registry test fixtures; the helpers live in regtools.py (a unique module name for imports)."""

from regtools import engine  # noqa: F401  (fixture)
