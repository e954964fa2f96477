"""`sseft predict --conversation FILE`: one prediction per turn of a conversation, each from the turns
up to it (a model trained with `context:`), as a table, `--out turns.csv` or `--json`.

    sseft predict --model my-context-model --conversation turns.jsonl --out predictions.csv

The work is core/inference/conversation.py (`predict_conversation`), the same the Python API
(`model.predict_conversation`) and the service (`POST /v1/models/{name}/conversation`) use; a model
trained without context refuses with one line (exit code 2).
"""

from __future__ import annotations

import json
from pathlib import Path

import click


def predict_conversation_command(
    model_ref: str, conversation: Path, out: Path | None, as_json: bool, allow_missing: bool,
    sets: tuple[str, ...], preset: str | None, device: str | None, runtime: str,
) -> None:  # fmt: skip
    from sseft.api import load_predictor
    from sseft.core.inference.conversation import (
        conversation_rows,
        conversation_table,
        live_context,
        predict_conversation,
        read_conversation,
        write_conversation_csv,
    )

    turns = read_conversation(conversation)  # a bad line fails before any model or encoder is built
    predictor = load_predictor(
        model_ref, sets, preset=preset, allow_missing=allow_missing, device=device, runtime=runtime
    )
    cfg = live_context(predictor.model, predictor.ref)
    preds = predict_conversation(predictor, turns)
    rows = conversation_rows(preds, turns)
    if out is not None:
        write_conversation_csv(out, rows)
    if as_json:
        answers = [{"turn": k, "speaker": t.speaker, "text": t.text, **p.to_dict()} for k, (t, p) in enumerate(zip(turns, preds, strict=True))]  # fmt: skip
        click.echo(json.dumps({"model": predictor.ref, "turns": answers}, indent=2, ensure_ascii=False))
        return
    click.echo(f"model: {predictor.ref} ({cfg.describe()})")
    click.echo(conversation_table(rows))
    if out is not None:
        click.echo(f"wrote {out}")
