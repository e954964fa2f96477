"""Shared pieces of the built-in dataset plugins: split names, the dry-run report, path checks.

Stdlib + pydantic only: entry-point modules import this at `sseft plugins` time.

A dataset's `check(config)` returns a `DataReport`: counts per split and label, modality coverage,
missing files, duplicate ids, row problems and notes, so that `sseft data check` can show what is
wrong with a corpus before any long extraction or training job starts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sseft.core.errors import DataError
from sseft.core.extraction.job import resolve_dataset  # noqa: F401 (lives in core now; old import path)
from sseft.core.protocols import Item, MediaSlice, TaskInfo, split_order

# Every corpus's split names, normalised to the store's three names (MELD "dev" -> "valid").
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "valid": "valid",
    "val": "valid",
    "validation": "valid",
    "dev": "valid",
    "test": "test",
    "testing": "test",
}
MEDIA_SUFFIXES = (".wav", ".flac", ".mp3", ".mp4", ".avi", ".mkv", ".webm", ".mov", ".npy", ".safetensors")

# What to do with an item whose media file is missing: drop it, keep it with the modalities that
# are present, or stop with an error (the report of `sseft data check` lists them all either way).
MissingPolicy = Literal["drop", "partial", "error"]
MediaModality = Literal["text", "speech", "face"]  # what MELD / IEMOCAP clips provide


def all_media_modalities() -> list[MediaModality]:
    """Default `modalities` of the MELD / IEMOCAP configs: all three (a typed default factory)."""
    return ["text", "speech", "face"]


def normalise_split(value: str) -> str | None:
    """'dev' -> 'valid', 'Train' -> 'train'; None for anything that is not a known split name."""
    return SPLIT_ALIASES.get(str(value).strip().lower())


@dataclass
class DataReport:
    """What `sseft data check` / `sseft data info` print about one dataset."""

    dataset: str
    task: TaskInfo | None = None
    counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    coverage: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    missing: list[str] = field(default_factory=list)  # "id: modality file PATH not found (where)"
    duplicates: list[str] = field(default_factory=list)  # "id (rows 3 and 7)"
    problems: list[str] = field(default_factory=list)  # malformed rows: row, column, expected form
    notes: list[str] = field(default_factory=list)  # things that are fine but worth knowing
    dropped: int = 0
    missing_policy: str = "partial"  # what a job does with `missing`: only 'error' makes them blocking

    @property
    def ok(self) -> bool:
        """Nothing to fix before extracting: no malformed rows, no duplicate ids, and no missing
        input that the missing-media policy turns into an error (stop or per-item failure)."""
        blocking = self.missing_policy == "error" and bool(self.missing)
        return not self.problems and not self.duplicates and not blocking

    @property
    def n_items(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())

    def add_item(self, item: Item) -> None:
        """Count one item: its split, its label (by name) and which modalities it has."""
        self.counts[item.split][self.label_key(item.label)] += 1
        for m, v in item.inputs.items():
            if v is not None:
                self.coverage[item.split][m] += 1

    def label_key(self, label: Any) -> str:
        """A label as a readable key: class name, '+'-joined present labels, or a float bin."""
        t = self.task
        if t is None or label is None:
            return str(label)
        if t.type == "multiclass":
            return (
                t.label_names[label]
                if isinstance(label, int) and 0 <= label < len(t.label_names)
                else str(label)
            )
        if t.type == "multilabel":
            on = [n for n, v in zip(t.label_names, label, strict=False) if v]
            return "+".join(on) if on else "(none)"
        values = label if isinstance(label, list | tuple) else [label]
        # Regression: bin the first value to the nearest integer, enough to see the distribution.
        return f"~{round(float(values[0])):+d}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "task": None
            if self.task is None
            else {"type": self.task.type, "label_names": list(self.task.label_names)},
            "items": self.n_items,
            "counts": {s: dict(sorted(c.items())) for s, c in sorted(self.counts.items(), key=_split_order)},
            "coverage": {
                s: dict(sorted(c.items())) for s, c in sorted(self.coverage.items(), key=_split_order)
            },
            "missing": self.missing,
            "duplicates": self.duplicates,
            "problems": self.problems,
            "notes": self.notes,
            "dropped": self.dropped,
            "missing_policy": self.missing_policy,
            "ok": self.ok,
        }

    def format(self, limit: int = 10) -> str:
        """Human-readable report; long lists are cut after `limit` entries (with a count)."""
        lines = [f"dataset {self.dataset}: {self.n_items} items"]
        if self.task is not None:
            lines.append(f"task    {self.task.type} over {', '.join(self.task.label_names)}")
        for split, c in sorted(self.counts.items(), key=_split_order):
            total = sum(c.values())
            labels = ", ".join(f"{k} {v}" for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
            lines.append(f"  {split:<6} {total:>6}  {labels}")
            cov: dict[str, int] = self.coverage.get(split, {})
            if cov:
                lines.append(
                    "         coverage: " + ", ".join(f"{m} {n}/{total}" for m, n in sorted(cov.items()))
                )
        if self.dropped:
            lines.append(f"dropped {self.dropped} items (see missing files / notes)")
        for title, entries in (
            ("problems", self.problems),
            ("duplicate ids", self.duplicates),
            ("missing inputs (files not found, empty cells)", self.missing),
            ("notes", self.notes),
        ):
            if entries:
                lines.append(f"{title} ({len(entries)}):")
                lines.extend(f"  {e}" for e in entries[:limit])
                if len(entries) > limit:
                    lines.append(f"  ... and {len(entries) - limit} more (use --json for all)")
        if self.ok:
            lines.append("ok")
        elif not self.problems and not self.duplicates:
            lines.append(
                f"NOT OK: {len(self.missing)} item(s) lack an input and the missing-media policy is 'error': "
                "restore the files, or set the policy to 'partial' (keep them without it) or 'drop'"
            )
        else:
            lines.append("NOT OK: fix the problems above before extracting")
        return "\n".join(lines)


def _split_order(kv: tuple[str, Any]) -> tuple[int, str]:
    return split_order(kv[0])


def report_from_items(name: str, task: TaskInfo, items: Iterable[Item]) -> DataReport:
    """Generic check: count items and flag duplicate ids and missing files."""
    rep = DataReport(name, task)
    seen: set[str] = set()
    for it in items:
        if it.id in seen:
            rep.duplicates.append(it.id)
            continue
        seen.add(it.id)
        rep.add_item(it)
        for m, v in it.inputs.items():
            p = media_path(v)
            if p is not None and not p.exists():
                rep.missing.append(f"{it.id}: {m} file {p} not found")
    return rep


def media_path(value: Any) -> Path | None:
    """The file behind an input value (a Path or a MediaSlice), or None for text/arrays."""
    if isinstance(value, MediaSlice):
        return Path(value.path)
    if isinstance(value, Path):
        return value
    return None


def require_content(path: Path, text: str, expected: str) -> None:
    """An empty (or whitespace-only) file is one clear line, not 'no column id (columns: )'."""
    if not text.strip():
        size = path.stat().st_size if path.is_file() else 0
        raise DataError(f"{path}: the file is empty ({size} bytes); expected {expected}")


def check_unique(ids: Mapping[str, list[str]]) -> list[str]:
    """Duplicate ids -> ['ID (rows 3, 9)']; `ids` maps id -> where it was seen."""
    return [f"{i} ({', '.join(w)})" for i, w in ids.items() if len(w) > 1]


# -- the scan/driver pattern --------------------------------------------------------------------
# Each plugin writes one `scan(config)` generator of events; `items()` and `check()` both run it,
# so the dry run sees exactly what a job would see:
#   ("item", Item, [(modality, Path | reason), ...])   a Path: that file is missing;
#                                                      a str: the item has no such input (empty cell)
#   ("problem", "file: line N: column C: what is wrong; expected ...")  -> items() raises
#   ("note", "...")                                                    -> only reported
Event = tuple[Any, ...]
Absent = list[tuple[str, Any]]


def absent_reason(modality: str, what: Any, where: str) -> str:
    """One line naming the file (or why there is no input) and where the item comes from."""
    if isinstance(what, str):
        return f"no {modality} input: {what.strip('()')} ({where})"
    return f"{modality} file {what} not found ({where})"


def apply_absent(item: Item, absent: Absent, missing: MissingPolicy, hint: str) -> Item | None:
    """The missing-media policy for one item, shared by every dataset plugin.

    A missing file (a Path) under `error` stops the job (DataError). Otherwise the absent inputs
    are removed from `item.inputs`, and (see INTERFACES "Absent modalities"):
    - `partial`: listed in `meta["missing"]` (stored as empty sequences) with the reasons in
      `meta["missing_reason"]` (an item left with no input at all is a failure at extraction);
    - `error` (only inputs the item lacks, such as an empty cell): the reasons go to
      `meta["absent"]`, so extraction records the item as a failure naming them;
    - `drop`: the item is skipped (None)."""
    if not absent:
        return item
    where = str(item.meta.get("where", "?"))
    if missing == "error":
        for m, what in absent:
            if not isinstance(what, str):
                raise DataError(
                    f"{item.id}: {absent_reason(m, what, where)}; restore it, or {hint} "
                    "(run `sseft data check` to list every missing file)"
                )
    if missing == "drop":
        return None
    reasons = {m: absent_reason(m, what, where) for m, what in absent}
    for m in reasons:
        item.inputs.pop(m, None)
    if missing == "partial":
        # Kept even when nothing is left: extraction then records it as a failure naming every
        # absent input, rather than the item vanishing without a trace.
        item.meta["missing"] = list(reasons)
        item.meta["missing_reason"] = reasons
    else:
        item.meta["absent"] = {
            m: f"{r}; the missing-media policy is 'error' ({hint})" for m, r in reasons.items()
        }
    return item


def items_from_events(
    events: Iterable[Event], missing: MissingPolicy, hint: str = "set missing_media to 'drop' or 'partial'"
) -> Iterable[Item]:
    """Turn scan events into items: raise on the first problem or duplicate id, apply the
    missing-media policy (`apply_absent`). `hint` says how this plugin's policy is set."""
    seen: dict[str, str] = {}
    for ev in events:
        kind = ev[0]
        if kind == "problem":
            raise DataError(f"{ev[1]} (run `sseft data check` to list every problem at once)")
        if kind != "item":
            continue
        item, absent = ev[1], ev[2]
        if item.id in seen:
            raise DataError(
                f"duplicate item id {item.id!r} ({seen[item.id]} and {item.meta.get('where', '?')}); ids must be unique"
            )
        seen[item.id] = str(item.meta.get("where", "?"))
        kept = apply_absent(item, absent, missing, hint)
        if kept is not None:
            yield kept


