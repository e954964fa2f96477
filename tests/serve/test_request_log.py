"""`sseft serve --log-level info` prints one line per request (the `sseft.serve` logger: id, method,
path, model, status, ms) on uvicorn's stderr handler, as uvicorn configures logging in each worker;
`--log-level warning` keeps them off."""

from __future__ import annotations

import subprocess
import sys

import pytest

SNIPPET = """
import logging.config, sys
from sseft.cli.serve import _log_config
logging.config.dictConfig(_log_config(sys.argv[1]))
logging.getLogger("sseft.serve").info("request id=abc method=POST path=/v1/models/m/predict model=m status=200 ms=1.0")
logging.getLogger("sseft.serve").warning("a warning")
"""


@pytest.mark.parametrize("level", ["info", "warning"])
def test_request_lines_follow_the_log_level(level: str) -> None:
    run = subprocess.run([sys.executable, "-c", SNIPPET, level], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    shown = "request id=abc method=POST" in run.stderr
    assert shown == (level == "info"), run.stderr
    assert "a warning" in run.stderr
