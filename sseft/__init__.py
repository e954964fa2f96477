"""sseft: plugin-based multimodal emotion recognition with SSE-FT fusion and a model registry.

    >>> import sseft
    >>> sseft.__version__
    '0.1.0'

The Python API (`load`, `list_models`, `save`, `publish`; `robustness`, `compare_robustness`,
`predict_conversation` from sseft/api.py) is imported lazily so that `import sseft` stays cheap:
torch is only imported when a model is built or loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sseft.core.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, typed for mypy (the table below is what runs)
    from sseft.api import compare_robustness, predict_conversation, robustness  # noqa: F401
    from sseft.registry.api import list_models, load, publish, save  # noqa: F401
    from sseft.serve.media import predict_timeline  # noqa: F401

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "sseft.registry.api": ("load", "list_models", "save", "publish"),
        "sseft.api": ("robustness", "compare_robustness", "predict_conversation"),
        "sseft.serve.media": ("predict_timeline",),
    },
    eager=("__version__",),
)
