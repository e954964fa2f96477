"""`Predictor`: raw inputs -> the model's own extractors -> fusion -> head -> `Prediction`s.

    p = Predictor(sseft.load("meld-emotion"))
    p.predict(text="I can't believe it!", video="clip.mp4")   # speech from the clip's audio track
    p.predict_items([{"text": "hi", "audio": "a.wav"}, ...])     # Prediction or ItemError per item

Extractors are rebuilt lazily, once per modality, from the fingerprints the model recorded (see
`inputs.py`). A modality without input is fed as a zero-length sequence (the fusion model then relies
on its learned CLS) when the model was trained with modality dropout or `allow_missing=True`;
otherwise it is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import torch

from ..batch import Batch, collate
from ..context import ContextInputs
from ..errors import DataError, ItemError
from ..extraction.run import reason_of, run_extractor
from ..head import method
from ..protocols import PredictableModel
from ..specs import ModalitySpec
from .inputs import build_extractor, input_kinds, modality_overrides, plugin_name, route_inputs
from .prediction import Prediction


def model_ref(model: PredictableModel) -> str:
    """'name@version' for a model loaded from the registry, its directory otherwise."""
    info = getattr(model, "artifact_info", None)
    if info is None:
        return "model"
    if info.name:
        return f"{info.name}@{info.version}"
    return str(info.path)


def trained_with_modality_dropout(model: PredictableModel) -> bool:
    """True when the model's config says modalities may be missing (`missing_ok`, recorded by the
    trainer); for older artifacts, when the training record has a positive `modality_dropout`."""
    if getattr(model.config, "missing_ok", None):
        return True

    def walk(x: Any) -> bool:
        if isinstance(x, dict):
            for k, v in x.items():
                if "modality_dropout" in str(k) and isinstance(v, (int, float, bool)) and v:
                    return True
                if isinstance(v, (dict, list)) and walk(v):
                    return True
        elif isinstance(x, list):
            return any(walk(v) for v in x)
        return False

    info = getattr(model, "artifact_info", None)
    return bool(info is not None and walk(info.training))


class Predictor:
    """Predictions of one model from raw inputs or from features (see the module docstring).

    Args:
        model: an SseftModel (usually from `sseft.load`).
        overrides: extractor overrides `MODALITY.FIELD=VALUE` (e.g. `text.model=/models/roberta-large`)
            to point at a local copy of an encoder; the rebuilt extractor must still match the model's
            fingerprint.
        allow_missing: feed absent modalities as empty sequences. None: only when the model was
            trained with modality dropout.
        device: where extractors and model run (default: the model's device).
    """

    def __init__(
        self,
        model: PredictableModel,
        overrides: Iterable[str] = (),
        allow_missing: bool | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        self.model = model
        self.specs: list[ModalitySpec] = list(model.config.modalities)
        self.task: str = model.config.task
        self.label_names: list[str] = list(model.config.label_names)
        self.ref = model_ref(model)
        self.dropout_trained = trained_with_modality_dropout(model)
        self.allow_missing = self.dropout_trained if allow_missing is None else bool(allow_missing)
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.overrides = modality_overrides(overrides, [s.name for s in self.specs])
        self.extractors: dict[str, Any] = {}

    # -- extractors ----------------------------------------------------------------------------
    def extractor(self, name: str) -> Any:
        """The (cached) extractor of modality `name`, rebuilt from the model's fingerprint."""
        if name not in self.extractors:
            spec = next(s for s in self.specs if s.name == name)
            self.extractors[name] = build_extractor(
                spec,
                self.overrides[name],
                device=str(self.device),
                where=f"model {self.ref}",
                fp_plugins=getattr(getattr(self.model, "artifact_info", None), "plugins", None),
            )
        return self.extractors[name]

    def input_kinds(self) -> dict[str, tuple[str, ...]]:
        """modality -> raw input kinds that feed it (best first): as recorded in the model's config
        at training time, else as the installed plugin declares them."""
        recorded = getattr(self.model.config, "input_kinds", None) or {}
        return {s.name: tuple(recorded.get(s.name) or input_kinds(s, self._plugin(s))) for s in self.specs}

    @staticmethod
    def _plugin(spec: ModalitySpec) -> Any:
        from ..plugins import get_manager

        name = (spec.fingerprint or {}).get("modality")
        pm = get_manager()
        return pm.get("modality", name) if name and name in pm.names("modality") else None

    # -- raw inputs ----------------------------------------------------------------------------
    def predict(
        self,
        text: str | None = None,
        audio: str | Path | None = None,
        video: str | Path | None = None,
        *,
        explain: str | Path | None = None,
        **inputs: Any,
    ) -> Prediction:
        """One prediction from raw inputs; raises the item's error (DataError) if it fails."""
        raw = {"text": text, "audio": audio, "video": video, **inputs}
        (res,) = self.predict_items([raw], ids=["input"], explain=explain)
        if isinstance(res, ItemError):
            raise DataError(res.reason)
        return res

    def predict_items(
        self,
        items: Sequence[Mapping[str, Any]],
        ids: Sequence[str] | None = None,
        explain: str | Path | None = None,
        contributions: bool = False,
    ) -> list[Prediction | ItemError]:
        """Raw inputs (by kind or modality name) per item -> a Prediction or an ItemError per item.
        One bad item never fails the others. `contributions=True` adds each modality's contribution
        to `notes["contributions"]` (see contributions.py)."""
        ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(len(items))]
        results, feats, notes, routed = self.extract_items(items, ids)
        ok = [b for b in range(len(items)) if results[b] is None]
        if ok:
            preds = self._forward(
                [feats[b] for b in ok], [ids[b] for b in ok], [notes[b] for b in ok],
                explain=explain, raws=[routed[b] for b in ok], contributions=contributions,
            )  # fmt: skip
            for b, p in zip(ok, preds, strict=True):
                results[b] = p
        return [r for r in results if r is not None]

    def extract_items(
        self, items: Sequence[Mapping[str, Any]], ids: Sequence[str]
    ) -> tuple[
        list[Prediction | ItemError | None],
        list[dict[str, torch.Tensor]],
        list[dict[str, Any]],
        list[dict[str, Any]],
    ]:
        """Raw inputs per item -> per item: its ItemError (None: extracted), its features
        {modality: (L, D)}, its notes, its routed raw inputs. The extraction half of `predict_items`;
        conversation.py pools each turn's context vector from these features."""
        kinds = self.input_kinds()
        plugins = {s.name: self._plugin(s) for s in self.specs}
        results: list[Prediction | ItemError | None] = [None] * len(items)
        routed: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = [{} for _ in items]
        for b, raw in enumerate(items):
            r, used, unused = route_inputs(self.specs, raw, plugins)
            routed.append(r)
            notes[b]["inputs"] = used
            if unused:
                notes[b]["unused_inputs"] = unused
            missing = [s.name for s in self.specs if s.name not in r]
            if not r:
                wanted = sorted({k for ks in kinds.values() for k in ks})
                results[b] = ItemError(
                    ids[b], f"no input for any modality of {self.ref} (give {', '.join(wanted)})"
                )
            elif missing and not self.allow_missing:
                m = missing[0]
                results[b] = ItemError(
                    ids[b],
                    f"no input for modality {m!r} of {self.ref} (give {' or '.join(kinds[m])}); the model was not "
                    "trained with modality dropout: pass --allow-missing (allow_missing=True) to predict without it",
                )
        self._check_extractable(routed)
        feats: list[dict[str, torch.Tensor]] = [{} for _ in items]
        for s in self.specs:
            todo = [b for b in range(len(items)) if results[b] is None and s.name in routed[b]]
            if not todo:
                continue
            ex = self.extractor(s.name)
            outs = run_extractor(ex, [routed[b][s.name] for b in todo])
            for b, o in zip(todo, outs, strict=True):
                if isinstance(o, Exception):
                    results[b] = ItemError(ids[b], f"{s.name}: {reason_of(o)}")
                    continue
                feats[b][s.name] = o.features
                if o.notes:
                    notes[b].setdefault("extract", {})[s.name] = o.notes
        return results, feats, notes, routed

    def _check_extractable(self, routed: Sequence[Mapping[str, Any]]) -> None:
        """A modality trained on features no extractor made (synthetic, precomputed) stops every item
        at once, before the missing-input errors: media cannot reach it, whatever is given."""
        for s in self.specs:
            if plugin_name(s) is None and (not self.allow_missing or any(s.name in r for r in routed)):
                self.extractor(s.name)  # raises the ExtractionError that says so

    # -- features ------------------------------------------------------------------------------
    def predict_features(
        self, batch: Batch | Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> list[Prediction]:
        """Predictions from features: a `Batch`, a mapping {"features": {m: (B, L, D)}, "lengths":
        {m: (B,)} (optional: full length)}, or store items [{"id", "features": {m: (L, D)}}, ...]."""
        if isinstance(batch, Sequence) and not isinstance(batch, Mapping):
            items = list(batch)
            ids = [str(it.get("id", i)) for i, it in enumerate(items)]
            return self._forward([dict(it["features"]) for it in items], ids, [{} for _ in items])
        if isinstance(batch, Batch):
            features, lengths, ids = batch.features, batch.lengths, list(batch.ids)
        else:  # the mapping form (mypy does not narrow the negated `and` above)
            mapping = cast(Mapping[str, Any], batch)
            features = dict(mapping["features"])
            lengths = dict(mapping.get("lengths") or {})
            ids = [str(i) for i in mapping.get("ids") or []]
        per_item: list[dict[str, torch.Tensor]] = []
        n = next(iter(features.values())).shape[0]
        for b in range(n):
            per_item.append(
                {m: x[b, : int(lengths[m][b]) if m in lengths else x.shape[1]] for m, x in features.items()}
            )
        ids = ids or [str(b) for b in range(n)]
        return self._forward(per_item, ids, [{} for _ in range(n)])

    # -- the forward pass ----------------------------------------------------------------------
    def _forward(
        self,
        feats: list[dict[str, torch.Tensor]],
        ids: list[str],
        notes: list[dict[str, Any]],
        explain: str | Path | None = None,
        raws: list[dict[str, Any]] | None = None,
        contributions: bool = False,
        context: ContextInputs | None = None,
    ) -> list[Prediction]:
        """Per-item features (absent modality: empty sequence) -> Predictions (+ explanation PNGs).
        `context`: the items' dialogue context (core/context/table.py), for a model trained with it;
        each Prediction's `context` then lists its context slots (distance back, attention share)."""
        missing: list[list[str]] = []
        items = []
        for b, f in enumerate(feats):
            absent = [s.name for s in self.specs if s.name not in f]
            if absent and not self.allow_missing:
                raise DataError(
                    f"item {ids[b]}: no features for modality {absent[0]!r} of {self.ref}; pass allow_missing=True "
                    "to feed it as an empty sequence"
                )
            missing.append(absent)
            x: dict[str, torch.Tensor] = {}
            for s in self.specs:
                t = f.get(s.name)
                t = torch.zeros(0, s.dim) if t is None else torch.as_tensor(t, dtype=torch.float32).cpu()
                if t.ndim != 2 or t.shape[1] != s.dim:
                    raise DataError(
                        f"item {ids[b]}: modality {s.name!r} features have shape {tuple(t.shape)}; expected (length, {s.dim})"
                    )
                if t.shape[0] > s.max_len:  # the model never saw longer sequences: keep the first max_len
                    notes[b].setdefault("cropped", {})[s.name] = {"from": int(t.shape[0]), "to": s.max_len}
                    t = t[: s.max_len]
                if t.shape[0] == 0 and s.name not in absent:
                    notes[b].setdefault("empty", []).append(s.name)
                x[s.name] = t
            items.append({"id": ids[b], "features": x})
        batch = collate(items, [s.name for s in self.specs]).to(self.device)
        model = self.model
        # only a context model's forward takes `context` (an ONNX runtime's call does not)
        fed = {} if context is None else {"context": context.to(self.device)}
        with torch.inference_mode():
            outputs, attn = model(batch.features, batch.lengths, return_attention=True, **fed)
            records = method(model.head, "records")(outputs, ids)  # the head's records: no task here
        out = []
        for b, rec in enumerate(records):
            used = [s.name for s in self.specs if s.name not in missing[b]]
            p = Prediction.from_record(
                model.head, rec, modalities_used=used, missing=missing[b], notes=notes[b]
            )
            if context is not None:
                p.context = context_slots(context, attn.get(("utterance", "context")), b)
            out.append(p)
        if contributions:
            from .contributions import modality_contributions

            shares = modality_contributions(
                model, batch.features, batch.lengths, records, ids, missing, context=fed.get("context")
            )
            for p, c in zip(out, shares, strict=True):
                p.notes["contributions"] = c
        if explain is not None:
            from .explain import explain_batch

            lengths = {m: batch.lengths[m].cpu() for m in batch.lengths}
            paths = explain_batch(self, out, attn, lengths, Path(explain), raws)
            for p, path in zip(out, paths, strict=True):
                if path is not None:
                    p.notes["explain"] = str(path)
                else:
                    p.notes["explain"] = "no IMA blocks in this model: nothing to plot"
        return out


def context_slots(context: ContextInputs, attention: torch.Tensor | None, b: int) -> list[dict[str, Any]]:
    """Item `b`'s context turns, in slot order: how far back each lies and (when the model gave
    attention over them) the share of the utterance's attention it got."""
    slots = []
    for s in range(int(context.present.shape[1])):
        if bool(context.present[b, s]):
            slot: dict[str, Any] = {"distance": int(context.distance[b, s])}
            if attention is not None and attention.shape[-1] > s:
                slot["attention"] = round(float(attention[b, s]), 6)
            slots.append(slot)
    return slots


def predictor_for(
    model: PredictableModel,
    *,
    allow_missing: bool | None = None,
    overrides: Iterable[str] = (),
    device: str | torch.device | None = None,
) -> Predictor:
    """The Predictor behind `model.predict` / `model.predict_features` / `model.predictor()`
    (core/model.py ArtifactModel forwards here). A new one per call: the model keeps no reference to
    it, and the extractors it rebuilds are shared by every Predictor (inputs.py), so this is cheap."""
    return Predictor(model, overrides, allow_missing=allow_missing, device=device)
