"""`ContextConfig`: dialogue context as one switch of the model (`context:` in an experiment config).

    context: {window: 8, direction: past, speaker: true, modalities: [text]}

Each item then also sees up to `window` preceding turns of its own dialogue (core/features/
conversation.py builds the leak-proof index), each described by how far back it lies, (with
`speaker`) whether its speaker is the current one, and by its content, which `turns` chooses:

    pooled  the mean of the turn's frozen features of `modalities` (any batch order; the default)
    fused   the fusion's own vector of that turn, learned end to end: batches then hold whole
            dialogues (core/context/batches.py) so that every turn is fused once per step and its
            vector serves as the context of the turns after it
`window: 0` (or no `context`) is the utterance-only model. `direction: both` also shows the turns
after an item: offline analysis only, labelled so wherever the model is described.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..config import StrictModel


class ContextConfig(StrictModel):
    window: int = Field(default=8, ge=0, le=256, description="preceding turns each item sees; 0: no context")
    direction: Literal["past", "both"] = Field(
        default="past",
        description="past: only earlier turns (live use); both: also later turns (offline analysis only)",
    )
    speaker: bool = Field(default=True, description="mark each context turn as same / other speaker")
    turns: Literal["pooled", "fused"] = Field(
        default="pooled",
        description="what describes a context turn: its pooled frozen features, or the fusion's own "
        "vector of it (whole-dialogue batches)",
    )
    # The modalities whose pooled features describe a context turn (None: every modality of the model;
    # with `turns: fused` the fusion's vector covers the model's modalities and this is unused).
    modalities: list[str] | None = Field(default=None, min_length=1)
    # The context stream: a small pre-norm transformer over [current utterance, context turns].
    dim: int = Field(default=128, ge=8)
    layers: int = Field(default=1, ge=1, le=8)
    heads: int = Field(default=4, ge=1)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)

    @property
    def enabled(self) -> bool:
        return self.window > 0

    @property
    def slots(self) -> int:
        """Context positions per item: `window` before (and `window` after with direction both)."""
        return self.window * (2 if self.direction == "both" else 1)

    def describe(self) -> str:
        """One line for summaries, cards and listings."""
        if not self.enabled:
            return "context: none (each utterance alone)"
        mods = ", ".join(self.modalities) if self.modalities else "all modalities"
        if self.turns == "fused":
            mods = "each turn's fused vector"
        who = "speaker marked" if self.speaker else "no speaker marking"
        if self.direction == "both":
            return (
                f"context: {self.window} turns before and after ({mods}; {who}) - OFFLINE ANALYSIS ONLY: "
                "it reads later turns, which a live conversation does not have"
            )
        return f"context: {self.window} preceding turns ({mods}; {who})"
