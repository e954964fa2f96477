"""Dialogue context in the model: no leaks (model level), padding and batch invariance, the
artifact round trip, and the one-line refusals."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.contexthelpers import context_config, write_dialogue_store

os.environ.setdefault("OMP_NUM_THREADS", "1")


def context_model(store: Path, seed: int = 0, **context: Any) -> Any:
    """A random-init model with context over the store's `text` modality (no training needed:
    the properties below hold for any weights)."""
    from sseft.core.context import ContextConfig
    from sseft.core.features import FeatureStore
    from sseft.core.model import HeadSpec, ModelConfig, build_model

    fs = FeatureStore.open(store)
    spec = fs.modalities["text"].spec("text")
    cfg = ModelConfig(
        modalities=[spec],
        fusion={"n_self": 1, "n_ima": 1, "heads": 2, "ffn_dim": 16, "dropout": 0.0, "attn_dropout": 0.0},
        head=HeadSpec(name="multiclass"),
        task="multiclass",
        label_names=["a", "b", "c"],
        context=ContextConfig(**{"window": 3, "dim": 16, "heads": 2, "dropout": 0.0, **context}),
    )
    torch.manual_seed(seed)
    return build_model(cfg).eval()


def outputs(model: Any, store: Path, split: str = "test", batch_size: int = 3) -> dict[str, torch.Tensor]:
    """item id -> the model's output, through the training/evaluation loader (the real data path)."""
    from sseft.core.features import FeatureStore
    from sseft.core.training.data import make_loader

    fs = FeatureStore.open(store)
    loader = make_loader(fs, split, ["text"], batch_size, context=model.config.context)
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for batch in loader:
            for i, o in zip(
                batch.ids, model(batch.features, batch.lengths, context=batch.context), strict=True
            ):
                out[i] = o
    return out


def turn_of(item: str) -> tuple[str, int]:
    split, d, t = item.split("-")
    return f"{split}-{d}", int(t[1:])


TURNS = ["pooled", "fused"]  # what describes a context turn: every leak property holds for both


@pytest.mark.parametrize("turns", TURNS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(1, 4), window=st.integers(1, 4), seed=st.integers(0, 10_000), reorder=st.booleans())
def test_past_context_later_turns_change_nothing(
    tmp_path: Path, turns: str, cut: int, window: int, seed: int, reorder: bool
) -> None:
    """Changing every turn from `cut` on in one dialogue (and writing the store in another order)
    leaves every earlier turn's prediction, and every other dialogue's, unchanged."""
    work = Path(tempfile.mkdtemp(dir=tmp_path))  # hypothesis may repeat an example: fresh folders
    base = write_dialogue_store(work / "a", seed=3)
    later = {
        f"test-d0-t{t}": torch.randn(4, 6, generator=torch.Generator().manual_seed(seed + t)) * 5
        for t in range(cut, 5)
    }
    ids = [
        f"{sp}-d{d}-t{t}"
        for sp, k in (("train", 6), ("valid", 2), ("test", 2))
        for d in range(k)
        for t in range(5)
    ]
    order = list(reversed(ids)) if reorder else None
    changed = write_dialogue_store(work / "b", seed=3, changed=later, order=order)
    model = context_model(base, seed=seed, window=window, direction="past", turns=turns)
    a, b = outputs(model, base), outputs(model, changed)
    assert a.keys() == b.keys()
    for item in a:
        dialogue, t = turn_of(item)
        if dialogue != "test-d0" or t < cut:
            torch.testing.assert_close(a[item], b[item], atol=1e-5, rtol=1e-5, msg=f"{item} changed")
    assert not torch.allclose(a[f"test-d0-t{cut}"], b[f"test-d0-t{cut}"])  # the change itself is seen


@pytest.mark.parametrize("turns", TURNS)
def test_both_directions_see_later_turns(tmp_path: Path, turns: str) -> None:
    """The control for the property above: with `direction: both` a later change reaches an
    earlier turn (so the past-only test can fail)."""
    base = write_dialogue_store(tmp_path / "a", seed=3)
    later = {"test-d0-t3": torch.randn(4, 6) * 5}
    changed = write_dialogue_store(tmp_path / "b", seed=3, changed=later)
    model = context_model(base, direction="both", turns=turns)
    a, b = outputs(model, base), outputs(model, changed)
    assert not torch.allclose(a["test-d0-t2"], b["test-d0-t2"])
    torch.testing.assert_close(a["test-d1-t2"], b["test-d1-t2"])  # another dialogue: untouched


@pytest.mark.parametrize("turns", TURNS)
def test_context_is_used_and_first_turn_needs_none(tmp_path: Path, turns: str) -> None:
    """An earlier turn's features change a later turn's prediction (the context is really read);
    a dialogue's first turn has no context and still a finite output."""
    base = write_dialogue_store(tmp_path / "a", seed=3)
    changed = write_dialogue_store(tmp_path / "b", seed=3, changed={"test-d0-t0": torch.randn(4, 6) * 5})
    model = context_model(base, turns=turns)
    a, b = outputs(model, base), outputs(model, changed)
    assert not torch.allclose(a["test-d0-t1"], b["test-d0-t1"])
    assert torch.isfinite(a["test-d0-t0"]).all()


