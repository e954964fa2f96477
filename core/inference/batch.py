"""Batch prediction into a CSV file: resumable, safe to interrupt, one bad item never stops the job.

    summary = predict_rows(predictor, rows, Path("predictions.csv"))
    print(summary.line())   # predicted 98 / skipped 0 (already in predictions.csv) / 2 failed (see failures.jsonl)

* Resumable: ids already in the output file are skipped, so re-running the same command finishes
  the job. Failed items are not written to the CSV, so a re-run retries them.
* Safe: a lock file stops two runs appending to one file; each batch of rows is appended with one
  write + fsync; a last line cut short by a crash is dropped before appending.
* Failures: one JSON line per failed item ({"id", "reason", "out", "time"}) in `failures.jsonl`
  next to the output file.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

from ..errors import DataError, ItemError
from ..failures import append_failure
from ..files import atomic_write_bytes
from .prediction import Prediction, csv_columns

if TYPE_CHECKING:
    from .predictor import Predictor

FAILURES_NAME = "failures.jsonl"


@dataclass
class RowInput:
    """One item to predict: its id and raw inputs by kind or modality name, or why it cannot be read."""

    id: str
    inputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class BatchSummary:
    total: int
    out: Path
    done: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def failures(self) -> Path:
        return self.out.parent / FAILURES_NAME

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, else the number of failed items (capped at 125 for the shell)."""
        return min(self.failed, 125)

    def line(self) -> str:
        failed = f"{self.failed} failed (see {self.failures})" if self.failed else "0 failed"
        return (
            f"predicted {self.done} / skipped {self.skipped} (already in {self.out.name}) / {failed}; "
            f"{self.total} items, {self.seconds:.1f} s"
        )


def one_line(value: Any) -> str:
    """A CSV value without line breaks (ids are compared in this form when resuming)."""
    return " ".join(str(value).replace("\r\n", "\n").replace("\r", "\n").split("\n"))


class PredictionWriter:
    """Appends prediction rows to a CSV, resuming an existing file written for the same model."""

    def __init__(self, out: Path, columns: Sequence[str]) -> None:
        self.out, self.columns = Path(out), list(columns)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.lock = FileLock(str(self.out) + ".lock")
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            raise DataError(
                f"{self.out}: another `sseft predict` is writing this file (lock {self.out}.lock); wait for it "
                "or choose another --out"
            ) from None
        self.done_ids: set[str] = set()
        if self.out.exists() and self.out.stat().st_size > 0:
            self._resume()
        else:
            self._write_atomic(self._line(dict(zip(self.columns, self.columns, strict=True))))

    def _line(self, row: dict[str, Any]) -> str:
        """One physical line per row (line breaks inside values become spaces), so that a row cut
        short by a crash is exactly the text after the last newline."""
        buf = io.StringIO()
        flat = {k: one_line(v) for k, v in row.items()}
        csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n").writerow(flat)
        return buf.getvalue()

    def _write_atomic(self, text: str) -> None:
        atomic_write_bytes(self.out, text.encode("utf-8"))

    def _resume(self) -> None:
        data = self.out.read_bytes()
        if not data.endswith(b"\n"):  # a crash cut the last row short: drop it, it will be redone
            cut = data.rfind(b"\n") + 1
            with open(self.out, "r+b") as f:
                f.truncate(cut)
            data = data[:cut]
        text = data.decode("utf-8")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = list(reader.fieldnames or [])
        if not header:
            self._write_atomic(self._line(dict(zip(self.columns, self.columns, strict=True))))
            return
        if header != self.columns:
            raise DataError(
                f"{self.out}: its columns ({', '.join(header)}) are not this model's ({', '.join(self.columns)}): "
                "it was written for another model; choose another --out"
            )
        self.done_ids = {row["id"] for row in reader if row.get("id")}

    def append(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        text = "".join(self._line(r) for r in rows)
        with open(self.out, "a", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        self.done_ids.update(one_line(r["id"]) for r in rows)

    def record_failure(self, item_id: str, reason: str) -> None:
        line = {"id": item_id, "reason": " ".join(reason.split()), "out": str(self.out), "time": time.time()}
        # The one failures writer: locked, fsynced, and a rerun adds no duplicate line.
        append_failure(self.out.parent / FAILURES_NAME, line, lock=self.out.parent / ".failures.lock")

    def close(self) -> None:
        self.lock.release()


def predict_rows(
    predictor: Predictor,
    rows: Iterable[RowInput],
    out: Path,
    *,
    batch_size: int = 8,
    progress: bool | None = None,
    explain: Path | None = None,
    extra_columns: Sequence[str] = (),
) -> BatchSummary:
    """Predict every row into `out` (see the module docstring); returns the counts.

    `progress=None` shows a tqdm bar on a terminal only. `extra_columns` are copied from
    `row.inputs["_extra"]` (e.g. a manifest's true label) after the prediction columns."""
    from tqdm.auto import tqdm

    rows = list(rows)
    t0 = time.perf_counter()
    columns = csv_columns(predictor.model.head) + list(extra_columns)
    writer = PredictionWriter(out, columns)
    summary = BatchSummary(total=len(rows), out=Path(out))
    seen: set[str] = set()
    bar = tqdm(
        total=len(rows), unit="item", desc="predict", disable=None if progress is None else not progress
    )
    try:
        todo: list[RowInput] = []
        for row in rows:
            if one_line(row.id) in writer.done_ids:
                summary.skipped += 1
                bar.update(1)
            elif row.error or row.id in seen:
                writer.record_failure(row.id, row.error or "duplicate item id in the manifest")
                summary.failed += 1
                bar.update(1)
            else:
                todo.append(row)
            seen.add(row.id)
        for k in range(0, len(todo), batch_size):
            chunk = todo[k : k + batch_size]
            inputs = [{m: v for m, v in r.inputs.items() if m != "_extra"} for r in chunk]
            results = predictor.predict_items(inputs, ids=[r.id for r in chunk], explain=explain)
            good = []
            for r, res in zip(chunk, results, strict=True):
                if isinstance(res, ItemError):
                    writer.record_failure(r.id, res.reason)
                    summary.failed += 1
                else:
                    assert isinstance(res, Prediction)
                    good.append({**res.csv_row(), **dict(r.inputs.get("_extra") or {})})
            writer.append(good)
            summary.done += len(good)
            bar.update(len(chunk))
            bar.set_postfix(failed=summary.failed, refresh=False)
    finally:
        bar.close()
        writer.close()
    summary.seconds = time.perf_counter() - t0
    return summary
