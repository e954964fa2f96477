"""Config models of the built-in heads (pydantic only: imported by the entry-point module).

Every field has a default, so `head: {name: regression}` is a complete config. The layers default
to the authors' head: dropout -> Linear(D, H) -> tanh -> dropout -> Linear(H, C), with H = D.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeFloat

from sseft.core.config import StrictModel

# "mult": compute F1 with MulT's argument order f1_score(prediction, truth), i.e. weighted by
# the *predicted* class support. Off ("none") by default; when on, the metrics dict says so.
Compat = Literal["none", "mult"]

REGRESSION_METRICS = (
    "mae",
    "corr",
    "acc7",
    "acc7_cmu",
    "acc5",
    "acc5_cmu",
    "acc2_has0",
    "f1_has0",
    "acc2_non0",
    "f1_non0",
)
# Metrics for which a smaller value is better (everything else: larger is better).
LOWER_IS_BETTER = frozenset({"mae"})


class HeadConfig(StrictModel):
    """Layers shared by every built-in head."""

    hidden_dim: int | None = Field(
        default=None, ge=1, description="width of the hidden layer; None: the input width D"
    )
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0, description="dropout before each Linear")
    compat: Compat = Field(
        default="none", description="'mult': MulT's swapped F1 argument order (pred, truth)"
    )


class RegressionConfig(HeadConfig):
    """Sentiment-style regression (CMU-MOSI/MOSEI scores in [-3, 3])."""

    loss: Literal["l1", "mse"] = "l1"
    primary_metric: Literal[REGRESSION_METRICS] = "mae"  # type: ignore[valid-type]


class MulticlassConfig(HeadConfig):
    """One label out of C (MELD emotion or sentiment)."""

    class_weights: list[NonNegativeFloat] | None = Field(
        default=None, description="one weight >= 0 per label name"
    )
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)
    primary_metric: Literal["weighted_f1", "macro_f1", "accuracy"] = "weighted_f1"


class MultilabelConfig(HeadConfig):
    """K independent present/absent labels, each a 2-way softmax (IEMOCAP 4 emotions, MOSEI 6)."""

    label_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)
    primary_metric: Literal["weighted_f1", "accuracy"] = "weighted_f1"