@settings(max_examples=10, deadline=None)
@given(extra=st.integers(0, 4), batch=st.integers(1, 4), seed=st.integers(0, 1000))
def test_absent_slots_and_batch_mates_change_nothing(
    tmp_path_factory: Any, extra: int, batch: int, seed: int
) -> None:
    """More context slots that hold no turn (filled with NaN) and other items in the batch leave an
    item's output unchanged."""
    from sseft.core.context import ContextInputs

    store = tmp_path_factory.mktemp("ctx")
    write_dialogue_store(store, seed=1)
    model = context_model(store, window=3)
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(batch, 5, 6, generator=g)
    lengths = torch.randint(1, 6, (batch,), generator=g)
    present = torch.rand(batch, 3, generator=g) > 0.3
    ctx = ContextInputs(
        {"text": torch.randn(batch, 3, 6, generator=g) * present[..., None]},
        present,
        torch.arange(1, 4).expand(batch, 3) * present,
        torch.randint(1, 3, (batch, 3), generator=g) * present,
    )
    wide = ContextInputs(
        {"text": torch.cat([ctx.features["text"], torch.full((batch, extra, 6), float("nan"))], dim=1)},
        torch.cat([present, torch.zeros(batch, extra, dtype=torch.bool)], dim=1),
        torch.cat([ctx.distance, torch.zeros(batch, extra, dtype=torch.long)], dim=1),
        torch.cat([ctx.speaker, torch.zeros(batch, extra, dtype=torch.long)], dim=1),
    )
    with torch.no_grad():
        together = model({"text": feats}, {"text": lengths}, context=ctx)
        padded = model({"text": feats}, {"text": lengths}, context=wide)
        alone = model({"text": feats[:1]}, {"text": lengths[:1]}, context=ContextInputs(
            {"text": ctx.features["text"][:1]}, present[:1], ctx.distance[:1], ctx.speaker[:1]))  # fmt: skip
    assert torch.isfinite(padded).all()
    torch.testing.assert_close(padded, together, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(alone[0], together[0], atol=1e-5, rtol=1e-5)


def test_speaker_marking_matters_only_when_on(tmp_path: Path) -> None:
    """Swapping who spoke changes a speaker-marked model's output and not an unmarked one's."""
    from sseft.core.context import ContextInputs

    store = write_dialogue_store(tmp_path / "s", seed=1)
    feats, lengths = {"text": torch.randn(1, 4, 6)}, {"text": torch.tensor([4])}

    def run(model: Any, speaker: int) -> torch.Tensor:
        ctx = ContextInputs({"text": torch.randn(1, 3, 6, generator=torch.Generator().manual_seed(0))},
                            torch.ones(1, 3, dtype=torch.bool), torch.tensor([[3, 2, 1]]),
                            torch.full((1, 3), speaker))  # fmt: skip
        with torch.no_grad():
            return model(feats, lengths, context=ctx)

    marked, unmarked = context_model(store, speaker=True), context_model(store, speaker=False)
    assert not torch.allclose(run(marked, 1), run(marked, 2))
    # unmarked: the table never writes speaker codes; the model has no speaker embedding at all
    assert unmarked.context.speaker is None


def test_store_without_dialogues_refuses_context_in_one_line(tmp_path: Path) -> None:
    from sseft.core.errors import DataError
    from sseft.core.features import FeatureStore
    from sseft.core.training.data import make_loader

    store = write_dialogue_store(tmp_path / "plain", meta=False)
    model = context_model(store)
    with pytest.raises(DataError) as e:
        make_loader(FeatureStore.open(store), "test", ["text"], 4, context=model.config.context)
    msg = str(e.value)
    assert "\n" not in msg and "conversation info" in msg and "remove `context`" in msg


@pytest.mark.parametrize("turns", TURNS)
def test_trained_context_model_round_trips_through_an_artifact(tmp_path: Path, turns: str) -> None:
    """Train with context; the artifact records the context and the reloaded model gives identical
    outputs on batches with context."""
    from registry.artifact import load_artifact, save_artifact
    from sseft.core.training import train

    store = write_dialogue_store(tmp_path / "store")
    cfg = context_config(tmp_path, store, window=2, speaker=False, turns=turns)
    res = train(cfg, tmp_path / "run", progress=False)
    model = res.model.eval()
    assert model.config.context is not None and model.config.context.window == 2
    assert "2 preceding turns" in model.summary()
    path = save_artifact(model, tmp_path / "art")
    again = load_artifact(path).eval()
    assert again.config.context == model.config.context
    torch.testing.assert_close(outputs(again, store), outputs(model, store), atol=0, rtol=0)


def test_a_loaders_contexts_come_from_its_own_items_only(tmp_path: Path) -> None:
    """A loader over some turns of a dialogue (a fold part, a role) builds contexts from those turns
    only: the turns left to another part are never read, even when they come before."""
    from sseft.core.context import ContextConfig
    from sseft.core.features import FeatureStore
    from sseft.core.training.data import ItemsDataset

    fs = FeatureStore.open(write_dialogue_store(tmp_path / "s"))
    mine = ["train-d0-t1", "train-d0-t3", "train-d0-t4", "train-d1-t2"]
    ds = ItemsDataset(fs, mine, ["text"], None, ContextConfig(window=4))
    assert ds.context is not None
    rows = ds.context.rows
    assert rows.shape == (4, 4)
    # train-d0-t3 sees t1 only (t0 and t2 belong to another part), t4 sees t1 and t3, t1 and d1-t2 see none
    seen = [[mine[int(r)] for r in row if r >= 0] for row in rows]
    assert seen == [[], ["train-d0-t1"], ["train-d0-t1", "train-d0-t3"], []]
    assert ds.context.distance[2, :2].tolist() == [2, 1]  # counted over the part's own turns
