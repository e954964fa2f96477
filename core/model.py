"""A complete sseft model: the SSE-FT fusion engine plus a prediction head, rebuilt from config alone.

`ModelConfig` is everything `config.json` of an artifact needs to rebuild the model; `build_model`
turns it into an `SseftModel` (weights random until loaded).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, cast

import torch
from pydantic import Field, model_validator
from torch import nn

from .artifact_info import ArtifactInfo
from .config import StrictModel
from .context import ContextConfig, ContextInputs
from .context.stream import ContextStream
from .plugins import get_head
from .protocols import TaskType
from .specs import FusionConfig, ModalitySpec

if TYPE_CHECKING:  # core/inference never imports this module: the dependency runs one way
    from .inference.prediction import Prediction
    from .inference.predictor import Predictor
    from .protocols import PredictableModel


class HeadSpec(StrictModel):
    name: str
    config: dict[str, Any] = Field(default_factory=dict)


class ModelConfig(StrictModel):
    """What an artifact's config.json records about the network (the registry adds metadata)."""

    modalities: list[ModalitySpec] = Field(min_length=1)
    fusion: FusionConfig = Field(default_factory=FusionConfig)
    head: HeadSpec
    task: TaskType
    label_names: list[str] = Field(min_length=1)
    # Modalities an item may lack at prediction time (fed as empty sequences): every modality of a
    # model trained with modality dropout, none otherwise. Recorded by the trainer, so nothing has
    # to guess it from the training record.
    missing_ok: list[str] = Field(default_factory=list)
    # Per modality, the raw input kinds that feed it (best first: `audio`, then `video` for speech),
    # as its plugin declared them when the model was trained. Empty: ask the installed plugin.
    input_kinds: dict[str, list[str]] = Field(default_factory=dict)
    # Dialogue context (core/context/): None or window 0 = each utterance alone.
    context: ContextConfig | None = None

    @model_validator(mode="after")
    def _context_modalities(self) -> ModelConfig:
        ctx = self.context
        names = [m.name for m in self.modalities]
        if ctx is not None and ctx.modalities is not None:
            unknown = [m for m in ctx.modalities if m not in names]
            if unknown:
                raise ValueError(f"context.modalities {unknown} are not modalities of the model ({names})")
        return self

    @property
    def context_on(self) -> bool:
        return self.context is not None and self.context.enabled

    def context_modalities(self) -> list[str]:
        """The modalities whose pooled features describe a context turn (empty without context, and
        with `turns: fused`, where the fusion's own vector of the turn describes it)."""
        if self.context is None or not self.context.enabled or self.context.turns == "fused":
            return []
        return list(self.context.modalities or [m.name for m in self.modalities])


class ArtifactModel:
    """What every runtime of a model artifact offers on top of its forward pass: the names from its
    `config` (a ModelConfig) and prediction, which core/inference/predictor.py owns (these methods
    only forward to it). SseftModel is one; core/export/runtime.py's ONNX model can be another."""

    config: ModelConfig

    @property
    def modality_names(self) -> list[str]:
        return [m.name for m in self.config.modalities]

    @property
    def label_names(self) -> list[str]:
        return list(self.config.label_names)

    # -- prediction: core/inference/predictor.py owns it; these only forward -------------------
    def predictor(
        self, *, allow_missing: bool | None = None, overrides: tuple[str, ...] = (), device: str | None = None
    ) -> Predictor:
        """A `sseft.core.inference.Predictor` of this model for these options (extractors are
        shared between predictors, core/inference/inputs.py, so making one is cheap)."""
        from .inference.predictor import predictor_for

        # self is an SseftModel or another runtime with a forward pass (see protocols.PredictableModel)
        return predictor_for(
            cast("PredictableModel", self), allow_missing=allow_missing, overrides=overrides, device=device
        )

    def predict(
        self,
        text: str | None = None,
        audio: Any = None,
        video: Any = None,
        *,
        allow_missing: bool | None = None,
        overrides: tuple[str, ...] = (),
        explain: Any = None,
        **inputs: Any,
    ) -> Prediction:
        """Predict from raw inputs with the encoders this model was trained on (rebuilt from its
        fingerprints, once per process, then shared). Returns a `Prediction` (`.label`,
        `.probabilities`, `.score`, `.acc7_class`, `.labels`, `.modalities_used`, `.missing`,
        `.to_dict()`).

        text -> text, audio (or the video's audio track) -> speech, video -> face; other plugins
        declare their own input kind (`model.predict(eeg="rec.npy")`). A modality without input is
        an error unless the model was trained with modality dropout or `allow_missing=True`.
        `overrides=("text.model=/models/roberta-large",)` points at a local copy of an encoder;
        `explain="dir"` writes an attention plot per item there.

            >>> m = sseft.load("meld-emotion")                                   # doctest: +SKIP
            >>> m.predict(text="Oh my God!", video="clip.mp4").label             # doctest: +SKIP
            'surprise'
        """
        p = self.predictor(allow_missing=allow_missing, overrides=tuple(overrides))
        return p.predict(text=text, audio=audio, video=video, explain=explain, **inputs)

    def predict_features(self, batch: Any, *, allow_missing: bool | None = None) -> list[Prediction]:
        """Predictions (one `Prediction` per item) from features: a `Batch`, a mapping
        {"features": {m: (B, L, D)}, "lengths": {m: (B,)}}, or feature-store items
        [{"id", "features": {m: (L, D)}}, ...].

            >>> preds = m.predict_features([store.get(i) for i in store.ids("test")[:4]])  # doctest: +SKIP
        """
        return self.predictor(allow_missing=allow_missing).predict_features(batch)

    def predict_conversation(
        self, turns: Any, *, allow_missing: bool | None = None, overrides: tuple[str, ...] = ()
    ) -> list[Prediction]:
        """One `Prediction` per turn of a conversation, each from that turn and the turns before it
        (a model trained with `context:`; core/inference/conversation.py). `turns`: dicts or
        ConversationTurns {speaker, text, audio, video}, in order, or a .jsonl/.csv file of them.
        Each prediction's `.context` lists the earlier turns it saw and their attention shares.

            >>> turns = [{"speaker": "ann", "text": "hi"}, {"speaker": "bob", "text": "oh no"}]
            >>> [p.label for p in m.predict_conversation(turns)]                 # doctest: +SKIP
            ['neutral', 'surprise']
        """
        from .inference.conversation import predict_conversation, read_conversation

        if isinstance(turns, str | os.PathLike):
            turns = read_conversation(turns)
        predictor = self.predictor(allow_missing=allow_missing, overrides=tuple(overrides))
        return predict_conversation(predictor, turns)


