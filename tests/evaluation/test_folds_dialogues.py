"""Folds over conversations: folding by `dialogue` never puts one dialogue in two parts of a fold
(core/training/folds.py grouping by the item meta key core/features/conversation.py defines)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, reject, settings
from hypothesis import strategies as st

from sseft.core.errors import DataError
from sseft.core.features.conversation import Turn, dialogues_in_several_parts, turn_from_meta
from sseft.core.training.folds import FoldsConfig, make_folds

dialogue_items = st.lists(
    st.tuples(st.integers(0, 7), st.sampled_from(["Ann", "Bob", "Cy"])), min_size=4, max_size=60
)


def _items(rows: list[tuple[int, str]]) -> tuple[list[str], list[dict], dict[str, Turn | None]]:
    """MELD-like items: row k is turn k of dialogue `dia`, spoken by `spk`."""
    ids = [f"u{k}" for k in range(len(rows))]
    metas = [Turn(f"train_dia{d}", k, s).meta() for k, (d, s) in enumerate(rows)]
    return ids, metas, {i: turn_from_meta(m, i) for i, m in zip(ids, metas, strict=True)}


@settings(max_examples=80, deadline=None)
@given(
    rows=dialogue_items,
    kind=st.sampled_from(["leave-one-group-out", "k-fold"]),
    k=st.integers(2, 3),
    seed=st.integers(0, 100),
)
def test_folding_by_dialogue_never_splits_a_dialogue(rows, kind, k, seed) -> None:
    ids, metas, turns = _items(rows)
    cfg = FoldsConfig(by="dialogue", kind=kind, k=k if kind == "k-fold" else None, valid={"seed": seed})
    try:
        folds = make_folds(ids, metas, cfg)
    except DataError as e:  # too few dialogues for a test part plus two training groups
        assert "needs at least 2" in str(e) or "distinct 'dialogue' groups" in str(e)
        reject()
    for fold in folds:
        assert dialogues_in_several_parts(fold, turns) == {}
        assert sorted(i for part in fold.values() for i in part) == sorted(ids)


def test_a_validation_grouping_finer_than_dialogues_is_detected() -> None:
    """IEMOCAP-like: by session, validation by speaker. Sessions keep dialogues whole, but a
    speaker held out for validation leaves the other speaker's turns in training, which
    `dialogues_in_several_parts` reports (context must not be built across that cut)."""
    ids, metas = [], []
    for sess in (1, 2, 3):
        for dia in range(2):
            for k, spk in enumerate("FMFM"):
                ids.append(f"s{sess}d{dia}t{k}")
                metas.append({"session": sess, **Turn(f"Ses0{sess}_d{dia}", k, f"Ses0{sess}{spk}").meta()})
    turns = {i: turn_from_meta(m, i) for i, m in zip(ids, metas, strict=True)}
    whole = make_folds(ids, metas, FoldsConfig(by="session"))
    assert all(dialogues_in_several_parts(f, turns) == {} for f in whole)
    by_speaker = make_folds(ids, metas, FoldsConfig(by="session", valid={"by": "speaker"}))
    split = dialogues_in_several_parts(by_speaker[0], turns)
    assert split and all(parts == ["train", "valid"] for parts in split.values())


def test_meld_items_fold_by_dialogue(tmp_path: Path) -> None:
    """The MELD plugin's own meta: `dialogue` is split-qualified, so pooling train and dev keeps
    train's dialogue 0 and dev's dialogue 0 apart (MELD's `dialogue_id` would merge them)."""
    from sseft.plugins.datasets.meld import MELD, MeldConfig

    head = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"
    rows = [
        f'{k},Line {k}.,P{k % 2},joy,positive,{d},{u},1,1,"00:00:01,000","00:00:02,000"\n'
        for k, (d, u) in enumerate([(0, 0), (0, 2), (1, 0), (1, 1), (2, 0), (3, 0)])
    ]
    root = tmp_path / "MELD"
    root.mkdir()
    (root / "train_sent_emo.csv").write_text(head + "".join(rows), encoding="utf-8")
    (root / "dev_sent_emo.csv").write_text(head + rows[0], encoding="utf-8")
    items = list(MELD.items(MeldConfig(root=root, modalities=["text"])))
    ids, metas = [it.id for it in items], [it.meta for it in items]
    turns = {i: turn_from_meta(m, i) for i, m in zip(ids, metas, strict=True)}
    folds = make_folds(ids, metas, FoldsConfig(by="dialogue"))
    assert len(folds) == 5  # train dialogues 0-3 and dev's dialogue 0
    assert all(dialogues_in_several_parts(f, turns) == {} for f in folds)
