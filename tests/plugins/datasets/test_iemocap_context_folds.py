"""IEMOCAP (the generated session tree) with dialogue context through leave-one-session-out folds:
extracted with a tiny text encoder, trained one epoch per fold by the experiment runner. Plumbing,
not a score: every fold trains, no context crosses a session or a fold part, the summaries name the
context, and the dataset's default speaker-held-out validation split is refused (it cuts dialogues)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from test_iemocap_dataset import make_iemocap

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "modalities"))
import media_factory as mf  # noqa: E402

from sseft.core.errors import DataError  # noqa: E402

pytestmark = pytest.mark.slow  # a tiny RoBERTa extraction and three 1-epoch trainings (~15 s)


def extract_iemocap(root: Path, rob: Path, out: Path, **dataset: Any) -> Path:
    from sseft.core.extraction import extract_items
    from sseft.plugins.datasets.iemocap import IEMOCAP, IemocapConfig

    cfg = IemocapConfig(root=root, train_sessions=[1, 4], labels="4class", modalities=["text"], **dataset)
    summary = extract_items(list(IEMOCAP.items(cfg)), IEMOCAP.task(cfg), {"text": {"model": str(rob)}}, out,
                            batch_size=8, threads=1, progress=False)  # fmt: skip
    assert summary.failed == 0, summary.line()
    return out


def loso_config(tmp: Path, store: Path) -> Any:
    from tests.core.training.trainhelpers import tiny_experiment

    return tiny_experiment(
        tmp, store, name="iemocap-context", data={"store": str(store), "folds": {"by": "session"}},
        context={"window": 2, "dim": 16, "heads": 2},
        train={"epochs": 1, "batch_size": 2, "lr": 1e-3, "seed": 0, "num_threads": 1},
    )  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("iemocap")
    return {"root": make_iemocap(d / "IEMOCAP", avi=False), "rob": mf.tiny_roberta(d / "rob"), "dir": d}


def test_leave_one_session_out_with_context_trains_every_fold(
    corpus: dict[str, Path], tmp_path: Path
) -> None:
    from sseft.core.context import ContextTable
    from sseft.core.experiment.plan import plan_runs
    from sseft.core.experiment.runner import ExperimentOptions, run_experiment
    from sseft.core.features import FeatureStore

    # every dialogue in one store split: no speaker-held-out validation split
    store = extract_iemocap(corpus["root"], corpus["rob"], tmp_path / "store", valid_speakers=[])
    cfg = loso_config(tmp_path, store)
    fs = FeatureStore.open(store)
    meta = {i: m for sp in fs.splits for i, m in zip(fs.ids(sp), fs.meta(sp), strict=True)}

    # the contexts each fold's loaders get: within one session, one dialogue and one fold part
    specs = plan_runs(cfg, tmp_path / "plan", [0])
    assert [s.fold for s in specs] == [1, 2, 3]  # sessions 1, 4, 5
    seen = 0
    for spec in specs:
        assert spec.split_ids is not None
        sessions = {p: {meta[i]["session"] for i in ids} for p, ids in spec.split_ids.items()}
        assert len(sessions["test"]) == 1 and not sessions["test"] & (sessions["train"] | sessions["valid"])
        for ids in spec.split_ids.values():
            table = ContextTable.from_store(fs, ids, ["text"], cfg.context)
            for k, item in enumerate(table.ids):
                for row in table.rows[k].tolist():
                    if row >= 0:
                        other = table.ids[row]
                        assert other != item and other in ids
                        assert meta[other]["session"] == meta[item]["session"]
                        assert meta[other]["dialogue"] == meta[item]["dialogue"]
                        assert meta[other]["turn"] < meta[item]["turn"]
                        seen += 1
    assert seen > 0  # some items do have context

    out = tmp_path / "out"
    res = run_experiment(cfg, out, ExperimentOptions(progress=False, plots=False))
    summary = json.loads((out / "summary.json").read_text())
    line = cfg.context.describe()
    assert line == "context: 2 preceding turns (all modalities; speaker marked)"
    assert summary["protocol"]["context"] == line and summary["protocol"]["folds"]["n"] == 3
    assert sorted(r["fold"] for r in summary["runs"]) == [1, 2, 3]
    for r in summary["runs"]:  # every fold trained and was tested
        assert r["best_epoch"] == 1 and r["test"] and r["test"]["n_items"] >= 1
        run = json.loads((out / r["dir"] / "summary.json").read_text())
        assert run["context"] == line
        model_cfg = json.loads((out / r["dir"] / "model_config.json").read_text())
        assert model_cfg["context"]["window"] == 2
    assert f"Model: {line}." in (out / "summary.md").read_text()
    assert f"  model: {line}" in res.report


def test_the_default_speaker_validation_split_is_refused_with_context(
    corpus: dict[str, Path], tmp_path: Path
) -> None:
    from sseft.core.experiment.plan import plan_runs

    # the plugin's default: speaker Ses04F is store split `valid`, Ses04M `train`: session 4's
    # dialogue lies in two store splits, so its turns could never be each other's context
    store = extract_iemocap(corpus["root"], corpus["rob"], tmp_path / "store")
    with pytest.raises(DataError) as e:
        plan_runs(loso_config(tmp_path, store), tmp_path / "out", [0])
    line = str(e.value)
    assert "\n" not in line and "dialogue 'Ses04F_script01_1' is split across store split" in line
    assert "dataset.valid_speakers=[]" in line and not (tmp_path / "out").exists()
