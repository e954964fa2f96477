"""A manifest's optional conversation columns: `dialogue`, `turn`, `speaker` (stdlib only).

    id,split,label,text,dialogue,turn,speaker
    u1,train,happy,Hi there,d1,0,Ann
    u2,train,sad,Oh no,d1,1,Bob

- `dialogue` names the conversation a row belongs to; a row with it empty is a lone utterance.
- `turn` is an integer giving the row's place in its dialogue (only the order counts: 0, 1, 5 is
  fine); two rows of one dialogue with the same turn are an error naming both lines. Without a
  `turn` column the rows of each dialogue are numbered in file order.
- `speaker` (optional) says who spoke; it marks turns by the same speaker in the context.
The parsed values go to item meta under core/features/conversation.py's keys, typed (turn an int).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from sseft.core.features.conversation import DIALOGUE, SPEAKER, TURN, Turn

INT_RE = re.compile(r"^[+-]?\d+$")


class ManifestTurns(NamedTuple):
    """What `read_turns` found: each good row's Turn, 'PATH: line N: ...' problems (one per bad
    cell, and one per repeated turn of a dialogue naming every line that has it), the lines whose
    cells are bad (their items are left out), and notes."""

    turns: dict[int, Turn]
    problems: list[str]
    bad_lines: set[int]
    notes: list[str]


def conversation_columns(columns: list[str], mapped: Mapping[str, str] | None) -> list[str]:
    """The conversation columns the manifest has and keeps as item meta (not mapped elsewhere)."""
    return [c for c in (DIALOGUE, TURN, SPEAKER) if c in columns and (mapped or {}).get(c, "meta") == "meta"]


def _cell(row: Mapping[str, Any], col: str) -> Any:
    v = row.get(col)
    return None if v is None or (isinstance(v, str) and not v.strip()) else v


def _as_turn(v: Any) -> int | None:
    """An integer turn number from a CSV string or a JSON number; None if it is not one."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and INT_RE.match(v.strip()):
        return int(v.strip())
    return None


def read_turns(path: Path, active: list[str], rows: list[tuple[int, dict[str, Any]]]) -> ManifestTurns:
    """The conversation of every row (`active`: the conversation columns kept as meta)."""
    turns: dict[int, Turn] = {}
    problems: list[str] = []
    bad: set[int] = set()
    if DIALOGUE not in active:
        if TURN in active:
            problems.append(
                f"{path}: column {TURN!r} without a {DIALOGUE!r} column; add {DIALOGUE!r} (which conversation "
                f"each row belongs to) or map {TURN!r} elsewhere with columns: {{{TURN}: meta}}"
            )
        return ManifestTurns(turns, problems, bad, [])
    next_turn: dict[str, int] = defaultdict(int)  # file order, when there is no `turn` column
    lines_of: dict[tuple[str, int], list[int]] = defaultdict(list)
    for line, row in rows:
        dialogue = _cell(row, DIALOGUE)
        raw = _cell(row, TURN) if TURN in active else None
        if dialogue is None:
            if raw is not None:
                problems.append(
                    f"{path}: line {line}: column {TURN}: {raw!r} but column {DIALOGUE} is empty; "
                    "give the row its dialogue, or leave both empty for a lone utterance"
                )
                bad.add(line)
            continue
        dialogue = str(dialogue).strip()
        if TURN in active:
            turn = _as_turn(raw)
            if turn is None:
                problems.append(
                    f"{path}: line {line}: column {TURN}: {raw!r} is not an integer; expected the row's "
                    "place in its dialogue (0, 1, 2, ...)"
                )
                bad.add(line)
                continue
        else:
            turn = next_turn[dialogue]
            next_turn[dialogue] += 1
        speaker = _cell(row, SPEAKER) if SPEAKER in active else None
        turns[line] = Turn(dialogue, turn, None if speaker is None else str(speaker).strip())
        lines_of[(dialogue, turn)].append(line)
    for (dialogue, turn), lines in lines_of.items():
        if len(lines) > 1:
            problems.append(
                f"{path}: lines {', '.join(map(str, lines))}: dialogue {dialogue!r} has turn {turn} more than "
                "once; number each turn of a dialogue differently"
            )
    notes = []
    if turns and TURN not in active:
        notes.append(f"{path.name}: no {TURN!r} column: each dialogue's turns are numbered in file order")
    return ManifestTurns(turns, problems, bad, notes)
