"""The service's front door, a plain ASGI middleware (cheaper than a per-request BaseHTTPMiddleware):
a request id on every answer (`X-Request-ID`), the bearer token on `/v1/`, the body size limit
(Content-Length at once, else counted while the body streams in), the in-flight cap (503 +
Retry-After) and one log line per request: id, method, path, model, status, time. Never the body."""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sseft.core.errors import SseftError

from .settings import ServeSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("sseft.serve")
PUBLIC = ("/", "/healthz", "/readyz", "/favicon.ico")  # and /static/*: the page holds no secret


class BodyTooLarge(SseftError):
    """The request body is over the limit (HTTP 413)."""


async def send_error(
    send: Send, status: int, message: str, request_id: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"error": message, "request_id": request_id}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def model_of(path: str) -> str:
    parts = path.strip("/").split("/")
    return parts[2] if len(parts) >= 3 and parts[:2] == ["v1", "models"] else "-"


class Guard:
    def __init__(self, app: ASGIApp, settings: ServeSettings) -> None:
        self.app, self.settings = app, settings
        self.in_flight = 0
        self.expected = f"Bearer {settings.token}".encode() if settings.token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        t0 = time.perf_counter()
        status = {"code": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                code, message, headers = refusal
                await send_error(send_with_id, code, message, rid, headers)
                return
            self.in_flight += 1
            try:
                await self.app(scope, self._counted(receive, rid), send_with_id)
            finally:
                self.in_flight -= 1
        finally:
            if self.settings.log_requests:
                log.info(
                    "request id=%s method=%s path=%s model=%s status=%s ms=%.1f",
                    rid, scope.get("method"), scope.get("path"), model_of(scope.get("path", "")),
                    status["code"] or 499, (time.perf_counter() - t0) * 1000,
                )  # fmt: skip

    def _refusal(self, scope: Scope) -> tuple[int, str, dict[str, str]] | None:
        path = scope.get("path", "")
        headers = dict(scope.get("headers") or [])
        if self.expected is not None and not (path in PUBLIC or path.startswith("/static/")):
            got = headers.get(b"authorization", b"")
            if not secrets.compare_digest(got, self.expected):
                what = "wrong bearer token" if got else "this service needs a token"
                return (
                    401,
                    f"{what}: send the header 'Authorization: Bearer <token>'",
                    {"WWW-Authenticate": "Bearer"},
                )
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.settings.max_body_bytes:
            return 413, self._too_large(int(length)), {"Connection": "close"}
        if self.in_flight >= self.settings.max_in_flight and scope.get("method") == "POST":
            return (
                503,
                f"busy: {self.in_flight} requests in progress (limit {self.settings.max_in_flight}); try again shortly",
                {"Retry-After": "1"},
            )
        return None

    def _too_large(self, size: int) -> str:
        limit = self.settings.max_body_mb
        return f"body: {size / 1048576:.1f} MiB is over the limit of {limit:g} MiB; send a shorter or smaller clip"

    def _counted(self, receive: Receive, rid: str) -> Receive:
        seen = {"bytes": 0}
        limit = self.settings.max_body_bytes

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen["bytes"] += len(message.get("body", b""))
                if seen["bytes"] > limit:
                    raise BodyTooLarge(self._too_large(seen["bytes"]))
            return message

        return counted
