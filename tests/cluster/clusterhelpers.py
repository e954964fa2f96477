"""Helpers for the cluster tests: two `accelerate launch` "machines" on this host, a learnable
tiny store, a content digest of a feature store, free ports (a unique module name for imports)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
ACCELERATE = Path(sys.executable).with_name("accelerate")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_learnable_store(root: Path, seed: int = 0) -> Path:
    """3 classes, 2 modalities; each item's frames carry a noisy label-dependent offset, so a tiny
    model learns it in a few epochs (test accuracy well above chance, not 100%)."""
    from sseft.core.features import FeatureStoreWriter, ModalityInfo
    from sseft.core.protocols import TaskInfo

    dims = {"text": 8, "speech": 6}
    g = torch.Generator().manual_seed(seed)
    infos = {m: ModalityInfo(dim=d, max_len=8, fingerprint={"source": "cluster-test", "seed": seed})
             for m, d in dims.items()}  # fmt: skip
    with FeatureStoreWriter(root, infos, TaskInfo(type="multiclass", label_names=("a", "b", "c"))) as w:
        for split, n in (("train", 96), ("valid", 25), ("test", 27)):
            for i in range(n):
                label = int(torch.randint(0, 3, (1,), generator=g))
                feats = {}
                for m, d in dims.items():
                    x = torch.randn(int(torch.randint(2, 9, (1,), generator=g)), d, generator=g)
                    x[:, label] += 1.5  # the cue: noisy in one frame, clear over the sequence
                    feats[m] = x
                w.add(f"{split}-{i:03d}", split, feats, label)
    return root


def write_train_config(path: Path, store: Path, batch_size: int, **train: Any) -> Path:
    """No dropout and no warm-up: then 2 processes x batch B train exactly as 1 process x batch 2B
    (the same items per optimizer step, gradients averaged; the LR schedule counts the same steps)."""
    cfg = {
        "name": "multinode",
        "data": {"store": str(store)},
        "fusion": {"n_self": 1, "n_ima": 1, "heads": 2, "ffn_dim": 16, "dropout": 0.0, "attn_dropout": 0.0},
        "head": {"name": "multiclass", "config": {"dropout": 0.0}},
        "train": {"epochs": 5, "batch_size": batch_size, "lr": 3e-2, "warmup_ratio": 0.0, "seed": 5,
                  "num_threads": 1, **train},
    }  # fmt: skip
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def machine_command(rank: int, port: int, args: list[str]) -> list[str]:
    """`accelerate launch` for machine `rank` of 2 (one process each, gloo on the CPU)."""
    return [str(ACCELERATE), "launch", "--multi_gpu", "--num_machines", "2", "--num_processes", "2",
            "--machine_rank", str(rank), "--main_process_ip", "127.0.0.1", "--main_process_port", str(port),
            "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "sseft", *args]  # fmt: skip


class Machines:
    """Two launchers started together (each in its own session, like two hosts)."""

    def __init__(self, args: list[str], logs: Path, env: dict[str, str] | None = None) -> None:
        port = free_port()
        logs.mkdir(parents=True, exist_ok=True)
        self.logs = [logs / f"machine-{r}.log" for r in (0, 1)]
        self.procs = [
            subprocess.Popen(
                machine_command(r, port, args),
                env={**ENV, **(env or {})},
                start_new_session=True,
                stdout=self.logs[r].open("w"),
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            for r in (0, 1)
        ]

    def wait(self, timeout: float = 240) -> list[int]:
        deadline = time.time() + timeout
        try:
            return [p.wait(timeout=max(1.0, deadline - time.time())) for p in self.procs]
        finally:
            self.stop()

    def output(self, rank: int) -> str:
        return self.logs[rank].read_text(errors="replace")

    def lose(self, rank: int) -> None:
        """The machine goes away: its launcher and the worker it started (torchrun starts workers in
        their own session, so the launcher's group does not reach them) are killed at once."""
        launcher = self.procs[rank]
        kill([*children(launcher.pid), launcher.pid])

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                kill([*children(p.pid), p.pid])
                p.wait()


def kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def store_digest(root: Path) -> str:
    """sha256 over what a feature store holds, independent of how many writers cut it into shards:
    the index header (task, modalities, fingerprints) and, per split in order, every item's id,
    label, lengths and each modality's tensor bytes (dtype and shape included)."""
    from sseft.core.features import FeatureStore

    store = FeatureStore.open(root)
    index = json.loads((root / "index.json").read_text())
    h = hashlib.sha256()
    header = {k: v for k, v in index.items() if k not in ("shards", "splits", "created", "updated")}
    h.update(json.dumps(header, sort_keys=True).encode())
    for split in sorted(store.splits):
        for item_id, label in zip(store.ids(split), store.labels(split), strict=True):
            h.update(json.dumps([split, item_id, label]).encode())
            feats = store.get(item_id)["features"]
            for m in sorted(feats):
                t = feats[m].contiguous()
                h.update(f"{m}:{t.dtype}:{tuple(t.shape)}".encode())
                h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def file_digests(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (relative path -> hex), for reports."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip
