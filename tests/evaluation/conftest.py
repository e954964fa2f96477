"""Evaluation test fixtures; the helpers live in evalhelpers.py (a unique module name for imports)."""

from __future__ import annotations

from pathlib import Path

import pytest
from evalhelpers import write_grouped_store


@pytest.fixture(scope="module")
def grouped_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_grouped_store(tmp_path_factory.mktemp("evalstore") / "store")
