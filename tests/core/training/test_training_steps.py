"""The training step's branches: NaN loss, gradient accumulation, bucketed batch order, parameter
groups, and evaluating on a store whose labels are not the model's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from trainhelpers import tiny_experiment, write_store

from sseft.core.errors import FeatureStoreError, RunError
from sseft.core.training.trainer import train

NO_DROPOUT = {"n_self": 1, "n_ima": 1, "heads": 2, "ffn_dim": 16, "dropout": 0.0, "attn_dropout": 0.0}
HEAD = {"name": "multiclass", "config": {"dropout": 0.0}}


def test_nan_loss_stops_with_one_line(
    tiny_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sseft.plugins.heads.multiclass import MulticlassHead

    real = MulticlassHead.loss
    monkeypatch.setattr(MulticlassHead, "loss", lambda self, out, y: real(self, out, y) * float("nan"))
    cfg = tiny_experiment(tmp_path, tiny_store)
    with pytest.raises(
        RunError, match=r"^epoch 1 batch 1: the loss became nan; lower train.lr or check the data$"
    ):
        train(cfg, tmp_path / "run", progress=False, plots=False)


def test_gradient_accumulation_counts_optimizer_steps(tiny_store: Path, tmp_path: Path) -> None:
    # 24 items, batch 4: 6 batches per epoch; 4 batches per step: steps after batches 4 and 6 (the
    # loader's end closes the last, shorter accumulation).
    cfg = tiny_experiment(tmp_path, tiny_store, train={"epochs": 2, "batch_size": 4, "grad_accum": 4})
    res = train(cfg, tmp_path / "run", progress=False, plots=False)
    assert [r["global_step"] for r in res.history] == [2, 4]
    assert res.batches_run == 12 and res.steps_run == 4


def test_accumulating_two_batches_equals_one_twice_as_large(tiny_store: Path, tmp_path: Path) -> None:
    """Same items in the same order (the permutation depends on seed and epoch only), same schedule:
    2 x 4 accumulated gives the weights of 1 x 8, up to float rounding."""
    base = {"epochs": 1, "lr": 1e-2, "clip_grad_norm": None, "warmup_ratio": 0.0}
    small = tiny_experiment(
        tmp_path, tiny_store, fusion=NO_DROPOUT, head=HEAD, train={**base, "batch_size": 4, "grad_accum": 2}
    )
    big = tiny_experiment(tmp_path, tiny_store, fusion=NO_DROPOUT, head=HEAD, train={**base, "batch_size": 8})
    a = train(small, tmp_path / "a", progress=False, plots=False).model.state_dict()
    b = train(big, tmp_path / "b", progress=False, plots=False).model.state_dict()
    init = tiny_experiment(
        tmp_path, tiny_store, fusion=NO_DROPOUT, head=HEAD, train={**base, "batch_size": 8, "lr": 1e-12}
    )
    c = train(init, tmp_path / "c", progress=False, plots=False).model.state_dict()
    moved = max(float((b[k] - c[k]).abs().max()) for k in b)
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert moved > 1e-3  # the steps did change the weights ...
    assert diff < 1e-5, diff  # ... identically


@pytest.mark.parametrize("bucket", [False, True])
def test_batch_order_depends_only_on_seed_and_epoch(tiny_store: Path, bucket: bool) -> None:
    from sseft.core.features import FeatureStore
    from sseft.core.training.data import make_loader

    store = FeatureStore.open(tiny_store)

    def order(seed: int, epoch: int) -> list[list[str]]:
        loader = make_loader(store, "train", ["a", "b"], 5, seed=seed, shuffle=True, bucket=bucket)
        loader.batch_sampler.set_epoch(epoch)
        return [batch.ids for batch in loader]

    first = order(7, 3)
    assert order(7, 3) == first  # a fresh loader (a resumed run) replays it
    assert sorted(i for b in first for i in b) == sorted(store.ids("train"))
    assert order(7, 4) != first and order(8, 3) != first
    if bucket:  # items of similar length share a batch: padding stays below that of a random order
        total = [x + y for x, y in zip(store.lengths("train", "a"), store.lengths("train", "b"), strict=True)]
        lengths = dict(zip(store.ids("train"), total, strict=True))  # what the sampler buckets by
        spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first)
        plain = make_loader(store, "train", ["a", "b"], 5, seed=7, shuffle=True)
        plain.batch_sampler.set_epoch(3)
        random_spread = sum(max(lengths[i] for i in b.ids) - min(lengths[i] for i in b.ids) for b in plain)
        assert spread < random_spread


def test_param_groups_exclude_norms_cls_positions_and_biases(tiny_store: Path, tmp_path: Path) -> None:
    from sseft.core.features import FeatureStore
    from sseft.core.model import build_model
    from sseft.core.training.optim import make_optimizer
    from sseft.core.training.trainer import model_config

    cfg = tiny_experiment(tmp_path, tiny_store)
    model = build_model(model_config(cfg, FeatureStore.open(tiny_store)))
    optimizer, _ = make_optimizer(model, cfg.train, 3)
    decay_of = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    names = dict(model.named_parameters())
    assert set(decay_of) == {id(p) for p in names.values()}  # every parameter is optimized once
    norms = {
        f"{m}.{n}"
        for m, mod in model.named_modules()
        if isinstance(mod, torch.nn.LayerNorm)
        for n, _ in mod.named_parameters()
    }
    exempt = [n for n in names if n in norms or n.endswith(("bias", ".cls", ".positions")) or "_ln_" in n]
    assert any(n.endswith(".positions") for n in exempt) and any(n.endswith(".cls") for n in exempt)
    assert all(decay_of[id(names[n])] == 0.0 for n in exempt), [n for n in exempt if decay_of[id(names[n])]]
    linear = [f"{m}.weight" for m, mod in model.named_modules() if isinstance(mod, torch.nn.Linear)]
    assert linear and all(decay_of[id(names[n])] == cfg.train.weight_decay for n in linear)


def test_evaluate_refuses_a_store_with_other_labels(tiny_store: Path, tmp_path: Path) -> None:
    import sseft
    from sseft.cli.main import cli
    from sseft.core.features import FeatureStore
    from sseft.core.model import build_model
    from sseft.core.training.run_eval import evaluate_model
    from sseft.core.training.trainer import model_config

    cfg = tiny_experiment(tmp_path, tiny_store)
    art = sseft.save(build_model(model_config(cfg, FeatureStore.open(tiny_store))), tmp_path / "model")
    # Same features (dims, fingerprints), three classes again, but other ones: indices 0-2 would pass
    # every range check and be scored against the wrong names.
    other = write_store(tmp_path / "other", names=("anger", "joy", "sadness"))
    with pytest.raises(
        FeatureStoreError, match=r"labels are multiclass \['anger', 'joy', 'sadness'\] but model"
    ):
        evaluate_model(sseft.load(art), other, name=f"model {str(art)!r}")
    res = CliRunner().invoke(cli, ["evaluate", str(art), "--data", str(other)])
    assert res.exit_code == 2 and res.output.count("\n") == 1 and "['x', 'y', 'z']" in res.output, res.output
    assert evaluate_model(sseft.load(art), tiny_store)["n_items"] == 10  # the matching store still works


def test_artifact_config_says_which_modalities_may_be_missing(tiny_store: Path, tmp_path: Path) -> None:
    import json as _json

    import sseft
    from sseft.core.inference import Predictor

    plain = train(tiny_experiment(tmp_path, tiny_store, train={"epochs": 1}), tmp_path / "a", progress=False)
    dropped = train(
        tiny_experiment(tmp_path, tiny_store, train={"epochs": 1, "modality_dropout": 0.3}),
        tmp_path / "b",
        progress=False,
    )
    assert plain.model.config.missing_ok == [] and dropped.model.config.missing_ok == ["a", "b"]
    art = sseft.save(dropped.model, tmp_path / "model")
    model = _json.loads((art / "config.json").read_text())["model"]
    assert model["missing_ok"] == ["a", "b"] and set(model["input_kinds"]) == {"a", "b"}
    # Prediction reads it from the config (the training record is not consulted).
    loaded = sseft.load(art)
    loaded.artifact_info.training.clear()
    assert (
        Predictor(loaded).allow_missing
        and not Predictor(sseft.load(sseft.save(plain.model, tmp_path / "m2"))).allow_missing
    )
