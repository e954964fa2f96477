"""Conversation structure of stored items, and the leak-proof context index built on it.

Datasets whose items are turns of a conversation (MELD, IEMOCAP, a manifest with the columns)
put three keys in each item's meta; extraction stores item meta as it is, so the feature store
keeps them (`FeatureStore.conversation(item_id)`):

    dialogue  str   the conversation the item belongs to (unique within a dataset)
    turn      int   its position in that conversation; only the order counts (gaps are fine:
                    MELD's utterance ids skip numbers), two items of one dialogue never share one
    speaker   str   who spoke it (optional: None when unknown)

`context_index` gives each item the turns around it: the preceding turns of its own dialogue in
its own split, up to `window` of them (and, with `direction="both"`, up to `window` following
ones: for offline analysis only, since a live conversation has no later turns). It is a pure
function of the items' (split, dialogue, turn, speaker): the input order, and with
`direction="past"` every later turn, cannot change an item's context.

Stdlib only (no torch): dataset plugins import it at `sseft plugins` time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import DataError

if TYPE_CHECKING:
    from .store import FeatureStore

DIALOGUE, TURN, SPEAKER = "dialogue", "turn", "speaker"  # the item meta keys
CONVERSATION_KEYS = (DIALOGUE, TURN, SPEAKER)
Direction = Literal["past", "both"]


@dataclass(frozen=True)
class Turn:
    """Where one item sits in its conversation."""

    dialogue: str
    turn: int
    speaker: str | None = None

    def meta(self) -> dict[str, Any]:
        """The item meta keys that carry this turn (what a dataset plugin writes)."""
        return {DIALOGUE: self.dialogue, TURN: self.turn, SPEAKER: self.speaker}


@dataclass(frozen=True)
class ContextTurn:
    """One turn in an item's context."""

    id: str  # the context turn's item id (its features are read from the same store)
    # How many of the dialogue's items lie between, counting this one: 1 = the turn just before.
    # Negative for later turns (direction "both" only). Counted over the items present, not turn
    # numbers, so a gap in the numbering (a dropped utterance) does not make a turn look far away.
    distance: int
    same_speaker: bool | None  # None when either speaker is unknown


def turn_from_meta(meta: Mapping[str, Any], item_id: str = "?") -> Turn | None:
    """The item's Turn from its meta; None when it carries no conversation (no `dialogue`).
    A `dialogue` without an integer `turn` is a DataError naming the item."""
    dialogue = meta.get(DIALOGUE)
    if dialogue is None or dialogue == "":
        return None
    turn = meta.get(TURN)
    if isinstance(turn, bool) or not isinstance(turn, int):
        raise DataError(
            f"item {item_id!r}: meta {TURN!r} is {turn!r}; an item with a {DIALOGUE!r} needs an integer "
            f"{TURN!r} (its position in the dialogue)"
        )
    speaker = meta.get(SPEAKER)
    return Turn(str(dialogue), turn, None if speaker is None or speaker == "" else str(speaker))


def store_turns(store: FeatureStore, split: str) -> dict[str, Turn | None]:
    """item id -> Turn (None: no conversation info) for every item of `split`, in store order."""
    return {i: turn_from_meta(m, i) for i, m in zip(store.ids(split), store.meta(split), strict=True)}


def require_conversations(store: FeatureStore, splits: Iterable[str] | None = None) -> None:
    """Raise a one-line DataError unless some item of each split carries conversation info
    (stores extracted before the datasets recorded it load fine, but give no context)."""
    for split in list(splits) if splits is not None else list(store.splits):
        if not any(t is not None for t in store_turns(store, split).values()):
            raise DataError(
                f"{store.root}: split {split!r} has no conversation info (item meta {DIALOGUE!r}, {TURN!r}, "
                f"{SPEAKER!r}): the store was extracted without it or the dataset has none; re-extract "
                "it with this sseft from a dataset that records dialogues, or turn context off"
            )


def context_index(
    turns: Mapping[str, Turn | None],
    window: int,
    direction: Direction = "past",
    splits: Mapping[str, str] | None = None,
) -> dict[str, tuple[ContextTurn, ...]]:
    """item id -> its context turns in conversation order (oldest first), for every item of `turns`.

    An item's context is taken from the items of its own dialogue and its own split (`splits`:
    item id -> split; None: all items are one split): up to `window` turns before it and, with
    `direction="both"`, up to `window` after it; never the item itself. Items without a Turn have
    an empty context. Two items of one dialogue and split with the same turn number: DataError."""
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    if direction not in ("past", "both"):
        raise ValueError(f"direction must be 'past' or 'both', got {direction!r}")
    dialogues: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for item_id, t in turns.items():
        if t is not None:
            split = splits[item_id] if splits is not None else ""
            dialogues[(split, t.dialogue)].append((t.turn, item_id))
    out: dict[str, tuple[ContextTurn, ...]] = {i: () for i in turns}
    for (split, dialogue), members in dialogues.items():
        members.sort()  # by turn; ties are refused just below, so ids never decide the order
        for (a, id_a), (b, id_b) in zip(members, members[1:], strict=False):
            if a == b:
                where = f" of split {split!r}" if split else ""
                raise DataError(
                    f"dialogue {dialogue!r}{where}: items {id_a!r} and {id_b!r} are both turn {a}; "
                    "every turn of a dialogue needs its own number"
                )
        order = [i for _, i in members]
        for pos, item_id in enumerate(order):
            before = range(max(0, pos - window), pos)
            after = range(pos + 1, min(len(order), pos + 1 + window)) if direction == "both" else range(0)
            me = turns[item_id]
            out[item_id] = tuple(
                ContextTurn(order[k], pos - k, _same_speaker(me, turns[order[k]])) for k in (*before, *after)
            )
    return out


def _same_speaker(a: Turn | None, b: Turn | None) -> bool | None:
    if a is None or b is None or a.speaker is None or b.speaker is None:
        return None
    return a.speaker == b.speaker


def dialogues_in_several_parts(
    parts: Mapping[str, Iterable[str]], turns: Mapping[str, Turn | None]
) -> dict[str, list[str]]:
    """dialogue -> the parts (fold parts, splits: name -> item ids) that share it, for every
    dialogue found in more than one part; empty when each dialogue lies whole in one part (what
    context needs: a part's contexts are built from its own items only)."""
    where: dict[str, list[str]] = defaultdict(list)
    for name, ids in parts.items():
        for d in dict.fromkeys(t.dialogue for i in ids if (t := turns.get(i)) is not None):
            where[d].append(name)
    return {d: names for d, names in sorted(where.items()) if len(names) > 1}
