"""`sseft serve` as a user starts it: a real uvicorn on 127.0.0.1 with two worker processes, 16
concurrent clients (bounded in count and time) whose every answer is checked against the in-process
prediction, and 20 uploads cut off mid-body over real sockets leaving the upload folder unchanged."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from . import tiny_models as tm

pytestmark = pytest.mark.slow
CLIENTS, PER_CLIENT, DEADLINE_S = 16, 5, 120
TEXTS = ["hello world", "this is a test", "the tiny tokenizer", "speech text face fusion", "of the sseft"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(served_home: tm.Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    import httpx

    uploads = tmp_path_factory.mktemp("uvicorn_uploads")
    port = _free_port()
    env = {**os.environ, "SSEFT_HOME": str(served_home.home), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "sseft", "serve", "tiny-text", "--port", str(port), "--workers", "2",
           "--tmp-dir", str(uploads), "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "server exited"
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("sseft serve did not become ready within 120 s")
        yield url, uploads
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_concurrent_clients_all_get_the_right_answer(
    server: tuple[str, Path], served_home: tm.Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    import sseft

    url, _ = server
    monkeypatch.setenv("SSEFT_HOME", str(served_home.home))
    predictor = sseft.load("tiny-text").predictor()
    expected = {
        t: p.probabilities
        for t, p in zip(TEXTS, predictor.predict_items([{"text": t} for t in TEXTS]), strict=True)
    }
    start = time.monotonic()

    def client(k: int) -> list[tuple[str, int, dict[str, float]]]:
        out = []
        with httpx.Client(base_url=url, timeout=60) as c:
            for j in range(PER_CLIENT):
                text = TEXTS[(k + j) % len(TEXTS)]
                r = c.post("/v1/models/tiny-text/predict", json={"text": text})
                out.append((text, r.status_code, r.json().get("probabilities", {})))
        return out

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = [a for batch in pool.map(client, range(CLIENTS)) for a in batch]
    assert time.monotonic() - start < DEADLINE_S
    assert len(answers) == CLIENTS * PER_CLIENT
    for text, status, probs in answers:
        assert status == 200
        assert probs.keys() == expected[text].keys()
        assert all(abs(probs[k] - v) < 1e-5 for k, v in expected[text].items()), (
            text,
            probs,
        )  # batched == one by one


def test_uploads_cut_off_mid_body_leave_nothing_behind(
    server: tuple[str, Path], clip: dict[str, str]
) -> None:
    url, uploads = server
    port = int(url.rsplit(":", 1)[1])
    before = sorted(p.name for p in uploads.iterdir())
    video = Path(clip["video"]).read_bytes() * 20  # big enough to arrive in several reads
    b = "cutoffboundary"
    body = (
        (
            f'--{b}\r\nContent-Disposition: form-data; name="text"\r\n\r\nhello\r\n'
            f'--{b}\r\nContent-Disposition: form-data; name="video"; filename="c.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
        ).encode()
        + video
        + f"\r\n--{b}--\r\n".encode()
    )
    head = (
        f"POST /v1/models/tiny-text/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary={b}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    for k in range(20):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(head + body[: int(len(body) * (0.05 + 0.9 * k / 19))])
            time.sleep(0.02)
        # the socket closes here, mid-body
    time.sleep(1.0)  # let the workers notice the disconnects and clean up
    import httpx

    assert httpx.get(url + "/healthz").status_code == 200
    assert sorted(p.name for p in uploads.iterdir()) == before
