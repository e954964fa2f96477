"""A model with dialogue context says so wherever it is described (card, models list/show, the
experiment's summaries and reports), in ContextConfig.describe()'s words: `direction: both` is
labelled OFFLINE ANALYSIS ONLY everywhere. Its artifact reloads with the same context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

import sseft
from sseft.cli.main import cli
from sseft.core.context import ContextConfig
from tests.core.contexthelpers import context_config, write_dialogue_store

OFFLINE = "OFFLINE ANALYSIS ONLY"


def context_model(store: Path, **context: Any) -> Any:
    from sseft.core.features import FeatureStore
    from sseft.core.model import HeadSpec, ModelConfig, build_model

    cfg = ModelConfig(
        modalities=[FeatureStore.open(store).modalities["text"].spec("text")],
        fusion={"n_self": 1, "n_ima": 1, "heads": 2, "ffn_dim": 16, "dropout": 0.0, "attn_dropout": 0.0},
        head=HeadSpec(name="multiclass"),
        task="multiclass",
        label_names=["a", "b", "c"],
        context=ContextConfig(**{"window": 3, "dim": 16, "heads": 2, "dropout": 0.0, **context})
        if context
        else None,
    )
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():  # non-trivial weights: the context stream's output must matter
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def models(*args: str) -> Any:
    res = CliRunner().invoke(cli, ["models", *args])
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dialogue_store(tmp_path_factory.mktemp("dialogues") / "store")


def test_card_listing_and_show_label_the_context(store: Path, tmp_path: Path) -> None:
    both = context_model(store, window=3, direction="both")
    past = context_model(store, window=2, direction="past", speaker=False)
    alone = context_model(store)
    for name, model in (("both", both), ("past", past), ("alone", alone)):
        sseft.publish(sseft.save(model, tmp_path / name), f"ctx-{name}")

    card = (Path(sseft.list_models("ctx-both")[0].path) / "README.md").read_text()
    line = both.config.context.describe()
    assert OFFLINE in line and f"**Dialogue context:** {line}" in card
    assert f"- Dialogue context: {line}." in card  # and again under the known limits
    assert "- dialogue-context" in card  # a Hub tag
    card = (Path(sseft.list_models("ctx-past")[0].path) / "README.md").read_text()
    assert "**Dialogue context:** context: 2 preceding turns (all modalities; no speaker marking)" in card
    assert OFFLINE not in card
    card = (Path(sseft.list_models("ctx-alone")[0].path) / "README.md").read_text()
    assert "Dialogue context" not in card and "dialogue-context" not in card

    listed = models("list", "ctx-*")
    row = {x.split()[0]: x for x in listed.splitlines()[1:]}
    assert OFFLINE in row["ctx-both@1"] and "text + context: 3 turns before and after" in row["ctx-both@1"]
    assert "text + context: 2 preceding turns" in row["ctx-past@1"] and OFFLINE not in row["ctx-past@1"]
    assert "context" not in row["ctx-alone@1"]
    shown = models("show", "ctx-both")
    assert f"  context     {line}\n" in shown
    assert "  context " not in models("show", "ctx-alone")


def test_an_artifact_with_context_reloads_with_it(store: Path, tmp_path: Path) -> None:
    from sseft.core.features import FeatureStore
    from sseft.core.training.data import make_loader

    model = context_model(store, window=3, direction="past")
    ref = sseft.publish(sseft.save(model, tmp_path / "art"), "ctx-reload")
    loaded = sseft.load(ref.split("@")[0])
    assert loaded.config.context == model.config.context and loaded.config.context_on
    loader = make_loader(FeatureStore.open(store), "test", ["text"], 5, context=loaded.config.context)
    batch = next(iter(loader))
    assert batch.context is not None and bool(batch.context.present.any())
    with torch.no_grad():
        a = model(batch.features, batch.lengths, context=batch.context)
        b = loaded(batch.features, batch.lengths, context=batch.context)
        without = loaded(batch.features, batch.lengths, context=None)
    assert torch.equal(a, b)
    assert not torch.allclose(b, without)  # the reloaded context stream is in use, not ignored


@pytest.mark.slow
def test_experiment_summaries_label_offline_context(tmp_path: Path) -> None:
    from sseft.core.experiment.runner import ExperimentOptions, run_experiment

    store = write_dialogue_store(tmp_path / "store", {"train": 3, "valid": 1, "test": 1})
    cfg = context_config(tmp_path, store, window=2, direction="both")
    cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": 1})})
    res = run_experiment(cfg, tmp_path / "out", ExperimentOptions(seeds=[0], progress=False, plots=False))
    line = cfg.context.describe()
    assert OFFLINE in line
    assert f"  model: {line}" in res.report
    assert f"Model: {line}." in (tmp_path / "out" / "summary.md").read_text()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["protocol"]["context"] == line
    run = json.loads((tmp_path / "out" / "seed-0" / "summary.json").read_text())
    assert run["context"] == line
