"""POST /v1/models/{name}/conversation: one prediction per turn of a conversation, each from the
turns up to it, for a model trained with dialogue context (core/inference/conversation.py, the
same as `sseft predict --conversation` and `model.predict_conversation`).

The body is JSON, text only: {"turns": [{"speaker": "ann", "text": "..."}, ...]} (media turns go
through the CLI or the Python API). A conversation is one ordered unit (every turn's context is
pooled from the turns before it), so it runs as one call in a worker thread, beside the dynamic
batcher that serves single predictions. A model trained without context answers 422 in one line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from sseft.core.config import StrictModel

from .schemas import ERROR_RESPONSES
from .served import ServedModel
from .settings import ServeSettings
from .uploads import FieldError

MAX_TURNS = 1000


class TurnIn(StrictModel):
    speaker: str | None = Field(
        None, description="Who spoke the turn (marks same / other speaker in the context)."
    )
    text: str = Field(description="What was said (the turn's transcript).")


class ConversationIn(StrictModel):
    turns: list[TurnIn] = Field(
        min_length=1, max_length=MAX_TURNS, description="The conversation's turns, oldest first."
    )


class ContextTurnOut(StrictModel):
    turn: int = Field(description="Index of an earlier turn this turn's prediction saw.")
    speaker: str | None = Field(description="Its speaker.")
    distance: int = Field(description="How many turns back it lies (1 = the turn just before).")
    attention: float | None = Field(None, description="The share of the utterance's attention it got.")


class TurnOut(StrictModel):
    turn: int = Field(description="The turn's index (0 = the first).")
    speaker: str | None = Field(description="Its speaker, as sent.")
    text: str = Field(description="Its text, as sent.")
    label: str | None = Field(description="The predicted label (multiclass).")
    probabilities: dict[str, float] = Field(description="Per-label probabilities (regression: scores).")
    summary: str = Field(description="The head's one-line description of the prediction.")
    record: dict[str, Any] = Field(description="The head's full record (labels, scores, ... by task).")
    context: list[ContextTurnOut] = Field(description="The earlier turns the prediction saw, oldest first.")


class ConversationOut(StrictModel):
    request_id: str = Field(description="The id of this request in the server log (also X-Request-ID).")
    model: str = Field(description="name@version that answered.")
    context: str = Field(description="The model's dialogue context (window, modalities, speaker marking).")
    turns: list[TurnOut] = Field(description="One prediction per turn, in order.")
    elapsed_ms: float = Field(description="Time spent on this request in the service.")


DESCRIPTION = (
    'JSON only, text turns: {"turns": [{"speaker": ..., "text": ...}, ...]}, oldest first. Answers one '
    "prediction per turn, each made from that turn and the turns before it (never a later one), so a client "
    "may resend the growing conversation as it happens. Needs a model trained with dialogue context "
    "(`context: {window: N}`); any other answers 422. Media turns: `sseft predict --conversation` or "
    "`model.predict_conversation`."
)


def install_conversation(
    app: FastAPI, served: dict[str, ServedModel], settings: ServeSettings,
    find: Callable[[dict[str, ServedModel], str], ServedModel],
) -> None:  # fmt: skip
    """Add the route to `app` (`find`: app.py's model lookup, with its unknown-name message)."""

    @app.post(
        "/v1/models/{name}/conversation", response_model=ConversationOut, responses=ERROR_RESPONSES,
        summary="Predict every turn of a conversation from the turns before it", description=DESCRIPTION,
    )  # fmt: skip
    async def conversation(name: str, body: ConversationIn, request: Request) -> dict[str, Any]:
        t0 = time.perf_counter()
        m = find(served, name)
        return await run_in_threadpool(answer, m, body, settings, request.state.request_id, t0)


def answer(
    m: ServedModel, body: ConversationIn, settings: ServeSettings, rid: str, t0: float
) -> dict[str, Any]:
    from sseft.core.inference.conversation import live_context, predict_conversation

    cfg = live_context(m.model, m.ref)  # ConfigError (422) for a model without context
    for k, t in enumerate(body.turns):
        if len(t.text) > settings.max_text_chars:
            raise FieldError(
                f"field turns.{k}.text: {len(t.text)} characters, over the limit of {settings.max_text_chars}; shorten it"
            )
    preds = predict_conversation(m.predictor, [t.model_dump() for t in body.turns])
    turns = []
    for k, (t, p) in enumerate(zip(body.turns, preds, strict=True)):
        rec = dict(p.record)
        probs = rec.get("probabilities") or rec.get("scores") or {}  # as core/serving/timeline.py reads them
        turns.append({
            "turn": k, "speaker": t.speaker, "text": t.text,
            "label": rec.get("label") if isinstance(rec.get("label"), str) else None,
            "probabilities": {str(a): float(v) for a, v in probs.items()}, "summary": p.summary(),
            "record": rec, "context": list(p.context or []),
        })  # fmt: skip
    return {
        "request_id": rid, "model": m.ref, "context": cfg.describe(), "turns": turns,
        "elapsed_ms": round((time.perf_counter() - t0) * 1000, 2),
    }  # fmt: skip
