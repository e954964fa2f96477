"""`sseft serve` under load, on 127.0.0.1 only: p50 / p95 / p99 latency and throughput at 1, 4 and
16 concurrent clients, for a text-only model and a `lite` multimodal model (MiniLM text, eGeMAPS
speech, MTCNN + FER face), against the in-process predictor called one by one (the floor) and the
same service with batching off (--max-batch 1; batching on: --max-batch 8 --max-wait-ms 0, continuous
batching).

    python bench/serve.py                                   # builds both models (a few minutes), then measures
    python bench/serve.py --requests 16 --media-requests 4  # a small run that proves it works
    python bench/serve.py --text-model my-text --media-model my-lite   # your registered models

Targets: service overhead <= 10% of the floor's p50 at 1 client; throughput at 16 clients >= 1.5x
the one-by-one floor for the text model. Every request is checked (status 200, a label); the run is
bounded by the request counts and a per-request timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

MAX_BATCH = 8  # the service's default --max-batch
TEXTS = ["what a wonderful day", "I can't believe you did that", "leave me alone", "this is fine, I guess",
         "oh my god, you got the job", "we lost everything", "see you tomorrow then", "that is disgusting"]  # fmt: skip


def sseft(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "sseft", *args], check=True, env=env, stdout=subprocess.DEVNULL)


def write_clips(d: Path, n: int = 12) -> list[Path]:
    """`n` one-frame clips of a real face photo (scikit-image's public-domain astronaut, which the lite
    face detector finds) with a hummed tone, high or low, and a manifest items.csv (as docs/quickstart.md)."""
    import av
    import numpy as np
    from skimage import data

    face = np.ascontiguousarray(data.astronaut()[::2, ::2])
    d.mkdir(parents=True, exist_ok=True)
    rows, paths = ["id,split,label,text,video"], []
    splits = ["train", "train", "valid", "test"] * (n // 4)
    for k, split in enumerate(splits):
        label, pitch = ("positive", 220) if k % 2 else ("negative", 110)
        with av.open(str(d / f"c{k}.mp4"), "w") as clip:
            video, audio = clip.add_stream("mpeg4", rate=5), clip.add_stream("aac", rate=16000, layout="mono")
            video.width = video.height = 256
            for packet in [*video.encode(av.VideoFrame.from_ndarray(face)), *video.encode()]:
                clip.mux(packet)
            t = np.arange(8000) / 16000
            tone = sum(np.sin(2 * np.pi * h * pitch * t) / h for h in range(1, 6)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(0.3 * tone[None], format="fltp", layout="mono")
            frame.sample_rate = 16000
            for packet in [*audio.encode(frame), *audio.encode(None)]:
                clip.mux(packet)
        rows.append(f'c{k},{split},{label},"{TEXTS[k % len(TEXTS)]}",c{k}.mp4')
        paths.append(d / f"c{k}.mp4")
    (d / "items.csv").write_text("\n".join(rows) + "\n")
    return paths


def build(root: Path, env: dict[str, str], media: bool) -> tuple[str, str | None, Path]:
    """Clips, then a text-only model (MiniLM) and a lite model, registered as bench-text / bench-lite."""
    clips = root / "clips"
    write_clips(clips)
    common = [
        "--dataset",
        "manifest",
        "--root",
        str(clips / "items.csv"),
        "--set",
        "label_names=[negative,positive]",
        "--no-progress",
    ]
    sseft(
        "extract",
        *common,
        "--modalities",
        "text",
        "--set",
        "text.model=minilm-offline",
        "--out",
        str(root / "text"),
        env=env,
    )
    cfg = root / "text.yaml"
    cfg.write_text(yaml.safe_dump({
        "name": "bench-text", "data": {"store": str(root / "text")}, "modalities": [{"name": "text", "prepend_cls": "always"}],
        "fusion": {"n_self": 1, "n_ima": 1, "heads": 4, "ffn_dim": 256, "dropout": 0.1, "attn_dropout": 0.0},
        "head": {"name": "multiclass"}, "train": {"epochs": 2, "batch_size": 8, "lr": 3e-4},
    }))  # fmt: skip
    sseft("train", str(cfg), "--output-dir", str(root / "runs" / "text"), "--register", "bench-text", env=env)
    if not media:
        return "bench-text", None, clips
    lite = Path(__file__).resolve().parents[1] / "configs" / "lite.yaml"
    sseft("extract", *common, "--preset", "lite", "--out", str(root / "lite"), env=env)
    sseft(
        "train",
        str(lite),
        "--set",
        f"data.store={root / 'lite'}",
        "--set",
        "train.epochs=2",
        "--output-dir",
        str(root / "runs" / "lite"),
        "--register",
        "bench-lite",
        env=env,
    )
    return "bench-text", "bench-lite", clips


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def row(model: str, mode: str, clients: int, lat: list[float], wall: float) -> dict[str, Any]:
    return {"model": model, "mode": mode, "clients": clients, "n": len(lat), "p50": pct(lat, 50) * 1000,
            "p95": pct(lat, 95) * 1000, "p99": pct(lat, 99) * 1000, "rps": len(lat) / wall}  # fmt: skip


class Floor:
    """The in-process predictor, one item per call (the same call the service makes per batch),
    from one worker thread as the service's batcher calls it (torch on the main thread of a loaded
    2-core machine spins its OpenMP team and ran ~30x slower here). Loaded once; `run(n)` times n
    calls and keeps every latency and the wall time for the floor's row."""

    def __init__(self, ref: str, items: list[dict[str, Any]], env: dict[str, str]) -> None:
        self.items, self.wall = items, 0.0
        self.lat: list[float] = []
        self.worker = ThreadPoolExecutor(1)
        self.worker.submit(self._load, ref, env).result()

    def _load(self, ref: str, env: dict[str, str]) -> None:
        os.environ["SSEFT_HOME"] = env["SSEFT_HOME"]
        import torch

        import sseft as api

        torch.set_num_threads(int(env["OMP_NUM_THREADS"]))  # the same torch threads as the servers'
        self.predictor = api.load(ref).predictor()
        for it in self.items[:3]:
            self.predictor.predict_items([it], contributions=True)

    def run(self, n: int, start: int = 0, keep: bool = True) -> list[float]:
        lat, wall = self.worker.submit(self._run, n, start).result()
        if keep:
            self.lat += lat
            self.wall += wall
        return lat

    def _run(self, n: int, start: int) -> tuple[list[float], float]:
        lat = []
        t0 = time.perf_counter()
        for k in range(start, start + n):
            t = time.perf_counter()
            (res,) = self.predictor.predict_items([self.items[k % len(self.items)]], contributions=True)
            lat.append(time.perf_counter() - t)
            assert hasattr(res, "label"), res
        return lat, time.perf_counter() - t0

    def close(self) -> None:
        self.worker.shutdown()


