"""One model the service holds: loaded once per process, its Predictor (the one prediction path),
its dynamic batcher and what `GET /v1/models` says about it."""

from __future__ import annotations

import base64
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sseft.core.errors import ItemError
from sseft.core.files import to_plain
from sseft.core.serving.batcher import DynamicBatcher

from .settings import ServeSettings


@dataclass
class Job:
    """One item for the batcher: raw inputs by kind (paths inside the request's temp folder)."""

    id: str
    raw: dict[str, Any]
    attention: bool = False


@dataclass
class Outcome:
    """The prediction (or the item's error) and, when asked, the attention picture as PNG bytes."""

    prediction: Any = None
    error: str | None = None
    attention_png: bytes | None = None
    attention_note: str | None = None


@dataclass
class ServedModel:
    name: str
    ref: str
    model: Any
    predictor: Any
    batcher: DynamicBatcher[Job, Outcome]
    tmp_root: Path
    info: dict[str, Any] = field(default_factory=dict)
    ready: bool = False

    @classmethod
    def load(cls, ref: str, settings: ServeSettings, tmp_root: Path) -> ServedModel:
        import sseft
        from sseft.core.inference import Predictor

        model = sseft.load(ref, device=settings.device)
        predictor = Predictor(model, allow_missing=settings.allow_missing, device=settings.device)
        info = model.artifact_info
        name = (info.name if info is not None else None) or Path(str(ref)).name
        holder: dict[str, ServedModel] = {}
        batcher: DynamicBatcher[Job, Outcome] = DynamicBatcher(
            lambda jobs: holder["m"].run_jobs(jobs),
            max_batch=settings.max_batch, max_wait_ms=settings.max_wait_ms, max_queue=settings.max_queue, name=name,
        )  # fmt: skip
        served = cls(name, predictor.ref, model, predictor, batcher, tmp_root)
        holder["m"] = served
        served.info = describe(served)
        return served

    def warm(self) -> None:
        """Build every encoder now, so the first request does not pay for it."""
        for s in self.predictor.specs:
            self.predictor.extractor(s.name)
        from sseft.core.inference.segments import utterance_seconds

        self.info["utterance_seconds"] = utterance_seconds(self.predictor)
        self.ready = True

    # -- the batch function (runs in the batcher's thread) --------------------------------------
    def run_jobs(self, jobs: list[Job]) -> list[Outcome]:
        """predict_items on the jobs (those asking for attention together, with a temp folder for
        the pictures that is removed before returning)."""
        out: dict[str, Outcome] = {}
        for want in (False, True):
            group = [j for j in jobs if j.attention is want]
            if not group:
                continue
            tmp = Path(tempfile.mkdtemp(prefix="sseft-serve-attn-", dir=self.tmp_root)) if want else None
            try:
                results = self.predictor.predict_items(
                    [j.raw for j in group], ids=[j.id for j in group], explain=tmp, contributions=True
                )
                for j, res in zip(group, results, strict=True):
                    out[j.id] = self._outcome(res, want)
            finally:
                if tmp is not None:
                    shutil.rmtree(tmp, ignore_errors=True)
        return [out[j.id] for j in jobs]

    @staticmethod
    def _outcome(res: Any, attention: bool) -> Outcome:
        if isinstance(res, ItemError):
            return Outcome(error=res.reason)
        o = Outcome(prediction=res)
        if attention:
            path = res.notes.pop("explain", None)
            if path and Path(path).is_file():
                o.attention_png = Path(path).read_bytes()
            else:
                o.attention_note = str(path or "no attention picture for this model")
        return o


def png_b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode("ascii") if data else None


def describe(served: ServedModel) -> dict[str, Any]:
    """Name, version, modalities (their inputs and encoders), labels and recorded test metrics."""
    model, p = served.model, served.predictor
    info = model.artifact_info
    kinds = p.input_kinds()
    mods = []
    for s in p.specs:
        fp = dict(s.fingerprint or {})
        cfg: dict[str, Any] = fp["config"] if isinstance(fp.get("config"), dict) else {}
        encoder = cfg.get("model") or cfg.get("encoder") or fp.get("modality") or s.name
        mods.append({
            "name": s.name, "inputs": list(kinds.get(s.name, ())), "plugin": fp.get("modality"),
            "encoder": str(encoder), "dim": int(s.dim), "max_len": int(s.max_len),
        })  # fmt: skip
    metrics = dict(info.metrics or {})
    test = metrics.get("test", metrics)
    return to_plain({
        "name": served.name, "version": info.version, "ref": served.ref, "task": p.task,
        "label_names": list(p.label_names), "modalities": mods, "allow_missing": bool(p.allow_missing),
        "metrics": test if isinstance(test, dict) else {}, "utterance_seconds": None,
        "context": model.config.context.describe() if getattr(model.config, "context_on", False) else None,
    })  # fmt: skip
