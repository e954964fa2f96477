"""What `sseft models list` and `sseft models show` print: the listing's rows and one entry's
details (its config.json and model card, registry/card.py). Torch-free, like the commands."""

from __future__ import annotations

import json
from typing import Any

from sseft.core.errors import IntegrityError

from .card import recorded_context
from .storage import ModelEntry, headline_metrics, metric_rows


def listing_rows(entries: list[ModelEntry]) -> list[tuple[str, ...]]:
    """A header row, then one row per entry: reference, aliases, task, head, modalities, metrics, source."""
    rows: list[tuple[str, ...]] = [("REF", "ALIASES", "TASK", "HEAD", "MODALITIES", "METRICS", "SOURCE")]
    for e in entries:
        s, latest = e.summary, ["latest"] if e.latest and e.version is not None else []
        rows.append((
            e.ref, ",".join(latest + e.aliases) or "-", s.get("task", "?"), s.get("head", "?"),
            modalities_cell(s), headline_metrics(s.get("metrics", {})) or "-",
            e.source if "error" not in s else f"{e.source} (BROKEN)",
        ))  # fmt: skip
    return rows


def modalities_cell(summary: dict[str, Any]) -> str:
    """The listing's modalities, then the model's dialogue context when it has one."""
    mods = ",".join(summary.get("modalities", [])) or "?"
    context = recorded_context({"context": summary.get("context")})
    return f"{mods} + {context}" if context else mods


def entry_details(e: ModelEntry) -> dict[str, Any]:
    """The entry's listing fields, its config.json (`config`) and its model card text (`card`)."""
    try:
        config = json.loads((e.path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise IntegrityError(f"{e.path / 'config.json'}: unreadable ({err})") from None
    card = e.path / "README.md"
    return {
        **e.as_dict(),
        "config": config,
        "card": card.read_text(encoding="utf-8") if card.is_file() else "",
    }


def format_details(details: dict[str, Any]) -> str:
    """`entry_details` for a reader: a summary block, then the model card."""
    config = details["config"]
    m = config.get("model", {})
    lines = [
        f"{details['ref']}  ({details['source']})",
        f"  path        {details['path']}",
        f"  aliases     {', '.join(details['aliases']) or '-'}{'  (latest)' if details['latest'] else ''}",
        f"  task        {m.get('task')}  head={m.get('head', {}).get('name')}",
        f"  labels      {', '.join(m.get('label_names', []))}",
    ]
    for s in m.get("modalities", []):
        fp = s.get("fingerprint") or {}
        source = fp.get("model") or fp.get("source") or "?"
        lines.append(f"  modality    {s.get('name')} dim={s.get('dim')} from {source}")
    lines.append(f"  fusion      {json.dumps(m.get('fusion', {}))}")
    context = recorded_context(m)
    if context:
        lines.append(f"  context     {context}")
    for split, k, v in metric_rows(config.get("metrics")):
        lines.append(f"  metric      {f'{split}.' if split else ''}{k} = {v}")
    lines.append(
        f"  created     {config.get('created')}  sseft {config.get('packages', {}).get('sseft', '?')}"
    )
    if details["card"]:
        lines += ["", details["card"].rstrip()]
    return "\n".join(lines)
