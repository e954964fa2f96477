"""Conversation structure in the feature store, and the leak-proof context index
(core/features/conversation.py): property tests of every no-leak guarantee."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sseft.core.errors import DataError
from sseft.core.features.conversation import (
    ContextTurn,
    Turn,
    context_index,
    require_conversations,
    store_turns,
    turn_from_meta,
)

SPLITS = ("train", "valid")
DIALOGUES = ("d1", "d2", "d3")
SPEAKERS = ("Ann", "Bob", None)

# (split, dialogue, turn, speaker) rows, unique per (split, dialogue, turn); some items lone (None).
rows_st = st.lists(
    st.tuples(
        st.sampled_from(SPLITS),
        st.sampled_from(DIALOGUES),
        st.integers(-3, 40),
        st.sampled_from(SPEAKERS),
    ),
    unique_by=lambda r: (r[0], r[1], r[2]),
    max_size=40,
)


def build(rows: list[tuple[str, str, int, str | None]], n_lone: int = 2) -> tuple[dict, dict]:
    """(item id -> Turn | None, item id -> split) for `rows` plus `n_lone` items with no dialogue."""
    turns: dict[str, Turn | None] = {}
    splits: dict[str, str] = {}
    for k, (split, dia, turn, spk) in enumerate(rows):
        turns[f"i{k}"] = Turn(dia, turn, spk)
        splits[f"i{k}"] = split
    for k in range(n_lone):
        turns[f"lone{k}"] = None
        splits[f"lone{k}"] = SPLITS[k % 2]
    return turns, splits


def key(turns: dict, splits: dict, item_id: str) -> tuple[str, str]:
    return splits[item_id], turns[item_id].dialogue


@settings(max_examples=150, deadline=None)
@given(rows=rows_st, window=st.integers(0, 6), direction=st.sampled_from(["past", "both"]))
def test_context_is_the_nearest_turns_of_the_same_dialogue_and_split(rows, window, direction) -> None:
    turns, splits = build(rows)
    ctx = context_index(turns, window, direction, splits)
    assert set(ctx) == set(turns)
    for item_id, context in ctx.items():
        me = turns[item_id]
        if me is None:
            assert context == ()
            continue
        ids = [c.id for c in context]
        assert item_id not in ids  # never the item itself
        for c in context:
            other = turns[c.id]
            assert key(turns, splits, c.id) == key(turns, splits, item_id)  # same dialogue, same split
            if direction == "past":
                assert other.turn < me.turn  # never a later turn
            assert (c.distance > 0) == (other.turn < me.turn)
            want = None if me.speaker is None or other.speaker is None else me.speaker == other.speaker
            assert c.same_speaker is want
        # exactly the `window` nearest earlier (and, with both, later) turns, oldest first
        mine = sorted(
            (t.turn, i)
            for i, t in turns.items()
            if t is not None and key(turns, splits, i) == key(turns, splits, item_id)
        )
        pos = mine.index((me.turn, item_id))
        want_ids = [i for _, i in mine[max(0, pos - window) : pos]]
        if direction == "both":
            want_ids += [i for _, i in mine[pos + 1 : pos + 1 + window]]
        assert ids == want_ids
        assert [c.distance for c in context] == [pos - mine.index((turns[i].turn, i)) for i in ids]


@settings(max_examples=100, deadline=None)
@given(
    rows=rows_st,
    window=st.integers(0, 6),
    direction=st.sampled_from(["past", "both"]),
    seed=st.integers(0, 2**16),
)
def test_shuffling_the_input_order_changes_nothing(rows, window, direction, seed) -> None:
    turns, splits = build(rows)
    order = list(turns)
    random.Random(seed).shuffle(order)
    shuffled = {i: turns[i] for i in order}
    assert context_index(shuffled, window, direction, splits) == context_index(
        turns, window, direction, splits
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    rows=rows_st.filter(bool),
    window=st.integers(0, 6),
    pick=st.integers(0, 10**6),
    seed=st.integers(0, 2**16),
)
def test_changing_later_turns_leaves_every_past_context_unchanged(rows, window, pick, seed) -> None:
    """Cut one dialogue at a turn T; drop, re-speak and add turns after T: every item up to T keeps
    its past-only context (a live conversation can be answered turn by turn)."""
    turns, splits = build(rows)
    pivot = f"i{pick % len(rows)}"
    split, dia, cut = splits[pivot], turns[pivot].dialogue, turns[pivot].turn
    rng = random.Random(seed)
    later = [
        i
        for i, t in turns.items()
        if t is not None and key(turns, splits, i) == (split, dia) and t.turn > cut
    ]
    changed = dict(turns)
    changed_splits = dict(splits)
    for i in later:
        roll = rng.random()
        if roll < 0.4:
            del changed[i], changed_splits[i]
        elif roll < 0.8:
            changed[i] = Turn(dia, turns[i].turn, rng.choice(SPEAKERS))
    for k in range(rng.randint(0, 3)):  # new turns after the cut
        changed[f"new{k}"] = Turn(dia, cut + 100 + k, rng.choice(SPEAKERS))
        changed_splits[f"new{k}"] = split
    before = context_index(turns, window, "past", splits)
    after = context_index(changed, window, "past", changed_splits)
    for i, t in turns.items():
        if t is not None and key(turns, splits, i) == (split, dia) and t.turn <= cut:
            assert after[i] == before[i], i


def test_gaps_in_turn_numbers_count_as_adjacent_and_speakers_are_marked() -> None:
    turns = {"a": Turn("d", 0, "Ann"), "b": Turn("d", 1, "Bob"), "c": Turn("d", 7, "Ann"), "x": None}
    ctx = context_index(turns, 8)
    assert ctx["c"] == (ContextTurn("a", 2, True), ContextTurn("b", 1, False))
    assert ctx["a"] == () and ctx["x"] == ()
    assert context_index(turns, 1, "both")["b"] == (ContextTurn("a", 1, False), ContextTurn("c", -1, False))
    assert context_index(turns, 0, "both") == {i: () for i in turns}


def test_a_repeated_turn_is_an_error_naming_both_items() -> None:
    turns = {"u1": Turn("d9", 3), "u2": Turn("d9", 3)}
    with pytest.raises(DataError, match=r"dialogue 'd9'.*'u1' and 'u2' are both turn 3"):
        context_index(turns, 2)
    # the same numbers in two splits are two conversations, not a clash
    assert context_index(turns, 2, splits={"u1": "train", "u2": "test"}) == {"u1": (), "u2": ()}
    with pytest.raises(ValueError, match="window"):
        context_index(turns, -1)


def test_turn_from_meta_types_and_refuses_a_dialogue_without_an_integer_turn() -> None:
    assert turn_from_meta({"dialogue": 5, "turn": 2, "speaker": "Ann"}) == Turn("5", 2, "Ann")
    assert turn_from_meta({"dialogue": "d", "turn": 0}) == Turn("d", 0, None)
    assert turn_from_meta({"speaker": "Ann"}) is None  # no dialogue: a lone utterance
    for bad in ("3", 2.5, True, None):
        with pytest.raises(DataError, match=r"item 'u7': meta 'turn' .* needs an integer 'turn'"):
            turn_from_meta({"dialogue": "d", "turn": bad}, "u7")


# -- the store keeps them ------------------------------------------------------------------------
def write_manifest_store(tmp_path: Path, with_conversation: bool) -> Path:
    """A manifest of precomputed .npy features (no model needed), extracted into a store."""
    import numpy as np

    from sseft.core.extraction import extract_items
    from sseft.core.extraction.generate import job_modalities
    from sseft.plugins.datasets.manifest import MANIFEST, ManifestConfig

    rows = [
        ("u1", "train", "d1", "0", "Ann"),
        ("u2", "train", "d1", "4", "Bob"),
        ("u3", "test", "", "", "Cy"),
    ]
    for i, *_ in rows:
        np.save(tmp_path / f"{i}.npy", np.ones((2, 3), np.float32))
    head = "id,split,label,speech" + (",dialogue,turn,speaker" if with_conversation else "")
    lines = [
        f"{i},{s},x,{i}.npy" + (f",{d},{t},{spk}" if with_conversation else "") for i, s, d, t, spk in rows
    ]
    path = tmp_path / "m.csv"
    path.write_text("\n".join([head, *lines]) + "\n", encoding="utf-8")
    cfg = ManifestConfig(root=path, label_names=["x", "y"])
    items = list(MANIFEST.items(cfg))
    out = tmp_path / "store"
    s = extract_items(items, MANIFEST.task(cfg), job_modalities(items), out, progress=False, threads=1)
    assert s.failed == 0, s.line()
    return out


def test_the_store_keeps_each_items_conversation(tmp_path: Path) -> None:
    from sseft.core.features import FeatureStore

    store = FeatureStore.open(write_manifest_store(tmp_path, with_conversation=True))
    assert store.conversation("u1") == Turn("d1", 0, "Ann")
    assert store.conversation("u2") == Turn("d1", 4, "Bob")  # an int, though the CSV cell was text
    assert store.conversation("u3") is None  # empty dialogue cell: a lone utterance
    assert store_turns(store, "train") == {"u1": Turn("d1", 0, "Ann"), "u2": Turn("d1", 4, "Bob")}
    require_conversations(store, ["train"])
    assert context_index(store_turns(store, "train"), 8)["u2"] == (ContextTurn("u1", 1, False),)


def test_a_store_without_conversations_loads_and_says_so_when_context_is_asked(tmp_path: Path) -> None:
    from sseft.core.features import FeatureStore

    store = FeatureStore.open(write_manifest_store(tmp_path, with_conversation=False))
    assert len(store.dataset("train")) == 2  # loads and reads as before
    assert store.conversation("u1") is None
    with pytest.raises(DataError) as e:
        require_conversations(store)
    msg = str(e.value)
    assert "\n" not in msg and "split 'train' has no conversation info" in msg and "re-extract" in msg
