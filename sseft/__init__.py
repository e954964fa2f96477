"""sseft: plugin-based multimodal emotion recognition with SSE-FT fusion and a model registry.

    >>> import sseft
    >>> sseft.__version__
    '0.1.0'

The Python API (`load`, `list_models`, `save`, `publish`) is imported lazily so that
`import sseft` stays cheap: torch is only imported when a model is built or loaded.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load": "sseft.registry.api",
    "list_models": "sseft.registry.api",
    "save": "sseft.registry.api",
    "publish": "sseft.registry.api",
    "robustness": "sseft.robustness_api",
}
__all__ = ["__version__", *_LAZY]


def __dir__() -> list[str]:
    # The lazy names are attributes too: `dir(sseft)` and tab completion show them.
    return sorted({*(n for n in globals() if n.startswith("__")), *_LAZY})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sseft' has no attribute {name!r}")
