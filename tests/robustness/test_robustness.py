"""`sseft.robustness` on tiny trained models: clean level 0, the same noise for every model and
batch size, monotone curves, missing subsets exactly as predict --allow-missing, dropout-trained
models degrading less, contribution/attention tables, effective robustness and the comparison."""

from __future__ import annotations

import json

import pytest
import torch

import sseft
from sseft.core.errors import ConfigError
from sseft.core.robustness import features as feat_mod
from sseft.core.robustness.evaluate import drop_others, forward_items, load_split


@pytest.fixture(scope="module")
def result(trained):  # the plain model, with the dropout model as baseline and as comparison
    return sseft.robustness(
        trained["plain"], trained["store"], baseline=trained["drop"], compare=trained["drop"], n_boot=200,
        batch_size=16,
    )  # fmt: skip


def test_level_zero_equals_the_clean_metric_exactly(result) -> None:
    d = result.data
    clean = d["models"]["model"]["clean"][d["metric"]]
    assert d["metric"] == "weighted_f1" and clean > 0.9  # the model learnt the task
    assert d["std_split"] == "train" and not d["notes"]
    for role, per_kind in d["feature_noise"].items():
        c = d["models"][role]["clean"][d["metric"]]
        for kind, per in per_kind.items():
            for target, curve in per.items():
                assert len(curve) == 10 and curve[0] == c, (role, kind, target)
        assert d["missing"][role][0]["absent"] == [] and d["missing"][role][0]["metric"] == c


def test_every_model_sees_the_same_noise(trained, monkeypatch) -> None:
    seen: dict[int, list[list[dict[str, torch.Tensor]]]] = {}
    real = feat_mod.forward_items

    def spy(model, items, batch_size=64, **kw):
        seen.setdefault(id(model), []).append([dict(f) for f in items])
        return real(model, items, batch_size, **kw)

    monkeypatch.setattr(feat_mod, "forward_items", spy)
    sseft.robustness(
        trained["plain"],
        trained["store"],
        compare=trained["drop"],
        kinds=["gaussian", "frame_drop"],
        n_boot=0,
    )
    a, b = seen[id(trained["plain"])], seen[id(trained["drop"])]
    n_missing = 3  # the subsets {text, speech}, {text}, {speech}
    assert len(a) == len(b) > n_missing
    for items_a, items_b in zip(a[n_missing:], b[n_missing:], strict=True):
        for fa, fb in zip(items_a, items_b, strict=True):
            assert fa.keys() == fb.keys() and all(torch.equal(fa[m], fb[m]) for m in fa)


def test_batch_size_changes_nothing(trained, result) -> None:
    other = sseft.robustness(
        trained["plain"], trained["store"], batch_size=5, kinds=["gaussian", "temporal_mask"]
    )
    for kind in ("gaussian", "temporal_mask"):
        for t, c in other.data["feature_noise"]["model"][kind].items():
            assert c == pytest.approx(result.data["feature_noise"]["model"][kind][t], abs=1e-9)


def test_curves_fall_monotonically_within_noise_to_near_chance(result) -> None:
    d = result.data
    for kind in ("frame_drop", "temporal_mask"):
        for target in ("text", "all"):
            c = d["feature_noise"]["model"][kind][target]
            assert all(c[i + 1] <= c[i] + 0.06 for i in range(9)), (kind, target, c)
            assert c[-1] < c[0] - 0.2, (kind, target, c)
    assert abs(d["chance"] - 0.5) < 0.1  # two balanced classes


def test_missing_subsets_are_exactly_predict_allow_missing(trained, result) -> None:
    model, store = trained["plain"], trained["store"]
    from sseft.core.features import FeatureStore

    data = load_split(FeatureStore.open(store), "test", ["text", "speech"])
    predictor = model.predictor(allow_missing=True)
    for present in (["text"], ["speech"]):
        items = drop_others(data.features, present)
        out, _ = forward_items(model, items, 16)
        preds = predictor.predict_features(
            [{"id": i, "features": f} for i, f in zip(data.ids, items, strict=True)]
        )
        assert all(p.missing == [m for m in ("text", "speech") if m not in present] for p in preds)
        probs = torch.tensor([[p.probabilities[n] for n in model.label_names] for p in preds])
        assert torch.allclose(probs, torch.softmax(out, -1), atol=1e-6)
        row = next(r for r in result.data["missing"]["model"] if r["present"] == present)
        labels = torch.as_tensor(data.labels)
        assert row["metric"] == model.head.metrics(out, labels)["weighted_f1"]


