"""One send per response: the writes of one event-loop step reach the socket together, in order,
nothing is lost or held past its step, close / write_eof send what is held first, and uvicorn with
`OneSendHTTP` answers a request with its head and body in one write."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sseft.serve import transport as tr


class Recorder:
    """A fake transport: what reached it, write by write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.events: list[str] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.events.append("close")

    def write_eof(self) -> None:
        self.events.append("eof")

    def abort(self) -> None:
        self.events.append("abort")

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> str:
        return f"extra {name}"


def _buffered() -> tuple[tr.StepBufferedTransport, Recorder, asyncio.AbstractEventLoop]:
    loop = asyncio.get_running_loop()
    rec = Recorder()
    return tr.StepBufferedTransport(rec, loop), rec, loop  # type: ignore[arg-type]


def test_writes_of_one_step_go_out_together_at_its_end_and_later_ones_in_their_own_step() -> None:
    async def main() -> list[list[bytes]]:
        t, rec, _ = _buffered()
        t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n")
        t.write(b"")
        t.write(bytearray(b"body"))
        seen = [list(rec.writes)]  # nothing sent within the step
        await asyncio.sleep(0)
        seen.append(list(rec.writes))
        t.write(b"next")  # a later step (a streamed body): its own send at the end of its step
        await asyncio.sleep(0)
        seen.append(list(rec.writes))
        return seen

    during, after, later = asyncio.run(main())
    assert during == []
    assert after == [b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody"]
    assert later == [*after, b"next"]


def test_close_and_eof_send_what_is_held_first_abort_drops_it_and_large_data_goes_at_once() -> None:
    async def main() -> None:
        t, rec, _ = _buffered()
        t.write(b"last words")
        t.close()
        assert rec.writes == [b"last words"] and rec.events == ["close"]

        t, rec, _ = _buffered()
        t.writelines([b"a", b"b"])
        t.write_eof()
        assert rec.writes == [b"ab"] and rec.events == ["eof"]

        t, rec, _ = _buffered()
        t.write(b"dropped")
        assert t.get_write_buffer_size() == len(b"dropped")
        t.abort()
        await asyncio.sleep(0)
        assert rec.writes == [] and rec.events == ["abort"]

        t, rec, _ = _buffered()
        big = b"x" * tr.FLUSH_BYTES
        t.write(b"head")
        t.write(big)
        assert rec.writes == [b"head" + big]  # past the limit: sent at once, not at the step's end
        assert t.get_extra_info("peername") == "extra peername"  # the rest is the real transport's

    asyncio.run(main())


@pytest.fixture()
def counted_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, list[bytes]]]:
    """uvicorn with OneSendHTTP in a thread, serving a plain ASGI app; every write that reaches a
    real socket transport is recorded."""
    import uvicorn

    sent: list[bytes] = []
    real_init = tr.StepBufferedTransport.__init__

    def init(self: tr.StepBufferedTransport, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        class Spy:
            def write(self, data: bytes) -> None:
                sent.append(bytes(data))
                transport.write(data)

            def __getattr__(self, name: str) -> Any:
                return getattr(transport, name)

        real_init(self, Spy(), loop)  # type: ignore[arg-type]

    monkeypatch.setattr(tr.StepBufferedTransport, "__init__", init)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b'{"label": "happy"}'
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", http=tr.OneSendHTTP, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield port, sent
    finally:
        server.should_exit = True
        thread.join(10)


def test_uvicorn_with_one_send_http_answers_each_request_in_one_write(
    counted_server: tuple[int, list[bytes]],
) -> None:
    port, sent = counted_server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        f = c.makefile("rb")
        for _ in range(3):  # keep-alive: each answer its own single write
            c.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
            assert f.readline().startswith(b"HTTP/1.1 200")
            while f.readline() not in (b"\r\n", b""):
                pass
            assert f.read(18) == b'{"label": "happy"}'
    assert len(sent) == 3
    assert all(w.startswith(b"HTTP/1.1 200") and w.endswith(b'{"label": "happy"}') for w in sent)
