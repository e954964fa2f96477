"""Prediction on a conversation: one answer per turn, each made from that turn and the turns before it.

    turns = read_conversation("turns.jsonl")         # or .csv: speaker,text[,audio,video] per line
    preds = predict_conversation(model, turns)        # one Prediction per turn, in order
    preds[3].label, preds[3].context                  # [{"turn": 0, "speaker": "ann", "distance": 3, ...}, ...]

For a model trained with dialogue context (`context: {window: N}`, core/context/). Each turn goes
through the Predictor's own path: its raw inputs are extracted by the model's encoders
(`Predictor.extract_items`), its context vector is the mean of those features per context
modality (`pool_turn`, what training pools from the store), the turns form one dialogue
(`ContextTable.from_turns`, the leak-proof `context_index`), and the batches run through
`Predictor._forward` with their `context`. A turn's context holds only earlier turns (a model
trained with `direction: past`), so appending turns or editing later ones never changes an earlier
answer: the conversation can be predicted live, as it happens. A model without context, or one
that also reads later turns (`direction: both`, offline analysis), is refused with one line.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError, model_validator

from ..config import StrictModel
from ..errors import ConfigError, DataError, ItemError
from ..files import atomic_write_text, read_jsonl

if TYPE_CHECKING:
    from ..context import ContextConfig
    from ..protocols import PredictableModel
    from .prediction import Prediction
    from .predictor import Predictor

TURN_FIELDS = ("speaker", "text", "audio", "video")
DIALOGUE = "conversation"  # the one dialogue a conversation's turns form (core/features/conversation.py Turn)


class ConversationTurn(StrictModel):
    """One turn: who spoke (optional) and what was said (text) and/or recorded (audio, video)."""

    speaker: str | None = None
    text: str | None = None
    audio: Path | None = None
    video: Path | None = None

    @model_validator(mode="after")
    def _has_input(self) -> ConversationTurn:
        if self.text is None and self.audio is None and self.video is None:
            raise ValueError("no text, audio or video: give the turn at least one of them")
        return self

    def inputs(self) -> dict[str, Any]:
        """The raw inputs by kind, as `Predictor.predict_items` takes them."""
        return {
            k: v
            for k, v in (("text", self.text), ("audio", self.audio), ("video", self.video))
            if v is not None
        }


def _field_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    if err.get("type") == "extra_forbidden":
        return f"unknown field {where!r}; a turn has {', '.join(TURN_FIELDS)}"
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"field {where}: {msg}" if where else msg


def _clean(cells: Mapping[str, Any]) -> dict[str, Any]:
    """Empty cells and empty strings are absent (a CSV cannot write None)."""
    return {k: v for k, v in cells.items() if not (v is None or (isinstance(v, str) and not v.strip()))}


def _turn(cells: Mapping[str, Any], where: str, base: Path | None = None) -> ConversationTurn:
    try:
        turn = ConversationTurn.model_validate(_clean(cells))
    except ValidationError as e:
        raise DataError(f"{where}: {_field_error(e)}") from None
    if base is not None:  # media paths are relative to the conversation file's folder
        for kind in ("audio", "video"):
            path = getattr(turn, kind)
            if path is not None:
                full = path.expanduser() if path.expanduser().is_absolute() else base / path
                if not full.is_file():
                    raise DataError(f"{where}: field {kind}: {full} not found; check the path")
                setattr(turn, kind, full)
    return turn


def read_conversation(path: str | os.PathLike[str]) -> list[ConversationTurn]:
    """The ordered turns of a conversation file: JSONL (one object per line) or CSV (a header with
    speaker, text and optionally audio, video); a bad line is a DataError naming file, line and field."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: conversation file not found")
    if path.suffix.lower() == ".csv":
        turns = _read_csv(path)
    elif path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        turns = _read_jsonl(path)
    else:
        raise DataError(f"{path}: a conversation is a .jsonl or .csv file (one turn per line)")
    if not turns:
        raise DataError(f"{path}: no turns; write one turn per line (speaker, text)")
    return turns


def _read_jsonl(path: Path) -> list[ConversationTurn]:
    rows = read_jsonl(path, what="conversation")
    text = path.read_text(encoding="utf-8")
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    turns = []
    for n, row in zip(lines, rows, strict=True):
        if not isinstance(row, dict):
            raise DataError(f'{path}: line {n}: expected an object like {{"speaker": ..., "text": ...}}')
        turns.append(_turn(row, f"{path}: line {n}", path.parent))
    return turns


def _read_csv(path: Path) -> list[ConversationTurn]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        unknown = [h for h in header if h not in TURN_FIELDS]
        if unknown or not header:
            raise DataError(
                f"{path}: line 1: unknown column {unknown[0]!r}; the columns are {', '.join(TURN_FIELDS)}"
                if unknown
                else f"{path}: empty file; write a header line (speaker,text) and one turn per line"
            )
        reader.fieldnames = header
        turns = []
        for row in reader:
            if None in row:  # more cells than columns
                raise DataError(
                    f"{path}: line {reader.line_num}: more cells than the header's {len(header)} columns"
                )
            turns.append(_turn(row, f"{path}: line {reader.line_num}", path.parent))
    return turns


