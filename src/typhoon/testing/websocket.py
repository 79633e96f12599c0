"""An in-memory WebSocket client for tests: ``async with client.websocket("/ws") as ws``.

The handshake and every frame are real bytes: the client side is the ``websockets``
library's sans-I/O ``ClientProtocol``; the server side is typhoon's own
``HTTPProtocol`` on a :class:`~typhoon.testing.MemoryTransport`. Nothing is mocked
and no socket is opened.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import msgspec
from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.frames import BINARY, CLOSE, CONT, TEXT, Frame
from websockets.http11 import Response
from websockets.protocol import CONNECTING, OPEN
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from typhoon.http.protocol import HTTPProtocol
from typhoon.testing.transport import MemoryTransport


class WebSocketRejected(Exception):
    """The server answered the handshake with an HTTP response instead of ``101``.

    Attributes:
        status: the response status (403 for a refused Origin, 404 for no route…).
        headers: the response headers.
        body: the response body.
    """

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        super().__init__(f"the WebSocket handshake was answered with {status}")
        self.status = status
        self.headers = headers
        self.body = body


class TestWebSocketClosed(Exception):
    """The socket is closed; ``code`` and ``reason`` say how."""

    __test__ = False  # not a pytest test class

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(
            f"the WebSocket closed with code {code}" + (f": {reason}" if reason else "")
        )
        self.code = code
        self.reason = reason


class TestWebSocket:
    """One client WebSocket to the app under test.

    Attributes:
        subprotocol: the subprotocol the server chose, or None.
        response_headers: the headers of the ``101`` response.
        close_code / close_reason: how the socket closed, once it has.
    """

    __test__ = False

    def __init__(
        self,
        protocol: HTTPProtocol,
        transport: MemoryTransport,
        url: str,
        *,
        subprotocols: list[str] | None = None,
        headers: list[tuple[str, str]] | None = None,
        timeout: float | None = 10.0,
    ) -> None:
        self._server = protocol
        self._transport = transport
        self._timeout = timeout
        self._client = ClientProtocol(
            parse_uri(url),
            subprotocols=[Subprotocol(p) for p in subprotocols] if subprotocols else None,
            extensions=None,
        )
        self._extra_headers = headers or []
        self._messages: deque[str | bytes] = deque()
        self._parts: list[bytes] = []
        self._text = False
        self.subprotocol: str | None = None
        self.response_headers: Headers = Headers()
        self.close_code: int | None = None
        self.close_reason = ""

    async def _open(self) -> None:
        request = self._client.connect()
        for name, value in self._extra_headers:
            request.headers[name] = value
        self._client.send_request(request)
        self._send_pending()
        while True:
            events = await self._read()
            for event in events:
                if isinstance(event, Response):
                    if event.status_code != 101 or self._client.handshake_exc is not None:
                        raise WebSocketRejected(
                            event.status_code, event.headers, bytes(event.body or b"")
                        )
                    self.response_headers = event.headers
                    self.subprotocol = self._client.subprotocol
                else:
                    self._take(event)
            if self._client.state is not CONNECTING:
                return

    # -- plumbing ------------------------------------------------------------------------

    def _send_pending(self) -> None:
        for data in self._client.data_to_send():
            if data:
                self._server.data_received(data)
            else:
                self._server.eof_received()

    async def _read(self) -> list[Any]:
        """Wait for bytes from the server and parse them into events."""
        transport = self._transport
        try:
            await asyncio.wait_for(transport.wait_written(), self._timeout)
        except TimeoutError:
            raise TimeoutError("no answer from the server within the timeout") from None
        data = transport.take()
        if data:
            self._client.receive_data(data)
        elif transport.is_closing():
            self._client.receive_eof()
        events = self._client.events_received()
        self._send_pending()  # pongs, close replies
        return events

    def _take(self, frame: Frame) -> None:
        if frame.opcode is TEXT or frame.opcode is BINARY:
            self._text = frame.opcode is TEXT
            self._parts = [bytes(frame.data)]
        elif frame.opcode is CONT:
            self._parts.append(bytes(frame.data))
        elif frame.opcode is CLOSE:
            self._record_close()
            return
        else:
            return  # ping (answered by the sans-I/O core) or pong
        if frame.fin:
            data = b"".join(self._parts)
            self._messages.append(data.decode() if self._text else data)

    def _record_close(self) -> None:
        close = self._client.close_rcvd or self._client.close_sent
        if self.close_code is None:
            self.close_code = close.code if close is not None else 1006
            self.close_reason = close.reason if close is not None else ""

    # -- the API -------------------------------------------------------------------------

    async def receive(self) -> str | bytes:
        """The next message: ``str`` for text, ``bytes`` for binary.

        Raises:
            TestWebSocketClosed: the server closed the socket.
            TimeoutError: nothing came within the timeout.
        """
        while not self._messages:
            if self.close_code is not None or self._transport.closed:
                self._record_close()
                raise TestWebSocketClosed(self.close_code or 1006, self.close_reason)
            for event in await self._read():
                self._take(event)
        return self._messages.popleft()

    async def receive_text(self) -> str:
        message = await self.receive()
        if not isinstance(message, str):
            raise TypeError(f"expected a text message, got {message!r}")
        return message

    async def receive_bytes(self) -> bytes:
        message = await self.receive()
        if not isinstance(message, bytes):
            raise TypeError(f"expected a binary message, got {message!r}")
        return message

    async def receive_json(self) -> Any:
        return msgspec.json.decode(await self.receive())

    async def send(self, message: str | bytes) -> None:
        """Send ``str`` as text, ``bytes`` as binary; let the server run."""
        if isinstance(message, str):
            self._client.send_text(message.encode())
        else:
            self._client.send_binary(bytes(message))
        self._send_pending()
        await asyncio.sleep(0)

    async def send_text(self, text: str) -> None:
        await self.send(text)

    async def send_bytes(self, data: bytes) -> None:
        await self.send(data)

    async def send_json(self, value: Any) -> None:
        await self.send(msgspec.json.encode(value).decode())

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the socket and wait for the server's answer."""
        if self.close_code is None and self._client.state is OPEN:
            self._client.send_close(code, reason)
            self._send_pending()
            while self.close_code is None or not self._transport.is_closing():
                if self._transport.closed:
                    break
                for event in await self._read():
                    self._take(event)
        self._record_close()
