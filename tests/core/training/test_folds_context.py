"""With dialogue context, no fold part, split_ids role or store split cuts a dialogue: a context is
built from its part's own items, so a cut dialogue would silently lose turns (refused, one line)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from sseft.core.errors import DataError
from sseft.core.features.conversation import dialogues_in_several_parts, turn_from_meta
from sseft.core.training.folds import FoldsConfig, check_whole_dialogues, make_folds
from tests.core.contexthelpers import context_config, write_dialogue_store


def conversation_items(dialogues: list[tuple[int, int]]) -> tuple[list[str], list[dict[str, Any]]]:
    """(session, turns) per dialogue -> IEMOCAP-like items: two speakers take turns in every dialogue."""
    ids, metas = [], []
    for d, (session, n) in enumerate(dialogues):
        for t in range(n):
            ids.append(f"s{session}-d{d}-t{t}")
            spk = f"S{session}{'FM'[t % 2]}"
            metas.append({"session": session, "speaker": spk, "dialogue": f"d{d}", "turn": t})
    return ids, metas


def cut_dialogues(fold: dict[str, list[str]], metas: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    turns = {i: turn_from_meta(metas[i], i) for p in fold.values() for i in p}
    return dialogues_in_several_parts(fold, turns)


@settings(max_examples=60, deadline=None)
@given(
    dialogues=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 6)), min_size=3, max_size=14),
    by=st.sampled_from(["session", "dialogue", "speaker"]),
    valid_by=st.sampled_from([None, "session", "dialogue", "speaker"]),
    kind=st.sampled_from(["leave-one-group-out", "k-fold"]),
)
def test_folds_with_context_never_split_a_dialogue(dialogues, by, valid_by, kind) -> None:
    ids, metas = conversation_items(dialogues)
    cfg = FoldsConfig(by=by, kind=kind, k=2 if kind == "k-fold" else None, valid={"by": valid_by})
    try:
        folds = make_folds(ids, metas, cfg, whole_dialogues=True)
    except DataError as e:
        if "split across" not in str(e):  # too few groups for the protocol: not a fold to check
            reject()
        # refused only when the plain folds really do cut a dialogue, and the line names it
        plain = make_folds(ids, metas, cfg)
        by_id = dict(zip(ids, metas, strict=True))
        cuts = [c for f in plain if (c := cut_dialogues(f, by_id))]
        named = re.search(r"dialogue '([^']+)' is split across fold (\d+) ", str(e))
        assert cuts and named and named[1] in cuts[0]
        return
    by_id = dict(zip(ids, metas, strict=True))
    for f in folds:
        assert cut_dialogues(f, by_id) == {}


def test_speaker_validation_cuts_iemocap_dialogues_and_is_refused_with_context() -> None:
    ids, metas = conversation_items([(s, 4) for s in (1, 1, 2, 2, 3, 3)])
    cfg = FoldsConfig(by="session", valid={"by": "speaker"})
    make_folds(ids, metas, cfg)  # without context the speaker-held-out validation is fine
    with pytest.raises(DataError) as e:
        make_folds(ids, metas, cfg, where="features/iemocap", whole_dialogues=True)
    line = str(e.value)
    assert "\n" not in line and line.startswith("features/iemocap: dialogue 'd")
    assert "fold 1 train, fold 1 valid" in line and "valid: {by: dialogue}" in line
    # validation by dialogue (or the default: a held-out session) keeps every dialogue whole
    for valid in ({"by": "dialogue"}, {}):
        folds = make_folds(ids, metas, FoldsConfig(by="session", valid=valid), whole_dialogues=True)
        assert len(folds) == 3


def write_cut_store(root: Path) -> Path:
    """Dialogue 'x' has turn 0 in store split train and turn 1 in valid (IEMOCAP's speaker split does
    this); dialogue 'y' lies whole in train, 'z' whole in test."""
    import torch

    from sseft.core.features import FeatureStoreWriter, ModalityInfo
    from sseft.core.protocols import TaskInfo

    rows = [("x0", "train", "x", 0), ("x1", "valid", "x", 1), ("y0", "train", "y", 0), ("y1", "train", "y", 1),
            ("v0", "valid", "v", 0), ("z0", "test", "z", 0)]  # fmt: skip
    infos = {"text": ModalityInfo(dim=4, max_len=8, fingerprint={"source": "synthetic"})}
    with FeatureStoreWriter(root, infos, TaskInfo(type="multiclass", label_names=("a", "b"))) as w:
        for k, (i, split, d, t) in enumerate(rows):
            w.add(i, split, {"text": torch.randn(2, 4)}, k % 2, {"dialogue": d, "turn": t, "speaker": "p"})
    return root


def test_check_whole_dialogues_refuses_cut_roles_and_cut_store_splits(tmp_path: Path) -> None:
    from sseft.core.features import FeatureStore

    ok = FeatureStore.open(write_dialogue_store(tmp_path / "ok"))
    check_whole_dialogues(ok, {r: ok.ids(r) for r in ("train", "valid", "test")}, "the store's splits")
    train = ok.ids("train")
    with pytest.raises(DataError, match=r"^split_ids: dialogue 'train-d0' is split across train, valid;"):
        check_whole_dialogues(ok, {"train": train[2:], "valid": train[:2] + ok.ids("valid")}, "split_ids")

    cut = FeatureStore.open(write_cut_store(tmp_path / "cut"))
    roles = {"train": ["x0", "x1", "y0", "y1"], "valid": ["v0"], "test": ["z0"]}
    with pytest.raises(DataError) as e:
        check_whole_dialogues(cut, roles, "split_ids")
    line = str(e.value)
    assert (
        "\n" not in line and "dialogue 'x' is split across store split 'train', store split 'valid'" in line
    )
    assert "dataset.valid_speakers=[]" in line
    check_whole_dialogues(cut, {"train": ["y0", "y1"], "valid": ["v0"], "test": ["z0"]}, "split_ids")


def test_planned_folds_with_context_are_checked_before_any_run(tmp_path: Path) -> None:
    from sseft.core.experiment.plan import plan_runs

    store = write_dialogue_store(tmp_path / "store", {"train": 4, "valid": 2, "test": 2})
    base = context_config(tmp_path, store)
    by_speaker = base.data.model_copy(update={"folds": FoldsConfig(by="speaker")})
    with pytest.raises(
        DataError,
        match=r"fold 1 test, fold 1 train/valid.*data.folds.by 'speaker' cuts it; fold by a grouping",
    ):
        plan_runs(base.model_copy(update={"data": by_speaker}), tmp_path / "out", [0])
    assert not (tmp_path / "out").exists()
    # without context the same folds are planned (a speaker grouping is a legitimate protocol then)
    assert plan_runs(base.model_copy(update={"data": by_speaker, "context": None}), tmp_path / "o2", [0])
    by_dialogue = base.data.model_copy(update={"folds": FoldsConfig(by="dialogue", kind="k-fold", k=2)})
    specs = plan_runs(base.model_copy(update={"data": by_dialogue}), tmp_path / "out", [0])
    assert len(specs) == 2


def test_planned_folds_refuse_a_dialogue_across_store_splits(tmp_path: Path) -> None:
    from sseft.core.experiment.plan import plan_runs

    store = write_cut_store(tmp_path / "cut")
    base = context_config(tmp_path, store)
    folds = base.data.model_copy(update={"folds": FoldsConfig(by="dialogue", valid={"by": "dialogue"})})
    with pytest.raises(
        DataError, match=r"dialogue 'x' is split across store split 'train', store split 'valid'"
    ):
        plan_runs(base.model_copy(update={"data": folds}), tmp_path / "out", [0])


def test_a_run_whose_roles_cut_a_dialogue_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    from sseft.core.features import FeatureStore
    from sseft.core.training.trainer import train

    cut = context_config(tmp_path, write_cut_store(tmp_path / "cut"))
    with pytest.raises(
        DataError, match=r"cut splits: dialogue 'x' is split across train, valid; .*data.folds by session"
    ):
        train(cut, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    # the same store without context trains: a lone-utterance model does not care
    assert train(cut.model_copy(update={"context": None}), tmp_path / "plain", progress=False, plots=False)

    store = write_dialogue_store(tmp_path / "ok", {"train": 2, "valid": 1, "test": 1})
    fs = FeatureStore.open(store)
    ids = {
        "train": fs.ids("train")[2:],
        "valid": fs.ids("train")[:2] + fs.ids("valid"),
        "test": fs.ids("test"),
    }
    with pytest.raises(DataError, match=r"^split_ids: dialogue 'train-d0' is split across train, valid;"):
        train(context_config(tmp_path, store), tmp_path / "fold", progress=False, split_ids=ids)
    assert not (tmp_path / "fold").exists()
