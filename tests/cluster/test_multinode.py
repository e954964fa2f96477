"""Two "machines" on this host: `accelerate launch --num_machines 2 --machine_rank 0|1` (one gloo process
each, rendezvous on 127.0.0.1) for training and extraction; one machine lost mid-run, then --resume."""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from clusterhelpers import ACCELERATE, ENV, Machines, store_digest, write_learnable_store, write_train_config

from sseft.cli.main import cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ACCELERATE.exists(), reason="the accelerate launcher is not installed"),
]

# The same optimizer steps in every run (1 x 16 or 2 x 8 items): a checkpoint every 3 steps, so
# a run lost mid-way has a recent one; 5 epochs x 6 steps.
TRAIN = {"checkpoint_every": 3, "keep_checkpoints": 2}
TIMEOUT_S = 20  # SSEFT_DIST_TIMEOUT in these runs: the survivor must stop well before this


def store_files(root: Path) -> dict[str, bytes]:
    """Every file of a store by relative path (hidden ones included)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def metrics(run: Path) -> dict:
    return json.loads((run / "test_metrics.json").read_text())


def test_two_machines_train_like_one_process_and_resume_after_losing_one(tmp_path: Path) -> None:
    store = write_learnable_store(tmp_path / "store")
    one_cfg = write_train_config(tmp_path / "one.yaml", store, 16, **TRAIN)
    two_cfg = write_train_config(tmp_path / "two.yaml", store, 8, **TRAIN)
    res = CliRunner().invoke(
        cli, ["train", str(one_cfg), "--output-dir", str(tmp_path / "one"), "--no-export"]
    )
    assert res.exit_code == 0, res.output
    one = metrics(tmp_path / "one")
    assert one["accuracy"] > 0.5  # learned (3 classes): equal metrics below are not two constant models

    env = {"SSEFT_DIST_TIMEOUT": str(TIMEOUT_S)}
    two_run = tmp_path / "two"
    two = Machines(
        ["train", str(two_cfg), "--output-dir", str(two_run), "--no-export"], tmp_path / "logs2", env
    )
    assert two.wait() == [0, 0], two.output(0)[-3000:] + two.output(1)[-3000:]
    summary = json.loads((two_run / "summary.json").read_text())
    assert summary["world_size"] == 2
    got = metrics(two_run)
    print(
        f"\n1 process x 16: {json.dumps({k: one[k] for k in ('accuracy', 'weighted_f1', 'macro_f1', 'loss')})}"
    )
    print(
        f"2 machines x 8: {json.dumps({k: got[k] for k in ('accuracy', 'weighted_f1', 'macro_f1', 'loss')})}"
    )
    assert got["n_items"] == one["n_items"] == 27 and got["best_epoch"] == one["best_epoch"]
    for k in ("accuracy", "weighted_f1", "macro_f1"):  # the tolerance of the one-host 2-process test
        assert got[k] == one[k], k
    assert got["loss"] == pytest.approx(one["loss"], rel=1e-5)

    # Machine 1 is lost after the first checkpoint: machine 0 stops with one line, well within the timeout.
    lost_run = tmp_path / "lost"
    args = ["train", str(two_cfg), "--output-dir", str(lost_run), "--no-export"]
    m = Machines(args, tmp_path / "logs-lost", env)
    ckpts = lost_run / "checkpoints"
    deadline = time.time() + 180
    while time.time() < deadline and not list(ckpts.glob("ckpt-*")):
        assert m.procs[0].poll() is None and m.procs[1].poll() is None, m.output(0)[-3000:]
        time.sleep(0.02)
    assert list(ckpts.glob("ckpt-*")), "no checkpoint within 180 s"
    m.lose(1)
    t0 = time.time()
    rc = m.procs[0].wait(timeout=TIMEOUT_S + 60)
    waited = time.time() - t0
    m.stop()
    out = m.output(0)
    assert rc != 0 and not (lost_run / "test_metrics.json").exists(), out[-3000:]
    lines = [x for x in out.splitlines() if "error: process 0 of 2: another process of this job stopped" in x]
    assert len(lines) == 1, out[-4000:]
    assert "[rank0]: Traceback" not in out and "--resume" in lines[0]
    assert waited < TIMEOUT_S + 15, waited
    print(f"machine 1 lost; machine 0 stopped after {waited:.1f} s: {lines[0]}")
    from sseft.core.training.checkpoint import latest_checkpoint

    last = latest_checkpoint(ckpts)
    assert last is not None

    resumed = Machines([*args, "--resume"], tmp_path / "logs-resume", env)
    assert resumed.wait() == [0, 0], resumed.output(0)[-3000:] + resumed.output(1)[-3000:]
    assert f"resumed from {last.name}" in resumed.output(0)
    for f in ("metrics.jsonl", "test_metrics.json", "test_predictions.jsonl"):
        assert (lost_run / f).read_bytes() == (two_run / f).read_bytes(), f
    print(f"resumed from {last.name}: test metrics byte-identical to the uninterrupted 2-machine run")


def test_two_machines_extract_the_store_one_process_extracts(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "modalities"))
    import subprocess

    import media_factory as mf

    rob = mf.tiny_roberta(tmp_path / "rob")
    manifest = tmp_path / "m.csv"
    with manifest.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "split", "label", "text"])
        for i in range(14):
            words = " ".join(mf.WORDS[j % len(mf.WORDS)] for j in range(i, 2 * i + 3))
            w.writerow([f"u{i:02d}", ("train", "valid", "test")[i % 3], ("neg", "neu", "pos")[i % 3], words])
    args = ["extract", "--dataset", "manifest", "--root", str(manifest), "--modalities", "text",
            "--set", f"text.model={rob}", "--set", "dataset.label_names=[neg,neu,pos]", "--batch-size", "3",
            "--shard-size", "2", "--no-progress", "--threads", "1"]  # fmt: skip
    single = subprocess.run([sys.executable, "-m", "sseft", *args, "--out", str(tmp_path / "one")],
                            capture_output=True, text=True, env=ENV, timeout=180)  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    two = Machines([*args, "--out", str(tmp_path / "two")], tmp_path / "logs")
    assert two.wait() == [0, 0], two.output(0)[-3000:] + two.output(1)[-3000:]
    assert "2 process(es)" in two.output(0)
    a, b = store_digest(tmp_path / "one"), store_digest(tmp_path / "two")
    print(f"\nstore content sha256: 1 process {a}, 2 machines {b}")
    assert a == b
    # Byte-identical: the same files (sorted relative paths, hidden ones included), the same bytes.
    one, two = store_files(tmp_path / "one"), store_files(tmp_path / "two")
    assert sorted(one) == sorted(two)
    assert any(n.startswith("shards/") for n in one) and not any(n.startswith("partial/") for n in one)
    for name in sorted(one):
        assert one[name] == two[name], name
    print(f"{len(one)} files, byte-identical: {', '.join(sorted(one))}")
    from sseft.core.features import FeatureStore

    assert FeatureStore.open(tmp_path / "two").verify() == []
