"""What the registry stores besides artifacts: entries for listings, file copies,
and the sweep of staging leftovers. No torch, no model code.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from sseft.core.errors import IntegrityError
from sseft.core.head import is_number

from .integrity import CHECKSUMS, read_checksums


def registry_root() -> Path:
    """$SSEFT_HOME, else the user's cache directory (e.g. ~/.cache/sseft). Nothing is created."""
    env = os.environ.get("SSEFT_HOME", "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("sseft", appauthor=False))


@dataclass
class ModelEntry:
    """One listed model version (or a plugin-shipped artifact, with version None)."""

    name: str
    version: int | None
    path: Path
    source: str = "local"
    aliases: list[str] = field(default_factory=list)
    latest: bool = False
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "aliases": self.aliases,
            "latest": self.latest,
            "source": self.source,
            "path": str(self.path),
            **self.summary,
        }


def summary_of(path: Path) -> dict[str, Any]:
    """A few config.json fields for listings; never raises (a broken artifact shows its error)."""
    try:
        data = json.loads((path / "config.json").read_text(encoding="utf-8"))
        m = data["model"]
        return {
            "task": m["task"],
            "head": m["head"]["name"],
            "modalities": [s["name"] for s in m["modalities"]],
            "context": m.get("context"),  # dialogue context (None: each utterance alone)
            "label_names": m["label_names"],
            "metrics": data.get("metrics", {}),
            "created": data.get("created"),
        }
    except Exception as e:
        return {"error": f"unreadable config.json: {type(e).__name__}: {e}"}


def copy_artifact_files(src: Path, dest: Path) -> None:
    """Copy exactly the files an artifact's checksum list names, plus the list itself."""
    for name in [*read_checksums(src), CHECKSUMS]:
        if not (src / name).is_file():
            raise IntegrityError(
                f"{src / name}: listed in {CHECKSUMS} but missing; the artifact is incomplete"
            )
        shutil.copyfile(src / name, dest / name)


def sweep_staging(staging_root: Path) -> list[Path]:
    """Remove staging dirs (and lock files) whose lock is free: their publisher (or rm) is gone."""
    removed: list[Path] = []
    if staging_root.is_dir():
        for p in sorted(staging_root.iterdir()):
            if p.suffix == ".lock":
                continue
            lock_path = staging_root / f"{p.name}.lock"
            try:
                with FileLock(str(lock_path), timeout=0):  # free lock: its publisher is gone
                    if p.is_dir():
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        p.unlink(missing_ok=True)
                    lock_path.unlink(missing_ok=True)
                    removed.append(p)
            except Timeout:
                continue  # a live publisher
        for p in sorted(staging_root.glob("*.lock")):
            if not (staging_root / p.stem).exists():
                try:
                    with FileLock(str(p), timeout=0):
                        p.unlink(missing_ok=True)
                        removed.append(p)
                except Timeout:
                    continue
    return removed


def metric_rows(metrics: Any) -> list[tuple[str, str, Any]]:
    """(split, metric, value) for every number an artifact records: metrics are either flat
    ({"weighted_f1": 0.61}: split "") or grouped by split ({"test": {"accuracy": 0.9}, ...})."""
    rows: list[tuple[str, str, Any]] = []
    for k, v in (metrics or {}).items() if isinstance(metrics, dict) else []:
        if isinstance(v, dict):
            rows += [(str(k), str(m), x) for m, x in v.items() if is_number(x)]
        elif is_number(v):
            rows.append(("", str(k), v))
    return rows


def headline_metrics(metrics: Any, n: int = 3) -> str:
    """A few metrics for one listing line: real-valued ones, the test split's first."""
    rows = [r for r in metric_rows(metrics) if isinstance(r[2], float)]
    rows.sort(key=lambda r: (r[0] not in ("", "test"), r[0]))
    return " ".join(f"{m if s in ('', 'test') else f'{s}.{m}'}={v:.4g}" for s, m, v in rows[:n])
