"""What `sseft env` reports for a bug report: Python, platform, package versions, torch devices and
the plugins' load status. Never raises: a broken install is what it exists to diagnose. Also
`hf_offline`: whether Hugging Face downloads are switched off, as the environment says now."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

PACKAGES = ("sseft", "torch", "torchaudio", "torchvision", "transformers", "accelerate", "safetensors",
            "pydantic", "pluggy", "av", "soundfile")  # fmt: skip


# How huggingface_hub reads a boolean environment variable.
TRUE_VALUES = ("1", "ON", "YES", "TRUE")


def hf_offline() -> bool:
    """Hugging Face offline mode by huggingface_hub's rule (HF_HUB_OFFLINE, else TRANSFORMERS_OFFLINE,
    a true value) read now, since the library reads it once at import; unset: the library's flag."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
    if value:
        return value.strip().upper() in TRUE_VALUES
    try:
        from huggingface_hub import constants
    except ImportError:  # no hub client installed: nothing can be downloaded anyway
        return True
    return bool(constants.HF_HUB_OFFLINE)


def package_version(dist: str) -> str:
    """The installed version of distribution `dist`, or "not installed"."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment_report() -> dict[str, Any]:
    """{python, platform, <package>: version, cuda_available, devices, torch_threads | torch_error,
    plugins: {name: "ok" | error}}."""
    from .plugins import get_manager

    info: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform()}
    info.update({dist: package_version(dist) for dist in PACKAGES})
    try:
        import torch

        info["cuda_available"] = torch.cuda.is_available()
        info["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] or ["cpu"]
        info["torch_threads"] = torch.get_num_threads()
    except Exception as e:  # report, do not fail
        info["torch_error"] = f"{type(e).__name__}: {e}"
    info["plugins"] = {n: (p.error or "ok") for n, p in get_manager().load().plugins.items()}
    return info
