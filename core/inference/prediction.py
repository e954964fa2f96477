"""What a prediction looks like to users: a `Prediction` per item, as text, a dict (JSON) or a CSV row.

A `Prediction` wraps the head's own record of one item (`head.records(...)`, plain JSON) and the
head's renderings of it (`describe`, `table`, `csv_row`), so nothing here knows any task: the
built-in heads give `label` + `probabilities` (multiclass), `labels` + `probabilities`
(multilabel), `scores` + `acc7` (+ `score`, `acc7_class` for one label name; regression), and a
new head gives whatever its records hold. The record's fields read as attributes (`p.label`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..head import LEADING_COLUMNS, TRAILING_COLUMNS, head_for_task, method


@dataclass
class Prediction:
    """One item's prediction (the head's record), plus which modalities it was made from."""

    task: str
    label_names: list[str]
    record: dict[str, Any] = field(default_factory=dict)  # the head's record, without "id"
    modalities_used: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    # A model with dialogue context: the turns this prediction saw, oldest first ({"turn", "speaker",
    # "distance", "attention"}; core/inference/conversation.py); None for a lone utterance.
    context: list[dict[str, Any]] | None = None
    # The head's renderings of `record`, made when the prediction is (see `from_record`).
    text: str = field(default="", repr=False)
    table_text: str = field(default="", repr=False)
    cells: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_record(cls, head: Any, record: dict[str, Any], **extra: Any) -> Prediction:
        """A Prediction from one of `head.records(outputs, ids)` (`extra`: modalities_used, missing, notes, id)."""
        rec = dict(record)
        rid = rec.pop("id", None)
        extra.setdefault("id", None if rid is None else str(rid))
        return cls(
            task=str(head.task),
            label_names=[str(n) for n in head.label_names],
            record=rec,
            text=method(head, "describe")(record),
            table_text=method(head, "table")(record),
            cells=method(head, "csv_row")(record),
            **extra,
        )

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: the record's fields (label, probabilities, score ...).
        record = self.__dict__.get("record")
        if record is not None and name in record:
            return record[name]
        have = ", ".join(sorted(record)) if record else "none"
        raise AttributeError(
            f"this {self.__dict__.get('task')} prediction has no {name!r} (its fields: {have})"
        )

    def summary(self) -> str:
        """One short line from the head: 'joy (p=0.61)', 'score +1.240 (Acc7 class +1)', ..."""
        return self.text

    def table(self) -> str:
        """A small aligned table of the per-label numbers (from the head)."""
        return self.table_text

    def report_text(self, model_ref: str) -> str:
        """The whole prediction for a reader (what `sseft predict` prints for one clip): the model,
        the modalities used and from which input, what was missing or cropped, the head's table."""
        used_kind = self.notes.get("inputs", {})
        lines = [
            f"model: {model_ref} ({self.task}; labels: {', '.join(self.label_names)})",
            "modalities used: "
            + (", ".join(f"{m} (from {used_kind.get(m, 'features')})" for m in self.modalities_used)),
        ]
        if self.missing:
            lines.append(f"missing (fed as empty sequences): {', '.join(self.missing)}")
        if self.notes.get("unused_inputs"):
            lines.append(f"inputs this model does not use: {', '.join(self.notes['unused_inputs'])}")
        lines += [
            f"note: {m} gave an empty sequence (e.g. no face found); the model relied on its CLS"
            for m in self.notes.get("empty", [])
        ]
        for m, c in self.notes.get("cropped", {}).items():
            lines.append(f"note: {m} cropped from {c['from']} to {c['to']} frames (the model's max_len)")
        lines += [f"prediction: {self.summary()}", "", self.table()]
        if "explain" in self.notes:
            lines.append(f"\nexplain: {self.notes['explain']}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data: task, label names, the head's record, modalities, notes, id (and the
        context turns, for a prediction made in a conversation)."""
        out = {
            "task": self.task,
            "label_names": list(self.label_names),
            **self.record,
            "modalities_used": list(self.modalities_used),
            "missing": list(self.missing),
            "notes": dict(self.notes),
            "id": self.id,
        }
        if self.context is not None:
            out["context"] = [dict(c) for c in self.context]
        return out

    def csv_row(self) -> dict[str, Any]:
        """Flat columns for batch output (see `csv_columns`)."""
        return {
            "id": self.id or "",
            **self.cells,
            "modalities_used": ";".join(self.modalities_used),
            "missing": ";".join(self.missing),
        }


def csv_columns(head: Any, label_names: list[str] | None = None) -> list[str]:
    """Header of a batch prediction CSV for a model's head: id, the head's columns, modalities.

    `csv_columns("multiclass", names)` (a task type and label names instead of a head) builds the
    first registered head of that task for those names and asks it."""
    if isinstance(head, str):
        head = head_for_task(head, label_names or [])
    return [*LEADING_COLUMNS, *method(head, "csv_columns")(), *TRAILING_COLUMNS]
