"""The extraction engine prepares (decodes, resamples) the next batch in a background thread while
the encoder runs on the current one: extractors with a `prepare` stage get `Prepared` inputs, the
next batch's `prepare` overlaps the current forward pass, a failing `prepare` fails its item alone,
and batches that a resumed job skips are never prepared."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from pydantic import BaseModel

from sseft.core.errors import DataError
from sseft.core.extraction import engine
from sseft.core.protocols import Extracted, Item, Prepared, TaskInfo

TASK = TaskInfo("multiclass", ("a", "b"))


class Cfg(BaseModel):
    width: int = 3


class Plugin:
    name = "probe"
    provides_cls = False
    max_len = 50


class Probe:
    """prepare: "n" -> Prepared(n); __call__ waits (up to 2 s) to see the next batch's prepare start."""

    dim = 3

    def __init__(self) -> None:
        self.prepared: list[tuple[str, str]] = []  # (raw, thread name)
        self.calls: list[list[str]] = []
        self.overlapped: list[bool] = []
        self.started = threading.Condition()

    def fingerprint(self) -> dict:
        return {"model": "probe"}

    def prepare(self, raw: str) -> Prepared:
        if raw == "bad":
            raise DataError("bad: cannot decode")
        with self.started:
            self.prepared.append((raw, threading.current_thread().name))
            self.started.notify_all()
        return Prepared(int(raw), {"prepared": True})

    def __call__(self, raw):  # type: ignore[no-untyped-def]
        done = len(self.prepared)
        with self.started:  # the next batch's prepare should start while we "compute"
            seen = self.started.wait_for(lambda: len(self.prepared) > done, timeout=2.0)
        self.overlapped.append(seen)
        ps = [r if isinstance(r, Prepared) else self.prepare(r) for r in raw]
        self.calls.append([type(r).__name__ for r in raw])
        return [Extracted(torch.full((p.value, 3), float(p.value)), p.notes) for p in ps]


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raws: list[str], *, prefetch: bool, out: str = "s"):
    probe = Probe()

    def build(modalities, items, device):  # type: ignore[no-untyped-def]
        return {"probe": probe}, {"probe": engine.modality_info(Plugin(), probe, Cfg())}

    monkeypatch.setattr(engine, "build_extractors", build)
    items = [Item(f"i{k:02d}", "train", k % 2, {"probe": r}) for k, r in enumerate(raws)]
    summary = engine.extract_items(
        items, TASK, {"probe": {}}, tmp_path / out, batch_size=2, progress=False, threads=1,
        sort_by_length=False, prefetch=prefetch,
    )  # fmt: skip
    return probe, summary


def test_next_batch_is_prepared_in_a_thread_while_this_one_runs(tmp_path, monkeypatch) -> None:
    probe, summary = run(tmp_path, monkeypatch, ["1", "2", "3", "4", "5", "6"], prefetch=True)
    assert summary.done == 6
    assert all(name.startswith("sseft-prepare") for _, name in probe.prepared)
    assert probe.calls == [["Prepared", "Prepared"]] * 3
    assert probe.overlapped == [True, True, False]  # the last batch has no next one


def test_without_prefetch_the_extractor_prepares_inline(tmp_path, monkeypatch) -> None:
    probe, summary = run(tmp_path, monkeypatch, ["1", "2", "3", "4"], prefetch=False)
    assert summary.done == 4
    assert {name for _, name in probe.prepared} == {threading.main_thread().name}
    assert probe.calls == [["str", "str"]] * 2 and not any(probe.overlapped)


def test_a_failing_prepare_fails_its_item_alone(tmp_path, monkeypatch) -> None:
    from sseft.core.features import FeatureStore

    probe, summary = run(tmp_path, monkeypatch, ["1", "bad", "3", "4"], prefetch=True)
    assert summary.done == 3 and summary.failed == 1
    assert probe.calls[0] == ["Prepared"]  # the bad item never reached the encoder
    store = FeatureStore.open(tmp_path / "s")
    assert sorted(store.ids("train")) == ["i00", "i02", "i03"]
    assert all(m["extract"]["probe"] == {"prepared": True} for m in store.meta("train"))
    assert "bad: cannot decode" in (tmp_path / "s" / "failures.jsonl").read_text()


def test_a_resumed_job_prepares_only_batches_with_work(tmp_path, monkeypatch) -> None:
    run(tmp_path, monkeypatch, ["1", "2", "3", "4"], prefetch=True)  # the first 4 items are stored
    probe, summary = run(tmp_path, monkeypatch, ["1", "2", "3", "4", "5", "6"], prefetch=True)
    assert summary.skipped == 4 and summary.done == 2
    assert sorted(raw for raw, _ in probe.prepared) == ["5", "6"]


@pytest.mark.parametrize(("flags", "expected"), [([], True), (["--no-prefetch"], False)])
def test_cli_no_prefetch_reaches_the_engine(tmp_path, monkeypatch, flags, expected) -> None:
    from click.testing import CliRunner

    from sseft.cli.main import cli

    seen: dict = {}
    real = engine.extract_items

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "extract_items", spy)
    args = [
        "extract",
        "--dataset",
        "synthetic",
        "--set",
        "n_train=4",
        "--set",
        "n_valid=2",
        "--set",
        "n_test=2",
    ]
    r = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "s"), "--no-progress", *flags])
    assert r.exit_code == 0, r.output
    assert seen["prefetch"] is expected