def as_turns(turns: Iterable[ConversationTurn | Mapping[str, Any]]) -> list[ConversationTurn]:
    """Turns given in Python (dicts or ConversationTurns) as ConversationTurns; DataError naming the turn."""
    out = []
    for k, t in enumerate(turns):
        out.append(t if isinstance(t, ConversationTurn) else _turn(dict(t), f"turn {k}"))
    if not out:
        raise DataError("the conversation has no turns")
    return out


def live_context(model: PredictableModel, ref: str) -> ContextConfig:
    """The model's context config when it can predict a conversation live; ConfigError otherwise."""
    cfg = getattr(model.config, "context", None)
    if cfg is None or not cfg.enabled:
        raise ConfigError(
            f"{ref} was trained without dialogue context; train with `context: {{window: N}}` in the "
            "experiment config to predict a conversation, or predict turn by turn"
        )
    if cfg.direction == "both":
        raise ConfigError(
            f"{ref} reads the turns after each utterance too (`context: {{direction: both}}`): an "
            "offline-analysis model, it cannot predict a conversation as it happens; train with "
            "`direction: past` for that"
        )
    if getattr(model, "context", None) is None:  # e.g. an ONNX export: its graph has no context input
        raise ConfigError(
            f"{ref}: this runtime of the model cannot feed dialogue context; use the torch runtime"
        )
    return cfg


def predict_conversation(
    model: PredictableModel | Predictor,
    turns: Iterable[ConversationTurn | Mapping[str, Any]],
    *,
    allow_missing: bool | None = None,
    overrides: Iterable[str] = (),
    batch_size: int = 16,
) -> list[Prediction]:
    """One Prediction per turn, in order, each from that turn and the turns before it (see the
    module docstring). `model`: a model or a Predictor of one; `allow_missing`, `overrides` as for
    `Predictor` (ignored when a Predictor is given)."""
    from ..context import ContextTable, pool_turn
    from ..features.conversation import Turn
    from .predictor import Predictor, predictor_for

    predictor = (
        model
        if isinstance(model, Predictor)
        else predictor_for(model, allow_missing=allow_missing, overrides=tuple(overrides))
    )
    cfg = live_context(predictor.model, predictor.ref)
    conv = as_turns(turns)
    ids = [str(k) for k in range(len(conv))]
    results, feats, notes, _ = predictor.extract_items([t.inputs() for t in conv], ids)
    for k, res in enumerate(results):
        if isinstance(res, ItemError):  # later turns would miss it in their context: stop here
            raise DataError(f"turn {k}: {res.reason}")
    mods = predictor.model.config.context_modalities()
    dims = {s.name: s.dim for s in predictor.specs}
    pooled = [pool_turn(f, mods, dims) for f in feats]
    table = ContextTable.from_turns([Turn(DIALOGUE, k, t.speaker) for k, t in enumerate(conv)], pooled, cfg)
    preds: list[Prediction] = []
    # a model that reads the earlier turns' fused vectors needs them in the same batch: one batch
    step = len(conv) if cfg.turns == "fused" else max(1, batch_size)
    for start in range(0, len(conv), step):
        pos = list(range(start, min(len(conv), start + step)))
        chunk = predictor._forward(
            [feats[k] for k in pos], [ids[k] for k in pos], [notes[k] for k in pos], context=table.inputs(pos)
        )
        for k, p in zip(pos, chunk, strict=True):
            rows = [int(r) for r in table.rows[k] if int(r) >= 0]  # the same slots, in the same order
            # never reached (context_index is past-only), but it is the promise a live caller relies on
            if any(r >= k for r in rows):
                raise RuntimeError(f"turn {k}: its context holds turn {max(rows)}, not only earlier turns")
            p.context = [
                {"turn": r, "speaker": conv[r].speaker, **slot}
                for r, slot in zip(rows, p.context or [], strict=True)
            ]
        preds += chunk
    return preds


# -- what the CLI prints and writes -------------------------------------------------------------------
def conversation_rows(preds: Sequence[Prediction], turns: Sequence[ConversationTurn]) -> list[dict[str, Any]]:
    """One flat row per turn: turn, speaker, text, the head's cells, the context turns ("0;1;2")."""
    rows = []
    for k, (p, t) in enumerate(zip(preds, turns, strict=True)):
        rows.append({
            "turn": k, "speaker": t.speaker or "", "text": t.text or "", **p.cells,
            "context": ";".join(str(c["turn"]) for c in p.context or []),
        })  # fmt: skip
    return rows


def write_conversation_csv(path: str | Path, rows: Sequence[dict[str, Any]]) -> Path:
    """The rows as a CSV file (written whole, atomically)."""
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, buf.getvalue())


def conversation_table(rows: Sequence[dict[str, Any]], width: int = 40) -> str:
    """The rows as an aligned text table (texts cut to `width` characters)."""

    def cell(v: Any) -> str:
        s = " ".join(str(v).split())
        return s if len(s) <= width else s[: width - 1] + "…"

    columns = list(rows[0])
    cells = [[cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)
