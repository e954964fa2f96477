"""Bad input and safety: 413, one-line 422s naming the field, 404 with the closest names, no 500
with a traceback, the token, CORS off by default, request logs without media, and the upload folder
unchanged after 100 bad requests and 20 requests cut off mid-upload."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from . import tiny_models as tm


def _err(r: Any, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "request_id"} and "\n" not in body["error"]
    assert "Traceback" not in r.text
    return body["error"]


@pytest.fixture(scope="module")
def small_app(served_home: tm.Served, upload_dir: Path) -> Any:
    """Tight limits: 0.05 MiB bodies, 0.4 s clips, 20 characters of text."""
    return tm.load_app(
        served_home.home,
        ["tiny-text", "tiny-av"],
        tmp_dir=str(upload_dir),
        max_body_mb=0.05,
        max_seconds=0.4,
        max_text_chars=20,
    )


@pytest.fixture(scope="module")
def small(small_app: Any) -> Any:
    from fastapi.testclient import TestClient

    with TestClient(small_app) as c:
        yield c


def test_body_over_the_limit_is_413(small: Any) -> None:
    big = b"\0" * 80_000
    msg = _err(small.post("/v1/models/tiny-av/predict", files={"video": ("a.mp4", big, "video/mp4")}), 413)
    assert "over the limit of 0.05 MiB" in msg

    def chunks() -> Any:  # no Content-Length: counted while it streams in
        for _ in range(10):
            yield b"x" * 10_000

    r = small.post(
        "/v1/models/tiny-av/predict",
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=zz"},
    )
    assert "over the limit" in _err(r, 413)


@pytest.mark.parametrize(
    ("files", "data", "field", "hint"),
    [
        (
            {"video": ("a.mp4", b"not a video at all", "video/mp4")},
            {"text": "hi"},
            "field video",
            "upload a complete clip",
        ),
        ({"video": ("a.txt", b"hello", "text/plain")}, {"text": "hi"}, "field video", "unsupported type"),
        (
            {"audio": ("a.exe", b"MZ", "application/octet-stream")},
            {"text": "hi"},
            "field audio",
            "upload one of",
        ),
        ({}, {"text": "hello"}, "field audio or video", "needs modality 'speech'"),
        ({}, {"text": "hello", "colour": "red"}, "field colour", "not known"),
        ({}, {"text": "hello", "attention": "maybe"}, "field attention", "true or false"),
        ({}, {"text": "hello", "segments": "weekly"}, "field segments", "not one of"),
        (
            {"transcript": ("t.srt", b"no cues here", "text/plain")},
            {"text": "hi"},
            "field transcript",
            "SRT or WebVTT",
        ),
    ],
)
def test_unusable_fields_are_422_naming_the_field(
    client: Any, files: Any, data: Any, field: str, hint: str
) -> None:
    msg = _err(client.post("/v1/models/tiny-av/predict", files=files or None, data=data), 422)
    assert msg.startswith(field) and hint in msg, msg
    assert "/tmp" not in msg and tempfile.gettempdir() not in msg  # no server path in an answer


def test_limits_on_duration_and_text_are_422(small: Any, clip: dict[str, str]) -> None:
    with open(clip["video"], "rb") as f:  # 0.6 s of audio > 0.4 s; the mp4 is under 0.05 MiB
        msg = _err(
            small.post(
                "/v1/models/tiny-av/predict", files={"video": ("c.mp4", f, "video/mp4")}, data={"text": "hi"}
            ),
            422,
        )
    assert msg.startswith("field video: ") and "over the limit of 0.4 s" in msg
    msg = _err(small.post("/v1/models/tiny-text/predict", json={"text": "x" * 21}), 422)
    assert msg == "field text: 21 characters, over the limit of 20; shorten it"


def test_json_body_problems_are_422(client: Any) -> None:
    assert _err(
        client.post(
            "/v1/models/tiny-text/predict", content=b"{nope", headers={"content-type": "application/json"}
        ),
        422,
    ).startswith("body: not valid JSON")
    assert _err(client.post("/v1/models/tiny-text/predict", json={"txt": "x"}), 422).startswith("field text")
    assert "content type 'text/plain'" in _err(
        client.post("/v1/models/tiny-text/predict", content=b"hi", headers={"content-type": "text/plain"}),
        422,
    )


def test_unknown_model_is_404_with_the_closest_names(client: Any) -> None:
    msg = _err(client.post("/v1/models/tiny-txt/predict", json={"text": "x"}), 404)
    assert "closest: tiny-text" in msg
    assert "closest: tiny-av" in _err(client.get("/v1/models/tiny-a"), 404)
    assert "serves tiny-av@1" in _err(client.get("/v1/models/tiny-av@2"), 404)
    assert client.get("/v1/models/tiny-av@1").status_code == 200
    assert "/v1" in _err(client.get("/nothing/here"), 404)


def test_an_internal_failure_is_a_500_without_traceback(
    app: Any, client: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    served = app.app.state.served["tiny-text"]

    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("secret internal detail")

    from fastapi.testclient import TestClient

    monkeypatch.setattr(served.predictor, "predict_items", boom)
    quiet = TestClient(app, raise_server_exceptions=False)  # answer as a real server does
    with caplog.at_level(logging.ERROR, logger="sseft.serve"):
        r = quiet.post("/v1/models/tiny-text/predict", json={"text": "hello"})
    msg = _err(r, 500)
    assert "secret internal detail" not in msg and r.json()["request_id"] in msg
    assert "secret internal detail" in caplog.text  # the details are in the server log


def test_token_is_required_when_set(
    served_home: tm.Served, upload_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from sseft.serve.settings import TOKEN_ENV, ServeSettings

    monkeypatch.setenv(TOKEN_ENV, "s3cret-token-123")
    assert ServeSettings.with_env(models=["x"]).token == "s3cret-token-123"
    app = tm.load_app(served_home.home, ["tiny-text"], tmp_dir=str(upload_dir), token="s3cret-token-123")
    with TestClient(app) as c:
        assert "needs a token" in _err(c.get("/v1/models"), 401)
        assert "wrong bearer token" in _err(
            c.get("/v1/models", headers={"Authorization": "Bearer nope"}), 401
        )
        ok = c.post(
            "/v1/models/tiny-text/predict",
            json={"text": "hi"},
            headers={"Authorization": "Bearer s3cret-token-123"},
        )
        assert ok.status_code == 200
        assert (
            c.get("/healthz").status_code == 200 and c.get("/").status_code == 200
        )  # the page holds no secret


def test_cors_is_off_unless_configured(client: Any, served_home: tm.Served, upload_dir: Path) -> None:
    from fastapi.testclient import TestClient

    pre = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/v1/models", headers=pre).headers
    assert (
        "access-control-allow-origin"
        not in client.get("/v1/models", headers={"Origin": "https://elsewhere.example"}).headers
    )
    app = tm.load_app(
        served_home.home, ["tiny-text"], tmp_dir=str(upload_dir), cors_origins=["https://elsewhere.example"]
    )
    with TestClient(app) as c:
        assert (
            c.get("/v1/models", headers={"Origin": "https://elsewhere.example"}).headers[
                "access-control-allow-origin"
            ]
            == "https://elsewhere.example"
        )


def test_request_logs_carry_id_model_status_time_never_the_media(
    client: Any, clip: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="sseft.serve"), open(clip["video"], "rb") as f:
        r = client.post(
            "/v1/models/tiny-av/predict",
            files={"video": ("private-name.mp4", f, "video/mp4")},
            data={"text": "SECRET WORDS 123"},
        )
    assert r.status_code == 200
    line = next(rec.getMessage() for rec in caplog.records if rec.getMessage().startswith("request "))
    assert (
        f"id={r.json()['request_id']}" in line
        and "model=tiny-av" in line
        and "status=200" in line
        and " ms=" in line
    )
    assert "SECRET" not in caplog.text and "private-name" not in caplog.text


def _multipart(video: bytes, text: str) -> tuple[bytes, str]:
    b = "sseftboundary42"
    body = (
        (
            f'--{b}\r\nContent-Disposition: form-data; name="text"\r\n\r\n{text}\r\n'
            f'--{b}\r\nContent-Disposition: form-data; name="video"; filename="c.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
        ).encode()
        + video
        + f"\r\n--{b}--\r\n".encode()
    )
    return body, b


async def _cut_off(app: Any, body: bytes, boundary: str, keep: int) -> list[Any]:
    """One request whose client goes away after `keep` bytes of the body."""
    messages = [{"type": "http.request", "body": body[:keep], "more_body": True}, {"type": "http.disconnect"}]
    sent: list[Any] = []

    async def receive() -> Any:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(m: Any) -> None:
        sent.append(m)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/models/tiny-av/predict", "raw_path": b"/v1/models/tiny-av/predict", "query_string": b"",
        "root_path": "", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
        "headers": [(b"content-type", f"multipart/form-data; boundary={boundary}".encode()), (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    await app(scope, receive, send)
    return sent


def test_temp_folder_unchanged_after_bad_and_cut_off_requests(
    app: Any, client: Any, upload_dir: Path, clip: dict[str, str]
) -> None:
    def listing() -> set[str]:
        own = {p.name for p in upload_dir.iterdir()}
        shared = {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("sseft-serve-")}
        return own | {f"tmp:{n}" for n in shared}

    before = listing()
    video = Path(clip["video"]).read_bytes()
    bad: list[dict[str, Any]] = [
        {"files": {"video": ("a.mp4", b"garbage" * 50, "video/mp4")}, "data": {"text": "hi"}},
        {"files": {"video": ("a.mp4", video, "video/mp4")}, "data": {"text": "hi", "colour": "x"}},
        {
            "files": {"video": ("a.mp4", video, "video/mp4"), "audio": ("a.xyz", b"1", "x/y")},
            "data": {"text": "hi"},
        },
        {"files": {"audio": ("a.wav", b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav")}, "data": {"text": "hi"}},
        {
            "files": {"video": ("a.mp4", video[: len(video) // 3], "video/mp4")},
            "data": {"text": "hi", "segments": "none"},
        },
    ]
    statuses = set()
    for k in range(100):
        r = client.post("/v1/models/tiny-av/predict", **bad[k % len(bad)])
        statuses.add(r.status_code)
        assert r.status_code in (422, 413), r.text
    body, boundary = _multipart(video, "hello there")
    for k in range(20):
        keep = int(len(body) * (0.05 + 0.9 * k / 19))
        sent = asyncio.run(_cut_off(app, body, boundary, keep))
        assert not any(m.get("status") == 200 for m in sent)
    assert listing() == before
    assert statuses <= {422, 413}


def test_a_burst_past_the_queue_limit_gets_503_with_retry_after(
    served_home: tm.Served, upload_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import httpx

    app = tm.load_app(
        served_home.home, ["tiny-text"], tmp_dir=str(upload_dir), max_batch=1, max_wait_ms=0, max_queue=2
    )
    predictor = app.app.state.served["tiny-text"].predictor
    real = predictor.predict_items

    def slow(*a: Any, **k: Any) -> Any:
        time.sleep(0.2)
        return real(*a, **k)

    monkeypatch.setattr(predictor, "predict_items", slow)

    async def burst() -> list[Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await asyncio.gather(
                *(c.post("/v1/models/tiny-text/predict", json={"text": "hi"}) for _ in range(8))
            )

    answers = asyncio.run(burst())
    codes = sorted(r.status_code for r in answers)
    assert 200 in codes and 503 in codes and set(codes) <= {200, 503}, codes
    busy = [r for r in answers if r.status_code == 503]
    assert all(int(r.headers["retry-after"]) >= 1 and "queue limit 2" in r.json()["error"] for r in busy)