class Server:
    def __init__(self, ref: str, env: dict[str, str], batching: bool) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        # Both modes name their batcher settings, so the table says what was measured whatever the
        # CLI defaults become: continuous batching (an idle worker runs what is queued at once), or off.
        extra = ["--max-batch", str(MAX_BATCH) if batching else "1", "--max-wait-ms", "0"]
        cmd = [sys.executable, "-m", "sseft", "serve", ref, "--host", "127.0.0.1", "--port", str(self.port),
               "--log-level", "warning", "--max-queue", "256", *extra]  # fmt: skip
        self.proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        import httpx

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("sseft serve exited before it was ready")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("sseft serve was not ready within 300 s")

    def __exit__(self, *exc: object) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


class KeepAlive:
    """The least a client can cost: one keep-alive HTTP/1.1 connection on a raw socket, a JSON POST
    written in one send, the answer read by its Content-Length (what a C load generator does). The
    floor pays no client at all; http.client parses each answer's headers with the email package and
    httpx costs several times more, and on a 2-core machine that CPU is charged to the service."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host, self.buf = host, b""

    def post_json(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        self.sock.sendall(head.encode() + body)
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = next(
            (
                int(v)
                for k, _, v in (h.partition(b":") for h in lines[1:])
                if k.strip().lower() == b"content-length"
            ),
            None,
        )
        if length is None:
            raise RuntimeError(f"answer without Content-Length (status {status}): {raw[:200]!r}")
        while len(self.buf) < length:
            self._recv()
        out, self.buf = self.buf[:length], self.buf[length:]
        return status, out

    def _recv(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        self.buf += chunk

    def close(self) -> None:
        self.sock.close()


def connect(url: str, media: bool) -> Any:
    """One client's keep-alive connection: `KeepAlive` for JSON text, httpx for media uploads."""
    import httpx

    if media:
        return httpx.Client(base_url=url, timeout=120)
    split = urlsplit(url)
    return KeepAlive(split.hostname or "127.0.0.1", split.port or 80, timeout=120)


