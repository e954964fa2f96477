"""Fixtures of the serve tests: the tiny models published once per session, an app over them with
its own upload folder, and a test client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import tiny_models as tm  # noqa: I001


@pytest.fixture(scope="session")
def served_home(tmp_path_factory: pytest.TempPathFactory) -> tm.Served:
    return tm.publish_all(tmp_path_factory.mktemp("serve_home"))


@pytest.fixture(scope="session")
def text_home(tmp_path_factory: pytest.TempPathFactory) -> tm.Served:
    """Only the text model (fast to build) for the tests that need no media."""
    return tm.publish_all(tmp_path_factory.mktemp("serve_text_home"), with_av=False)


@pytest.fixture(scope="module")
def upload_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uploads")


@pytest.fixture(scope="module")
def app(served_home: tm.Served, upload_dir: Path) -> Any:
    return tm.load_app(served_home.home, ["tiny-text", "tiny-av"], tmp_dir=str(upload_dir), max_seconds=60.0)


@pytest.fixture(scope="module")
def client(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A short mp4 (face + audio), its wav and a transcript."""
    return tm.pf.media_item(tmp_path_factory.mktemp("clip"), "c0", 3)


def pytest_collection_modifyitems(items: list[Any]) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
