"""One contract test over EVERY head in the plugin registry (built-in and third-party alike)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.core.errors import DataError
from sseft.core.plugins import get_manager

HEADS = get_manager().names("head")
B, D = 6, 12


def _labels(task: str, k: int, gen: torch.Generator) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """label names, valid labels, and labels with one value out of the head's range."""
    if task == "regression":
        names = ["sentiment"]
        good = torch.randn(B, generator=gen) * 2
        bad = good.clone()
        bad[2] = float("nan")
    elif task == "multiclass":
        names = [f"class{i}" for i in range(k)]
        good = torch.randint(0, k, (B,), generator=gen)
        bad = good.clone()
        bad[2] = k + 2
    else:
        names = [f"emotion{i}" for i in range(k)]
        good = torch.randint(0, 2, (B, k), generator=gen)
        bad = good.clone()
        bad[2, 1] = 2
    return names, good, bad


def test_the_builtin_heads_are_registered() -> None:
    assert {"regression", "multiclass", "multilabel-binary"} <= set(HEADS)


BUILTIN_TASKS = ("regression", "multiclass", "multilabel")


@pytest.mark.parametrize("name", HEADS)
def test_every_head_renders_its_records(name: str) -> None:
    """What core asks of any head, whatever its task: records (plain JSON, one per item, with id and
    label), CSV cells that fit the head's columns, a line and a table per record."""
    from sseft.core.head import method
    from sseft.core.inference.prediction import Prediction, csv_columns

    plugin = get_manager().get("head", name)
    assert isinstance(plugin.task, str) and plugin.task
    head = plugin.build(D, ["a", "b", "c"], plugin.config_model()).eval()
    assert head.task == plugin.task and list(head.label_names) == ["a", "b", "c"]
    with torch.no_grad():
        out = head(torch.randn(B, D))
    ids = [f"item{i}" for i in range(B)]
    records = method(head, "records")(out, ids)
    assert [r["id"] for r in records] == ids and all("label" in r for r in records)
    json.dumps(records, allow_nan=False)
    cols = csv_columns(head)
    for rec in records:
        p = Prediction.from_record(head, rec, modalities_used=["x"])
        assert p.id == rec["id"] and p.label == rec["label"]
        assert list(p.csv_row()) == cols and p.summary() and p.table()
        json.dumps(p.to_dict(), allow_nan=False)
    assert isinstance(method(head, "summary")({head.primary_metric: 0.5, "n_items": B}), str)


@pytest.mark.parametrize("name", HEADS)
def test_head_contract(name: str) -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    plugin = get_manager().get("head", name)
    if plugin.task not in BUILTIN_TASKS:
        pytest.skip(
            f"task {plugin.task!r}: no generic valid/invalid labels (see test_every_head_renders_its_records)"
        )
    assert plugin.task in ("regression", "multiclass", "multilabel")
    names, labels, bad = _labels(plugin.task, 4, gen)

    # the config round-trips through JSON unchanged
    cfg = plugin.config_model()
    again = plugin.config_model.model_validate(json.loads(cfg.model_dump_json()))
    assert again == cfg

    head = plugin.build(D, names, cfg)
    assert isinstance(head, torch.nn.Module)
    assert head.primary_metric in head.metric_names
    assert isinstance(head.greater_is_better, bool)

    fused = torch.randn(B, D, requires_grad=True)
    out = head(fused)
    expected_shape = {
        "regression": (B, len(names)),
        "multiclass": (B, len(names)),
        "multilabel": (B, len(names), 2),
    }
    assert tuple(out.shape) == expected_shape[plugin.task]

    # labels arrive as the store's plain JSON; the head collates them into what its loss takes
    collated = head.collate_labels(labels.tolist())
    assert torch.equal(collated, labels.to(head.label_dtype))

    # loss: finite, scalar, differentiable down to the input and every parameter
    loss = head.loss(out, collated)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert fused.grad is not None and torch.isfinite(fused.grad).all()
    assert all(p.grad is not None for p in head.parameters() if p.requires_grad)

    # predictions: one entry per item in every field
    pred = head.predict(out.detach())
    assert pred and all(len(v) == B for v in pred.values())
    json.dumps(pred)  # plain JSON-able values

    # metrics over the split: the declared keys, from tensors or numpy alike
    m = head.metrics(out.detach(), labels)
    assert set(head.metric_names) <= set(m)
    m_np = head.metrics(out.detach().numpy(), labels.numpy())
    primary = m[head.primary_metric]
    assert primary == m_np[head.primary_metric] or (
        math.isnan(primary) and math.isnan(m_np[head.primary_metric])
    )

    # a split's pictures and its one-line summary
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        pngs = head.report(out.detach(), labels, Path(d))
        assert pngs and all(p.is_file() and p.stat().st_size > 1000 for p in pngs)
    assert head.primary_metric in head.summary(m)

    # labels outside the head's range: a DataError that names the value; empty split: DataError
    head.validate_labels(labels)
    head.validate_labels(labels.tolist())  # plain JSON, as the store keeps them
    with pytest.raises(
        DataError, match={"regression": "is nan", "multiclass": "is 6", "multilabel": "is 2"}[plugin.task]
    ):
        head.validate_labels(bad)
    with pytest.raises(DataError, match="empty"):
        head.metrics(out.detach()[:0], labels[:0])


@settings(max_examples=30, deadline=None)
@given(task=st.sampled_from(BUILTIN_TASKS), k=st.integers(2, 5), n=st.integers(1, B), seed=st.integers(0, 99))
def test_labels_survive_the_store_json_round_trip(task: str, k: int, n: int, seed: int) -> None:
    """Labels written as plain JSON (what the store keeps) validate and collate to the same tensor
    the head would get from the original values."""
    from sseft.core.inference.prediction import head_for_task

    gen = torch.Generator().manual_seed(seed)
    names, labels, _ = _labels(task, k, gen)
    labels = labels[:n]
    if task == "regression":
        labels = labels.to(torch.float64)
    stored = json.loads(json.dumps(labels.tolist()))
    head = head_for_task(task, names)
    head.validate_labels(stored)
    collated = head.collate_labels(stored)
    assert torch.equal(collated, labels.to(collated.dtype)) and len(collated) == n
