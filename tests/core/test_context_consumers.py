"""What reads a model's attention or forward besides training copes with dialogue context: the
attention picture draws the context turns, contributions keep the context in every pass, and
robustness and ONNX export refuse a context model with one line."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from sseft.core.errors import ConfigError, ExportError
from tests.core.contexthelpers import write_dialogue_store
from tests.registry.test_context_labels import context_model


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dialogue_store(tmp_path_factory.mktemp("dialogues") / "store")


def batch_of(store: Path, model: Any, size: int = 5) -> Any:
    from sseft.core.features import FeatureStore
    from sseft.core.training.data import make_loader

    return next(
        iter(make_loader(FeatureStore.open(store), "test", ["text"], size, context=model.config.context))
    )


def png_height(path: Path) -> int:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[20:24], "big")


def test_context_bars_are_labelled_by_distance_oldest_first() -> None:
    from sseft.core.inference.explain import context_bars

    turns = [{"distance": 1, "attention": 0.5}, {"distance": 3, "attention": 0.2}, {"distance": 2}]
    weights = torch.tensor([0.5, 0.2, 0.25])
    assert context_bars(turns, weights) == [("-3", 0.2), ("-2", 0.25), ("-1", 0.5)]
    later = [{"distance": -1, "attention": 0.1}, {"distance": 1, "attention": 0.9}]
    assert [b[0] for b in context_bars(later, torch.zeros(2))] == ["-1", "+1"]
    # no per-turn record (distances unknown): the turns that got attention, by slot
    assert context_bars(None, torch.tensor([0.7, 0.3, 0.0])) == [("slot 1", pytest.approx(0.7)),
                                                                   ("slot 2", pytest.approx(0.3))]  # fmt: skip


def test_the_attention_picture_shows_the_context_turns(store: Path, tmp_path: Path) -> None:
    from sseft.core.inference.explain import CONTEXT_KEY, explain_batch
    from sseft.core.inference.predictor import context_slots

    for name, context in (("alone", {}), ("context", {"window": 3})):
        model = context_model(store, **context)
        batch = batch_of(store, model, size=2)
        with torch.no_grad():
            _, attn = model(batch.features, batch.lengths, context=batch.context, return_attention=True)
        assert (CONTEXT_KEY in attn) == bool(context)
        preds = [
            SimpleNamespace(id=i, summary=lambda: "a", modalities_used=["text"], missing=[],
                            context=context_slots(batch.context, attn[CONTEXT_KEY], b) if context else None)
            for b, i in enumerate(batch.ids)
        ]  # fmt: skip
        predictor = SimpleNamespace(specs=model.config.modalities, extractors={})
        paths = explain_batch(predictor, preds, attn, batch.lengths, tmp_path / name)  # type: ignore[arg-type]
        if context:  # one modality: no IMA block, but the context turns are drawn
            assert all(p is not None and p.is_file() for p in paths)
        else:
            assert paths == [None] * len(preds)  # as before: nothing to plot


def test_the_context_row_is_added_below_the_ima_rows(store: Path, tmp_path: Path) -> None:
    from sseft.core.features import FeatureStore
    from sseft.core.inference.explain import Axis, plot_item

    text = FeatureStore.open(store).modalities["text"].spec("text")
    specs = [text, text.model_copy(update={"name": "b"})]
    ima = {("text", "b"): torch.rand(6)}
    lengths, axes = {"text": 4, "b": 5}, {"text": Axis("index"), "b": Axis("index")}
    plain = plot_item(tmp_path / "plain.png", "t", specs, ima, lengths, axes)
    bars = [("-2", 0.4), ("-1", 0.6)]
    with_ctx = plot_item(tmp_path / "ctx.png", "t", specs, {**ima, ("utterance", "context"): torch.rand(2)},
                         lengths, axes, bars)  # fmt: skip
    assert png_height(with_ctx) > png_height(plain)
    empty = plot_item(tmp_path / "empty.png", "t", specs, ima, lengths, axes, [])  # a first turn
    assert png_height(empty) == png_height(with_ctx)


def test_contributions_keep_the_context_in_every_pass(store: Path) -> None:
    from sseft.core.head import method
    from sseft.core.inference.contributions import modality_contributions

    model = context_model(store, window=3)
    batch = batch_of(store, model)
    with torch.no_grad():
        out = model(batch.features, batch.lengths, context=batch.context)
    records = method(model.head, "records")(out, batch.ids)
    missing = [[] for _ in batch.ids]
    with_ctx = modality_contributions(model, batch.features, batch.lengths, records, batch.ids, missing,
                                      context=batch.context)  # fmt: skip
    # occluding text alone, context kept: the value is what the context-only pass gives
    hidden = {"text": torch.zeros_like(batch.lengths["text"])}
    with torch.no_grad():
        only_ctx = method(model.head, "records")(
            model(batch.features, hidden, context=batch.context), batch.ids
        )
    for rec, full, occluded in zip(with_ctx, records, only_ctx, strict=True):
        label = full["label"]
        expected = float(full["probabilities"][label]) - float(occluded["probabilities"][label])
        assert rec["text"] == pytest.approx(expected, abs=1e-5)


def test_robustness_refuses_a_context_model_with_one_line(store: Path) -> None:
    from sseft.core.robustness.api import run_robustness
    from sseft.core.robustness.config import RobustnessConfig

    model = context_model(store, window=2, direction="both")
    with pytest.raises(ConfigError) as e:
        run_robustness(model, store, RobustnessConfig(split="test"))
    line = str(e.value)
    assert "\n" not in line and "dialogue context" in line and "OFFLINE ANALYSIS ONLY" in line
    assert "cannot rebuild their dialogue contexts" in line


def test_onnx_export_refuses_a_context_model_with_one_line(store: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from sseft.core.export import export_onnx, why_not_exportable

    assert why_not_exportable(context_model(store)) is None  # the same model without context
    model = context_model(store, window=2)
    with pytest.raises(ExportError) as e:
        export_onnx(model, tmp_path / "onnx")
    line = str(e.value)
    assert "\n" not in line and "dialogue context (context: 2 preceding turns" in line and "ONNX" in line
    assert not (tmp_path / "onnx").exists() and list(tmp_path.iterdir()) == []