def fuse_by_length(
    fusion: nn.Module, features: dict[str, torch.Tensor], lengths: dict[str, torch.Tensor], chunk: int = 16
) -> torch.Tensor:
    """fusion(features, lengths) computed in chunks of `chunk` items of similar length, each padded
    only to its own longest item; rows in the batch's order. Whole-dialogue batches (context.turns
    fused) cannot be bucketed by length, so one long turn would pad the whole batch (2.6x the time
    per epoch on MELD); the fusion's padding invariance makes the result the same."""
    b = next(iter(lengths.values())).shape[0]
    if b <= chunk:
        return fusion(features, lengths)
    total = torch.stack([lengths[m] for m in lengths]).sum(dim=0)  # (B,) all modalities' frames
    order = torch.argsort(total, stable=True)
    parts, rows = [], []
    for start in range(0, b, chunk):
        idx = order[start : start + chunk]
        ln = {m: lengths[m][idx] for m in lengths}
        feats = {m: features[m][idx, : max(1, int(ln[m].max()))] for m in features}  # (c, L_c, D_m)
        parts.append(fusion(feats, ln))
        rows.append(idx)
    out = torch.cat(parts)  # (B, F) in `order`
    return out[torch.argsort(torch.cat(rows))]  # back to the batch's order


class SseftModel(nn.Module, ArtifactModel):
    """fusion (N modalities -> one vector) followed by the head (vector -> outputs).

    `artifact_info` holds what the artifact it was loaded from says about itself (set by
    `sseft.load`; None for a model built or trained in this process)."""

    artifact_info: ArtifactInfo | None = None

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        from .fusion.build import build_fusion

        self.config = config
        # the fusion plugin `fusion.name` (SSE-FT by default), behind the one input path
        self.fusion = build_fusion(config.modalities, config.fusion)
        head_plugin = get_head(config.head.name)
        head_cfg = head_plugin.config_model.model_validate(config.head.config)
        # dialogue context (core/context/stream.py): one more stream after the fusion, or none
        self.context: ContextStream | None = None
        if config.context_on:
            assert config.context is not None
            dims = {m.name: m.dim for m in config.modalities if m.name in config.context_modalities()}
            self.context = ContextStream(config.context, dims, self.fusion.out_dim)
        width = self.fusion.out_dim + (self.context.out_dim if self.context is not None else 0)
        self.head = head_plugin.build(width, config.label_names, head_cfg)

    def forward(
        self,
        features: dict[str, torch.Tensor],
        lengths: dict[str, torch.Tensor],
        *,
        context: ContextInputs | None = None,
        return_attention: bool = False,
    ) -> Any:
        """features[m]: (B, L_m, D_m), lengths[m]: (B,) -> head outputs (B, C): the one forward
        (batch -> fused [-> with its dialogue context] -> head) that training, evaluation and
        prediction all call. `context`: the items' context turns (core/context/table.py; ignored by a
        model without context, None for a model with it = no earlier turns).
        `return_attention=True` returns (outputs, attention) for explanations: the fusion's IMA maps,
        plus ("utterance", "context"): (B, W) over the context turns when the model has context."""
        if return_attention:
            fused, attn = self.fusion(features, lengths, return_attention=True)
        elif self.context is not None and self.context.fused_turns:
            fused, attn = fuse_by_length(self.fusion, features, lengths), {}
        else:
            fused, attn = self.fusion(features, lengths), {}
        if self.context is not None:
            c, cattn = self.context(fused, context, self.fusion.standardizers, need_weights=return_attention)
            fused = torch.cat([fused, c], dim=-1)
            if cattn is not None:
                attn = {**attn, ("utterance", "context"): cattn}
        return (self.head(fused), attn) if return_attention else self.head(fused)

    def summary(self) -> str:
        """The model in a few lines: fusion, context, head."""
        lines = [self.fusion.summary()]
        if self.context is not None:
            lines.append(self.context.summary())
        n = sum(p.numel() for p in self.head.parameters() if p.requires_grad)
        lines.append(f"head {self.config.head.name}: {len(self.config.label_names)} labels; {n:,} parameters")
        return "\n".join(lines)


def build_model(config: ModelConfig | dict[str, Any]) -> SseftModel:
    """Build an SseftModel from a ModelConfig (or its JSON form)."""
    cfg = config if isinstance(config, ModelConfig) else ModelConfig.model_validate(config)
    return SseftModel(cfg)