def ask(c: Any, path: str, item: dict[str, Any]) -> float:
    """One predict request; its latency (the answer checked: 200 and a label)."""
    t = time.perf_counter()
    if "video" in item:
        with open(item["video"], "rb") as f:
            r = c.post(path, files={"video": ("clip.mp4", f, "video/mp4")}, data={"text": item["text"]})
        status, body = r.status_code, r.content
    else:
        status, body = c.post_json(path, json.dumps({"text": item["text"]}).encode())
    took = time.perf_counter() - t
    assert status == 200 and json.loads(body)["label"], body
    return took


def load(
    url: str, name: str, items: list[dict[str, Any]], clients: int, total: int
) -> tuple[list[float], float]:
    """`total` requests over `clients` threads (each its own keep-alive connection); every answer
    checked. Text requests go through `KeepAlive` (a raw socket: the cheapest client, see there),
    media uploads (multipart) through httpx (their ~100 ms predictions dwarf its cost)."""
    path = f"/v1/models/{name}/predict"
    media = any("video" in it for it in items)
    per = [total // clients + (1 if k < total % clients else 0) for k in range(clients)]

    def client(k: int) -> list[float]:
        c = connect(url, media)
        try:
            ask(c, path, items[k % len(items)])  # connection + first-request warm-up, not timed
            return [ask(c, path, items[(k + j) % len(items)]) for j in range(per[k])]
        finally:
            c.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lat = [x for xs in pool.map(client, range(clients)) for x in xs]
    return lat, time.perf_counter() - t0


def paired(
    url: str, name: str, items: list[dict[str, Any]], total: int, floor: Floor, block: int = 10
) -> tuple[list[float], float, list[float]]:
    """One client, `total` requests in blocks of `block`, each block right after as many floor calls
    (kept apart from the floor's row): on a shared machine both sides then see the same load, where
    the floor's before/after halves are minutes away. Service latencies, their wall time and the
    interleaved floor latencies."""
    path = f"/v1/models/{name}/predict"
    c = connect(url, any("video" in it for it in items))
    lat: list[float] = []
    beside: list[float] = []
    wall = 0.0
    try:
        ask(c, path, items[0])  # connection + first-request warm-up, not timed
        for k in range(0, total, block):
            m = min(block, total - k)
            beside += floor.run(m, k, keep=False)
            t0 = time.perf_counter()
            lat += [ask(c, path, items[(k + j) % len(items)]) for j in range(m)]
            wall += time.perf_counter() - t0
    finally:
        c.close()
    return lat, wall, beside


def batch_stats(url: str, name: str) -> dict[str, Any]:
    """The service's batcher counters (GET /readyz), to tell how full the batches were."""
    import httpx

    return dict(httpx.get(url + "/readyz", timeout=10).json()["models"].get(name, {}))


def measure(
    ref: str, items: list[dict[str, Any]], n: int, clients: list[int], env: dict[str, str]
) -> list[dict[str, Any]]:
    # The floor runs before and after the services and counts both halves: on a shared machine the
    # load drifts, and a floor taken once would favour whichever side ran in the quieter minute. The
    # 1-client level is also taken paired with floor blocks (see `paired`).
    fl = Floor(ref, items, env)
    try:
        fl.run(max(1, n // 2))
        rows: list[dict[str, Any]] = []
        name = ref.split("@")[0]
        for batching in (True, False):
            with Server(ref, env, batching) as srv:
                for c in clients:
                    before = batch_stats(srv.url, name)
                    beside: list[float] = []
                    if c == 1:
                        lat, wall, beside = paired(srv.url, name, items, n, fl)
                    else:
                        lat, wall = load(srv.url, name, items, c, max(n, c))
                    after = batch_stats(srv.url, name)
                    r = row(ref, "service, batching" if batching else "service, batching off", c, lat, wall)
                    done = after.get("batches", 0) - before.get("batches", 0)
                    r["batch"] = (after.get("items", 0) - before.get("items", 0)) / done if done else 0.0
                    if beside:
                        r["floor_beside_p50"] = pct(beside, 50) * 1000
                    rows.append(r)
        fl.run(max(1, n - n // 2))
        rows.insert(0, row(ref, "in-process floor", 1, fl.lat, fl.wall))
    finally:
        fl.close()
    return rows


def report(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'model':<12} {'mode':<22} {'clients':>7} {'n':>5} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'req/s':>8} {'batch':>6}"
    )
    for r in rows:
        print(
            f"{r['model']:<12} {r['mode']:<22} {r['clients']:>7} {r['n']:>5} {r['p50']:>9.1f} {r['p95']:>9.1f} {r['p99']:>9.1f} {r['rps']:>8.2f} {r.get('batch', 1.0):>6.2f}"
        )
    for model in dict.fromkeys(r["model"] for r in rows):
        f = next(r for r in rows if r["model"] == model and r["mode"] == "in-process floor")
        on = {r["clients"]: r for r in rows if r["model"] == model and r["mode"] == "service, batching"}
        off = {r["clients"]: r for r in rows if r["model"] == model and r["mode"] == "service, batching off"}
        print(f"\n{model}:")
        if 1 in on:
            over = (on[1]["p50"] - f["p50"]) / f["p50"]
            print(
                f"  service overhead at 1 client: {over:+.1%} of the floor's p50 ({on[1]['p50']:.1f} vs {f['p50']:.1f} ms; target <= +10%)"
            )
            if "floor_beside_p50" in on[1]:
                side = on[1]["floor_beside_p50"]
                print(
                    f"    paired (blocks of up to 10 requests, each right after as many floor calls): {(on[1]['p50'] - side) / side:+.1%} "
                    f"({on[1]['p50']:.1f} vs {side:.1f} ms)"
                )
        top = max(on)
        print(f"  throughput at {top} clients: {on[top]['rps'] / f['rps']:.2f}x the one-by-one floor with batching "
              f"({off[top]['rps'] / f['rps']:.2f}x without; target >= 1.5x for the text model)")  # fmt: skip
        print(f"  batching vs batching off at {top} clients: {on[top]['rps'] / off[top]['rps']:.2f}x throughput, "
              f"p95 {on[top]['p95']:.0f} vs {off[top]['p95']:.0f} ms")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200, help="Requests per level for the text model.")
    ap.add_argument("--media-requests", type=int, default=32, help="Requests per level for the lite model.")
    ap.add_argument("--clients", default="1,4,16", help="Concurrent clients per level.")
    ap.add_argument("--text-model", help="A registered text-only model (default: build bench-text).")
    ap.add_argument("--media-model", help="A registered multimodal model (default: build bench-lite).")
    ap.add_argument("--skip-media", action="store_true", help="Only the text model.")
    ap.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads for the floor and each server process (default: torch's default here).",
    )
    ap.add_argument("--home", type=Path, help="SSEFT_HOME for the built models (default: a temp dir).")
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    root = Path(tempfile.mkdtemp(prefix="sseft-bench-serve-"))
    home = args.home or root / "home"
    env = {**os.environ, "SSEFT_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if not args.threads:  # torch's own default, made explicit so the floor and the servers share it
        import torch

        args.threads = torch.get_num_threads()
    env["OMP_NUM_THREADS"] = str(args.threads)
    text_ref, media_ref = args.text_model, args.media_model
    clips = root / "clips"
    if text_ref is None or (media_ref is None and not args.skip_media):
        t0 = time.perf_counter()
        built = build(root, env, media=not args.skip_media and media_ref is None)
        text_ref, media_ref, clips = text_ref or built[0], media_ref or built[1], built[2]
        print(f"built the models in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    rows = measure(text_ref, [{"text": t} for t in TEXTS], args.requests, clients, env)
    if media_ref and not args.skip_media:
        paths = sorted(clips.glob("*.mp4"))[:4] or write_clips(clips)[:4]
        media = [{"video": str(p), "text": TEXTS[k % len(TEXTS)]} for k, p in enumerate(paths)]
        rows += measure(media_ref, media, args.media_requests, clients, env)
    print(
        f"\nsseft serve on 127.0.0.1, {os.cpu_count()} CPUs, torch threads per process (floor and each server): {args.threads}"
    )
    report(rows)


if __name__ == "__main__":
    main()
