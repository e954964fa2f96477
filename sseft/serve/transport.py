"""One send per response: uvicorn writes a response's head and its body with two `transport.write`
calls, so the client wakes on the head alone, reads it and sleeps again until the body comes (and on
a busy machine the woken client can take the server's core between the two). `OneSendHTTP` is
uvicorn's own HTTP protocol (httptools when installed, else h11) over `StepBufferedTransport`, which
holds the writes made in one step of the event loop and sends them together at the end of that step.

Nothing is reordered or dropped: a write made in a later step (a streamed body, a file read in a
thread) goes out at the end of its own step, past `FLUSH_BYTES` at once, and before `close` /
`write_eof`. Everything else is the real transport's.

    uvicorn.run(app, http=OneSendHTTP)   # what `sseft serve` does
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

FLUSH_BYTES = 64 * 1024  # held data past this goes out at once (a large body is not copied again)


class StepBufferedTransport:
    """Wraps an asyncio transport: writes of one loop step go out in one `write`."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._flush_scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._held.append(bytes(data))
        self._held_bytes += len(data)
        if self._held_bytes >= FLUSH_BYTES:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._end_of_step)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _end_of_step(self) -> None:
        self._flush_scheduled = False
        self.flush()

    def flush(self) -> None:
        """Send what is held now."""
        if self._held:
            data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
            self._held.clear()
            self._held_bytes = 0
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held.clear()
        self._held_bytes = 0
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._held_bytes + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:  # everything else: the real transport
        return getattr(self._transport, name)


class OneSendHTTP(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP protocol, sending each response in one write (see the module docstring)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(StepBufferedTransport(transport, self.loop))
