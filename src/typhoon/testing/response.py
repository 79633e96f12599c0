"""What the test clients give back: TestResponse, and the connection it is read from.

A :class:`TestResponse` is created as soon as the head of a response has arrived.
Its body is read on demand from the connection (``aread``/``read``, or piece by piece
with ``aiter_bytes``/``iter_bytes``), so a streamed response can be followed as the
server writes it; a response of a :class:`~typhoon.testing.TestClient` does that on
the client's own event loop.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from typhoon.http.protocol import HTTPProtocol
from typhoon.testing.cookies import Cookie
from typhoon.testing.http import RESPONSE_END, ResponseHead, ResponseReader
from typhoon.testing.transport import MemoryTransport
from typhoon.web.datastructures import Headers

__all__ = [
    "ClientConnection",
    "ResponseBody",
    "ResponseTimeoutError",
    "ServerDisconnectedError",
    "TestRequest",
    "TestResponse",
]

T = TypeVar("T")

SEND_PIECE_BYTES = 64 * 1024
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


class ResponseTimeoutError(TimeoutError):
    """The app did not answer (or did not send the next piece) within the timeout."""


class ServerDisconnectedError(ConnectionError):
    """The server closed the connection before the response was complete."""


@dataclass(frozen=True, slots=True)
class TestRequest:
    """The request as it was sent (after redirects: the last one).

    Attributes:
        method: the method, e.g. ``"GET"``.
        url: the absolute URL.
        headers: the headers sent, Host, Content-Length and Cookie included.
        content: the body sent.
    """

    __test__ = False

    method: str
    url: str
    headers: Headers
    content: bytes


class ClientConnection:
    """The client end of one in-memory connection: the server's protocol, its transport
    and a :class:`ResponseReader` for what comes back.

    Attributes:
        requests: how many requests were sent on it.
    """

    __slots__ = ("protocol", "reader", "requests", "transport")

    def __init__(self, protocol: HTTPProtocol, transport: MemoryTransport) -> None:
        self.protocol = protocol
        self.transport = transport
        self.reader = ResponseReader()
        self.requests = 0

    async def send(self, data: bytes) -> bool:
        """Feed ``data`` while the server reads; False if the server closed first."""
        transport = self.transport
        for start in range(0, len(data), SEND_PIECE_BYTES):
            if not transport.reading:  # backpressure: wait, as a socket would
                await transport.wait_for(lambda: transport.reading or transport.is_closing())
            if transport.is_closing():
                return False
            self.protocol.data_received(data[start : start + SEND_PIECE_BYTES])
        return True

    async def next_event(self) -> ResponseHead | bytes:
        """The next head or body piece of the response; ``b""`` at its end.

        Raises:
            EOFError: the server closed the connection first.
            ValueError: the server sent a malformed response.
        """
        transport = self.transport
        reader = self.reader
        while True:
            event = reader.next_event()
            if event is RESPONSE_END:
                return b""
            if isinstance(event, ResponseHead) or (isinstance(event, bytes) and event):
                return event
            if event is None:
                await transport.wait_written()
                data = transport.take()
                if data:
                    reader.feed(data)
                else:
                    reader.feed_eof()

    async def receive(self, label: str, timeout_s: float | None) -> ResponseHead | bytes:
        """:meth:`next_event` within ``timeout_s``, with errors that say what happened.

        Raises:
            ResponseTimeoutError: nothing came in time.
            ServerDisconnectedError: the server closed the connection first.
            ValueError: the server sent a malformed response.
        """
        try:
            async with asyncio.timeout(timeout_s):
                return await self.next_event()
        except TimeoutError:
            waited = "no response" if self.reader.head is None else "no more of the body"
            raise ResponseTimeoutError(
                f"{label}: {waited} within {timeout_s:g} s; the handler may be stuck "
                "(pass timeout= to wait longer)"
            ) from None
        except EOFError as exc:
            raise ServerDisconnectedError(f"{label}: {exc}") from None


class ResponseBody:
    """The unread body of one response; tells its owner when the connection is free.

    Args:
        connection: where the body comes from.
        label: ``"METHOD url"``, for error messages.
        timeout_s: the longest wait for each piece.
        finish: called once, with whether the connection may serve another request,
            when the body has been read (``ended=True``) or given up (``ended=False``).
            At the end it may raise the exception the app logged for this request.
    """

    __slots__ = ("connection", "done", "finish", "label", "reusable", "timeout_s")

    def __init__(
        self,
        connection: ClientConnection,
        label: str,
        timeout_s: float | None,
        reusable: bool,
        finish: Callable[[ResponseBody, bool, bool], None],
    ) -> None:
        self.connection = connection
        self.label = label
        self.timeout_s = timeout_s
        self.reusable = reusable
        self.finish = finish
        self.done = False

    async def pieces(self) -> AsyncIterator[bytes]:
        """Yield the rest of the body as it arrives."""
        connection = self.connection
        while not self.done:
            try:
                piece = await connection.receive(self.label, self.timeout_s)
            except BaseException as exc:
                self.done = True
                # A server that hung up may have logged why: finish raises that instead.
                self.finish(self, False, isinstance(exc, ServerDisconnectedError))
                raise
            if isinstance(piece, ResponseHead):
                raise AssertionError("a second response head inside one response")
            if not piece:
                self.done = True
                self.finish(self, self.reusable and not connection.reader.until_close, True)
                return
            yield piece

    async def aclose(self) -> None:
        """Give up the rest of the body: the connection closes (the handler is cancelled)."""
        if not self.done:
            self.done = True
            self.finish(self, False, False)
            await asyncio.sleep(0)  # let the server see the disconnect


class TestResponse:
    """A response read back from the server.

    Attributes:
        status_code: the status, e.g. ``200``.
        reason_phrase: the reason phrase of the status line.
        http_version: ``"1.1"`` or ``"1.0"``.
        headers: case-insensitive and multi-valued (``headers.getall("set-cookie")``).
        url: the absolute URL that gave this response.
        request: what was sent.
        history: the redirect responses that led here, oldest first.
        cookies: the cookies this response set (``name -> value``; a deletion maps to ``""``).
        protocol: the server's :class:`HTTPProtocol` that served the request.
        transport: the :class:`MemoryTransport` of that connection.

    Example::

        response = client.get("/items", params={"page": 2})
        assert response.status_code == 200
        assert response.json() == {"page": 2}
    """

    __test__ = False

    def __init__(
        self, head: ResponseHead, request: TestRequest, body: ResponseBody, cookies: list[Cookie]
    ) -> None:
        self.status_code = head.status
        self.reason_phrase = head.reason
        self.http_version = head.http_version
        self.headers = Headers(head.headers)
        self.url = request.url
        self.request = request
        self.history: list[TestResponse] = []
        self.cookies = {cookie.name: cookie.value for cookie in cookies}
        self.protocol = body.connection.protocol
        self.transport = body.connection.transport
        self._body = body
        self._content: bytes | None = None
        self._run: Callable[[Awaitable[Any]], Any] | None = None  # see TestClient

    def __repr__(self) -> str:
        return f"<TestResponse [{self.status_code} {self.reason_phrase}]>"

    @property
    def content(self) -> bytes:
        """The whole body.

        Raises:
            RuntimeError: a streamed response whose body was not read with ``read()``.
        """
        if self._content is None:
            raise RuntimeError(
                "the body of a streamed response is not read yet: call response.read() "
                "(or await response.aread()) first, or iterate over it instead"
            )
        return self._content

    @property
    def encoding(self) -> str:
        """The charset of the Content-Type, or ``utf-8``."""
        for param in (self.headers.get("content-type") or "").split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip('"')
        return "utf-8"

    @property
    def text(self) -> str:
        """The body decoded with :attr:`encoding` (undecodable bytes replaced)."""
        return self.content.decode(_codec(self.encoding), errors="replace")

    def json(self) -> Any:
        """The body decoded as JSON.

        Raises:
            ValueError: the body is not valid JSON (``msgspec.DecodeError``).
        """
        return msgspec.json.decode(self.content)

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def is_redirect(self) -> bool:
        return self.status_code in REDIRECT_STATUSES and "location" in self.headers

    # -- reading the body, async ----------------------------------------------------------

    async def aread(self) -> bytes:
        """Read the rest of the body and keep it as :attr:`content`."""
        if self._content is None:
            self._content = b"".join([piece async for piece in self._body.pieces()])
        return self._content

    async def aiter_bytes(self) -> AsyncGenerator[bytes, None]:
        """Yield the body in the pieces the server wrote, as they arrive."""
        if self._content is not None:
            if self._content:
                yield self._content
            return
        async for piece in self._body.pieces():
            yield piece

    async def aiter_text(self) -> AsyncGenerator[str, None]:
        """Yield the body decoded with :attr:`encoding`, piece by piece."""
        decoder = codecs.getincrementaldecoder(_codec(self.encoding))(errors="replace")
        async for piece in self.aiter_bytes():
            if text := decoder.decode(piece):
                yield text
        if tail := decoder.decode(b"", final=True):
            yield tail

    async def aiter_lines(self) -> AsyncGenerator[str, None]:
        """Yield the body line by line (without line endings), each as soon as it is whole."""
        pending = ""
        async for text in self.aiter_text():
            *lines, pending = (pending + text).split("\n")
            for line in lines:
                yield line.removesuffix("\r")
        if pending:
            yield pending.removesuffix("\r")

    async def aclose(self) -> None:
        """Stop reading; an unfinished body closes the connection."""
        await self._body.aclose()

    # -- reading the body, sync (responses of a TestClient) -------------------------------

    def _runner(self) -> Callable[[Awaitable[T]], T]:
        if self._run is None:
            raise RuntimeError(
                "this response belongs to an AsyncTestClient: use aread(), aiter_bytes(), "
                "aiter_lines() and aclose()"
            )
        return self._run

    def read(self) -> bytes:
        """Read the rest of the body and keep it as :attr:`content`."""
        return self._runner()(self.aread())

    def iter_bytes(self) -> Iterator[bytes]:
        """Yield the body in the pieces the server wrote, as they arrive."""
        return self._iterate(self.aiter_bytes())

    def iter_text(self) -> Iterator[str]:
        """Yield the body decoded with :attr:`encoding`, piece by piece."""
        return self._iterate(self.aiter_text())

    def iter_lines(self) -> Iterator[str]:
        """Yield the body line by line (without line endings), each as soon as it is whole."""
        return self._iterate(self.aiter_lines())

    def close(self) -> None:
        """Stop reading; an unfinished body closes the connection."""
        self._runner()(self.aclose())

    def _iterate(self, pieces: AsyncGenerator[T, None]) -> Iterator[T]:
        run = self._runner()

        def generate() -> Iterator[T]:
            try:
                while True:
                    try:
                        yield run(anext(pieces))
                    except StopAsyncIteration:
                        return
            finally:
                with contextlib.suppress(RuntimeError):  # the client may be closed already
                    run(pieces.aclose())

        return generate()


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return "utf-8"