def test_dropout_trained_model_degrades_less_without_a_modality(result) -> None:
    d = result.data
    assert d["models"]["baseline"]["dropout_trained"] and not d["models"]["model"]["dropout_trained"]
    plain = {tuple(r["present"]): r["metric"] for r in d["missing"]["model"]}
    drop = {tuple(r["present"]): r["metric"] for r in d["missing"]["baseline"]}
    assert drop[("speech",)] > plain[("speech",)] + 0.1


def test_contribution_and_attention_tables(result) -> None:
    d = result.data
    full = d["models"]["model"]["clean"]["weighted_f1"]
    rows = {tuple(r["absent"]): r["metric"] for r in d["missing"]["model"]}
    assert d["contribution"]["drop"] == {"speech": full - rows[("speech",)], "text": full - rows[("text",)]}
    att = d["contribution"]["attention"]
    assert set(att) == {"text->speech", "speech->text"}
    for per in att.values():
        assert set(per) <= {"neg", "pos", "all"} and per["all"]["n"] == d["n_items"]
        assert all(0.0 <= v["mass"] <= 1.0 for v in per.values())


def test_effective_robustness_is_the_formula_on_the_curves(result) -> None:
    from sseft.core.robustness.summary import effective_robustness, relative_robustness

    d = result.data
    m, b = d["feature_noise"]["model"]["gaussian"]["text"], d["feature_noise"]["baseline"]["gaussian"]["text"]
    assert d["effective_robustness"]["gaussian"]["text"] == pytest.approx(effective_robustness(m, b))
    assert d["relative_robustness"]["model"]["gaussian"]["text"] == pytest.approx(relative_robustness(m))
    per = d["relative_robustness"]["model"]["gaussian"]
    assert per["overall"] == pytest.approx((per["text"] + per["speech"]) / 2)
    comp = d["compare"]["gaussian"]["text"]
    assert comp["observed"] == pytest.approx(relative_robustness(m) - relative_robustness(b))


def test_against_itself_everything_is_zero(trained) -> None:
    r = sseft.robustness(trained["plain"], trained["store"], baseline=trained["plain"], compare=trained["plain"],
                         kinds=["frame_drop"], n_boot=50)  # fmt: skip
    assert r.data["effective_robustness"]["overall"] == 0.0
    assert all(c["observed"] == 0.0 and c["p_le_0"] == 1.0 for c in r.data["compare"]["frame_drop"].values())


def test_files_and_the_cli(trained, tmp_path) -> None:
    from click.testing import CliRunner

    from sseft.cli.main import cli

    out = tmp_path / "rob"
    r = CliRunner().invoke(cli, ["robustness", str(trained["plain_dir"]), "--store", str(trained["store"]), "--out",
                                 str(out), "--kinds", "gaussian", "--baseline", str(trained["drop_dir"])])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "relative robustness gaussian" in r.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["missing.png", "noise_gaussian.png", "robustness.json", "robustness.md"]
    data = json.loads((out / "robustness.json").read_text())
    assert data["split"] == "test" and data["kinds"] == ["gaussian"]
    md = (out / "robustness.md").read_text()
    assert "## Missing modalities" in md and "effective robustness" in md and "raw values" in md
    bad = CliRunner().invoke(cli, ["robustness", str(trained["plain_dir"]), "--store", str(trained["store"]), "--out",
                                   str(out), "--metric", "nope"])  # fmt: skip
    assert (
        bad.exit_code == 2
        and "error: " in bad.output
        and "'nope'" in bad.output
        and "weighted_f1" in bad.output
    )
    usage = CliRunner().invoke(cli, ["robustness", str(trained["plain_dir"]), "--store", str(trained["store"]),
                                     "--out", str(out), "--limit", "3"])  # fmt: skip
    assert usage.exit_code == 2 and "limit given without raw" in usage.output


def test_bad_options_are_one_clear_error(trained) -> None:
    with pytest.raises(ConfigError, match="noise kind 'blurr'"):
        sseft.robustness(trained["plain"], trained["store"], kinds=["blurr"])
    with pytest.raises(Exception, match="split 'nope'"):
        sseft.robustness(trained["plain"], trained["store"], split="nope")


def test_a_run_directory_loads_its_exported_model(trained, tmp_path) -> None:
    import shutil

    shutil.copytree(trained["plain_dir"], tmp_path / "run" / "model")
    r = sseft.robustness(str(tmp_path / "run"), trained["store"], kinds=["frame_drop"], n_levels=2)
    assert r.data["models"]["model"]["ref"] == str(tmp_path / "run" / "model")
