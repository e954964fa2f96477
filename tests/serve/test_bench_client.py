"""bench/serve.py's raw-socket keep-alive client reads every answer whole and in order: small and
large bodies (spread over many reads) and error statuses, on one connection."""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_serve", REPO / "bench" / "serve.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echoes the JSON body's `n` as a body of n bytes; n < 0 answers 503."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    n = int(json.loads(body)["n"])
    status, out = (503, b'{"error":"busy"}') if n < 0 else (200, b"x" * n)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": out})


def test_the_keep_alive_client_reads_each_answer_whole() -> None:
    import uvicorn

    from sseft.serve.transport import OneSendHTTP

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = uvicorn.Config(
        _app, host="127.0.0.1", port=port, log_level="warning", http=OneSendHTTP, lifespan="off"
    )
    server = uvicorn.Server(cfg)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    client = _bench().KeepAlive("127.0.0.1", port, timeout=10)
    try:
        for n in (5, 300_000, 0, -1, 17):  # 300 kB: many reads, past the transport's 64 KiB flush
            status, body = client.post_json("/p", json.dumps({"n": n}).encode())
            if n < 0:
                assert (status, body) == (503, b'{"error":"busy"}')
            else:
                assert (status, body) == (200, b"x" * n)
    finally:
        client.close()
        server.should_exit = True
        thread.join(10)
