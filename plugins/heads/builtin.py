"""Entry point `heads`: registers the built-in prediction heads.

Imports only pydantic-based configs: the torch modules (regression.py, multiclass.py,
multilabel.py) load inside `BuiltinHead.build()`, so `sseft plugins` stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from sseft.core.config import validate
from sseft.core.hookspecs import hookimpl
from sseft.core.protocols import TaskType

from .configs import MulticlassConfig, MultilabelConfig, RegressionConfig


class BuiltinHead:
    """A head plugin object: name, task, config_model and build(in_dim, label_names, config)."""

    def __init__(
        self, name: str, task: TaskType, config_model: type[BaseModel], module: str, description: str
    ) -> None:
        """`module`: "<sibling module>.<head class>", imported when the head is built."""
        self.name = name
        self.task = task
        self.config_model = config_model
        self.description = description
        self._module, self._class = module.split(".")  # the nn.Module subclass and where it lives

    def build(
        self, in_dim: int, label_names: Sequence[str], config: BaseModel | Mapping[str, Any] | None = None
    ) -> Any:
        """The head module for a fused input of width `in_dim` and these label names."""
        if config is None or isinstance(config, Mapping):
            config = validate(self.config_model, config or {}, source=f"head {self.name!r} config")
        elif not isinstance(config, self.config_model):
            config = validate(self.config_model, config.model_dump(), source=f"head {self.name!r} config")
        mod = importlib.import_module(f"{__package__}.{self._module}")
        return getattr(mod, self._class)(in_dim, list(label_names), config)

    def __repr__(self) -> str:
        return f"<head {self.name!r} task={self.task}>"


REGRESSION = BuiltinHead(
    "regression",
    "regression",
    RegressionConfig,
    "regression.RegressionHead",
    "sentiment scores (MOSI/MOSEI): L1/MSE, MAE, Corr, Acc7/5/2",
)
MULTICLASS = BuiltinHead(
    "multiclass",
    "multiclass",
    MulticlassConfig,
    "multiclass.MulticlassHead",
    "one of C classes (MELD): cross-entropy, accuracy, F1",
)
MULTILABEL_BINARY = BuiltinHead(
    "multilabel-binary",
    "multilabel",
    MultilabelConfig,
    "multilabel.MultilabelBinaryHead",
    "K present/absent labels, each a 2-way softmax (IEMOCAP, MOSEI emotions)",
)


@hookimpl
def register_heads(register: Any) -> None:
    for head in (REGRESSION, MULTICLASS, MULTILABEL_BINARY):
        register(head)
