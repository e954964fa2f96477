"""Grouped folds: no group in two parts of one fold, validation from training groups only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from sseft.core.errors import DataError
from sseft.core.training.folds import FoldsConfig, make_folds, pooled_items, selected


def _items(sessions: list[int], speakers: list[int]) -> tuple[list[str], list[dict]]:
    ids = [f"u{i}" for i in range(len(sessions))]
    metas = [{"session": s, "speaker": f"spk{p}"} for s, p in zip(sessions, speakers, strict=True)]
    return ids, metas


def _groups(ids: list[str], metas: dict[str, dict], key: str) -> set:
    return {metas[i][key] for i in ids}


cases = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["leave-one-group-out", "k-fold"]),
        "k": st.integers(2, 4),
        "valid_by": st.sampled_from([None, "speaker"]),
        "amount": st.sampled_from([{"groups": 1}, {"groups": 2}, {"share": 0.3}]),
        "seed": st.integers(0, 5),
        "prefer": st.sampled_from([[], [2], [3, 1]]),  # speakers spk<n>, or sessions <n>
    }
)


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(1, 6), st.integers(0, 7)), min_size=12, max_size=60),
    case=cases,
)
def test_no_group_in_two_parts_of_a_fold(data: list[tuple[int, int]], case: dict) -> None:
    sessions = [s for s, _ in data]
    # speakers not nested in sessions on purpose: a speaker may occur in several sessions
    ids, metas = _items(sessions, [p for _, p in data])
    prefer = [f"spk{p}" for p in case["prefer"]] if case["valid_by"] else case["prefer"]
    valid = {"by": case["valid_by"], **case["amount"], "seed": case["seed"], "prefer": prefer}
    cfg = FoldsConfig(by="session", kind=case["kind"], k=case["k"], valid=valid)
    by_id = dict(zip(ids, metas, strict=True))
    try:
        folds = make_folds(ids, metas, cfg)
    except DataError as e:  # too few groups for this protocol: refused with a message, never a bad fold
        assert re.search(r"needs at least 2|folds but only|at least 2", str(e)), str(e)
        reject()  # a refused draw is not a fold to check: hypothesis counts it and draws another
    tested = []
    for f in folds:
        parts = {p: set(f[p]) for p in ("train", "valid", "test")}
        assert parts["train"] and parts["valid"] and parts["test"]
        assert sum(map(len, parts.values())) == len(ids) and set().union(*parts.values()) == set(ids)
        s = {p: _groups(f[p], by_id, "session") for p in parts}
        assert not s["test"] & (s["train"] | s["valid"])  # the test sessions are nowhere else
        vby = case["valid_by"] or "session"
        v = {p: _groups(f[p], by_id, vby) for p in parts}
        assert not v["valid"] & v["train"] and not v["valid"] & v["test"]
        tested += sorted(s["test"])
    assert sorted(tested) == sorted(set(sessions))  # every session is tested exactly once


def test_leave_one_session_out_orders_folds_by_session() -> None:
    ids, metas = _items([1, 2, 3, 4, 5] * 4, [0, 1] * 10)
    folds = make_folds(ids, metas, FoldsConfig(by="session"))
    by_id = dict(zip(ids, metas, strict=True))
    assert [_groups(f["test"], by_id, "session") for f in folds] == [{1}, {2}, {3}, {4}, {5}]
    # fold 5 tests session 5, as the paper's split does; `only` runs just that one
    assert [n for n, _ in selected(folds, FoldsConfig(by="session", only=[5]))] == [5]


def test_grouped_kfold_balances_items() -> None:
    # largest group first into the emptiest fold: 10 -> A, 9 -> B, 6 -> B, 5 -> A: 15 / 15
    ids, metas = _items([1] * 10 + [2] * 9 + [3] * 6 + [4] * 5, [0] * 30)
    folds = make_folds(ids, metas, FoldsConfig(by="session", kind="k-fold", k=2))
    assert [len(f["test"]) for f in folds] == [15, 15]
    assert folds == make_folds(ids, metas, FoldsConfig(by="session", kind="k-fold", k=2))  # deterministic


def test_missing_group_key_names_the_item() -> None:
    ids, metas = _items([1, 2, 3], [0, 1, 2])
    metas[1] = {"speaker": "x"}
    with pytest.raises(DataError, match=r"item 'u1' has no meta 'session'.*speaker"):
        make_folds(ids, metas, FoldsConfig(by="session"))


def test_too_many_folds_is_refused() -> None:
    ids, metas = _items([1, 2, 3], [0, 1, 2])
    with pytest.raises(DataError, match="k=4 folds but only 3"):
        make_folds(ids, metas, FoldsConfig(by="session", kind="k-fold", k=4))


def test_folds_read_the_store_meta(grouped_store: Path) -> None:
    from sseft.core.features import FeatureStore

    store = FeatureStore.open(grouped_store)
    cfg = FoldsConfig(by="session", valid={"by": "speaker"})
    ids, metas = pooled_items(store, cfg)
    assert len(ids) == sum(len(store.ids(s)) for s in store.splits)
    folds = make_folds(ids, metas, cfg)
    assert len(folds) == 4
    meta = dict(zip(ids, metas, strict=True))
    for f in folds:
        assert len({meta[i]["speaker"] for i in f["valid"]}) == 1  # one held-out training speaker


def test_iemocap_leave_one_session_out_fold_5_is_the_paper_split() -> None:
    import re

    import yaml

    from sseft.core.config import apply_overrides, read_mapping, validate
    from sseft.core.training.config import ExperimentConfig

    repo = Path(__file__).resolve().parents[2]
    text = (repo / "configs" / "iemocap.yaml").read_text()
    line = re.search(r"^  # (folds: .*)$", text, re.M)
    assert line, "configs/iemocap.yaml documents the leave-one-session-out option"
    data = read_mapping(repo / "configs" / "iemocap.yaml")
    data["data"].update(yaml.safe_load(line.group(1)))
    cfg = validate(ExperimentConfig, data, source="iemocap.yaml")
    same = validate(ExperimentConfig, apply_overrides(read_mapping(repo / "configs" / "iemocap.yaml"),
                    ["data.folds={by: session, valid: {by: speaker, prefer: [Ses04F]}}"]), source="--set")  # fmt: skip
    assert cfg.data.folds == same.data.folds
    # IEMOCAP-like items: 5 sessions x speakers Ses0kF / Ses0kM
    ids, metas = [], []
    for sess in range(1, 6):
        for g in "FM":
            for u in range(3):
                ids.append(f"Ses0{sess}{g}_{u}")
                metas.append({"session": sess, "speaker": f"Ses0{sess}{g}"})
    folds = make_folds(ids, metas, cfg.data.folds)
    spk = dict(zip(ids, (m["speaker"] for m in metas), strict=True))
    f5 = folds[4]
    assert {spk[i] for i in f5["test"]} == {"Ses05F", "Ses05M"}
    assert {spk[i] for i in f5["valid"]} == {"Ses04F"}
    assert {spk[i] for i in f5["train"]} == {f"Ses0{s}{g}" for s in (1, 2, 3) for g in "FM"} | {"Ses04M"}
    f4 = folds[3]  # session 4 is tested: the validation speaker comes from the other sessions
    assert {spk[i] for i in f4["test"]} == {"Ses04F", "Ses04M"} and len({spk[i] for i in f4["valid"]}) == 1
    assert not {spk[i] for i in f4["valid"]} & {"Ses04F", "Ses04M"}