def report_from_events(
    name: str, task: TaskInfo, events: Iterable[Event], missing: MissingPolicy
) -> DataReport:
    """Run a whole scan and collect every problem, duplicate, missing file and note."""
    rep = DataReport(name, task, missing_policy=missing)
    seen: dict[str, list[str]] = defaultdict(list)
    for ev in events:
        kind = ev[0]
        if kind == "problem":
            rep.problems.append(ev[1])
        elif kind == "note":
            rep.notes.append(ev[1])
        elif kind == "item":
            item, absent = ev[1], ev[2]
            where = str(item.meta.get("where", "?"))
            seen[item.id].append(where)
            if len(seen[item.id]) > 1:
                continue
            by_what: dict[tuple[bool, str], list[str]] = defaultdict(list)
            for m, what in absent:  # one entry per file (a clip that feeds speech and face: one line)
                by_what[(isinstance(what, str), str(what))].append(m)
            for (is_reason, what), ms in by_what.items():
                shown: Any = what if is_reason else Path(what)
                rep.missing.append(f"{item.id}: {absent_reason('/'.join(ms), shown, where)}")
            if absent and missing == "drop":
                rep.dropped += 1
                continue
            inputs = {m: v for m, v in item.inputs.items() if m not in {a for a, _ in absent}}
            if absent and not inputs and missing == "partial":
                rep.dropped += 1
                continue
            rep.add_item(Item(item.id, item.split, item.label, inputs, item.meta))
    rep.duplicates = check_unique(seen)
    return rep


def dataset_report(plugin: Any, config: Any) -> DataReport:
    """The plugin's own `check(config)` when it has one, else a generic pass over its items."""
    if hasattr(plugin, "check"):
        return plugin.check(config)
    return report_from_items(plugin.name, plugin.task(config), plugin.items(config))
