"""TestClient and AsyncTestClient: call an app over real HTTP/1.1, in memory.

Each request is serialized to bytes exactly as a client would send them and fed to
the server's own :class:`~typhoon.http.protocol.HTTPProtocol` on a
:class:`~typhoon.testing.MemoryTransport`; the response is parsed incrementally from
what the protocol writes back. No socket is opened, yet framing, keep-alive, HEAD,
chunked streaming, limits and the 500 boundary all behave as in production.

Rules of operation:

* One connection is kept alive per client and reused while the server allows it;
  a request made while a streamed response is still open gets a connection of its own.
* The transport applies write flow control (``high_water``), so a streaming handler
  can run ahead of the reader by at most about 64 KiB, as with a socket.
* Every wait (for the response head, for each body piece) is bounded by ``timeout``;
  an app that hangs gives :class:`ResponseTimeoutError` instead of a stuck test.
* With ``raise_server_exceptions`` (the default) an exception the app turned into a
  500, or one that broke a response mid-stream, is raised in the test itself.
* :class:`TestClient` is a thin synchronous wrapper: it runs the coroutines of an
  :class:`AsyncTestClient` on an event loop of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import weakref
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Coroutine,
    Iterator,
    Mapping,
)
from typing import Any, TypedDict, TypeVar, Unpack
from urllib.parse import urlsplit

from typhoon.http.app_api import Application, Lifespan
from typhoon.http.exchange import Exchange
from typhoon.http.limits import HTTPConfig
from typhoon.net.clock import Clock
from typhoon.testing.cookies import Cookie, CookieJar, parse_set_cookie
from typhoon.testing.http import (
    FilesInput,
    HeaderInput,
    OutgoingRequest,
    ParamsInput,
    ResponseHead,
    build_request,
    connect,
)
from typhoon.testing.response import (
    REDIRECT_STATUSES,
    ClientConnection,
    ResponseBody,
    ResponseTimeoutError,
    ServerDisconnectedError,
    TestRequest,
    TestResponse,
)
from typhoon.testing.transport import MemoryTransport
from typhoon.testing.websocket import TestWebSocket
from typhoon.web.datastructures import Headers

T = TypeVar("T")

__all__ = [
    "AsyncTestClient",
    "ClientOptions",
    "Cookie",
    "CookieJar",
    "RequestOptions",
    "ResponseTimeoutError",
    "ServerDisconnectedError",
    "TestClient",
    "TestRequest",
    "TestResponse",
    "TooManyRedirectsError",
]

_HIGH_WATER = 64 * 1024  # like a socket's send buffer


class TooManyRedirectsError(RuntimeError):
    """Following redirects went past ``max_redirects`` hops."""


class RequestOptions(TypedDict, total=False):
    """The keyword arguments every request method accepts (see :meth:`AsyncTestClient.request`)."""

    params: ParamsInput
    headers: HeaderInput
    content: bytes | str | None
    json: Any
    data: Mapping[str, Any] | None
    files: FilesInput | None
    cookies: Mapping[str, str] | None
    follow_redirects: bool | None
    timeout: float | None


class ClientOptions(TypedDict, total=False):
    """The keyword arguments of both clients (see :class:`AsyncTestClient`)."""

    headers: HeaderInput
    cookies: bool | Mapping[str, str]
    follow_redirects: bool
    max_redirects: int
    raise_server_exceptions: bool
    timeout: float | None
    config: HTTPConfig | None
    clock: Clock | None


# -- catching the exceptions the app logged ----------------------------------------------

_ERRORS: contextvars.ContextVar[list[BaseException] | None] = contextvars.ContextVar(
    "typhoon_testclient_errors", default=None
)


def _catch_logged_error(record: logging.LogRecord) -> bool:
    """A filter on the ``typhoon.error`` logger: hand the exception of a record to the
    test client whose handler task logged it (those set ``_ERRORS``); let every record
    through. A filter, not a handler, so logging's own output is unchanged."""
    errors = _ERRORS.get()
    if errors is not None and record.exc_info and record.exc_info[1] is not None:
        errors.append(record.exc_info[1])
    return True


def _install_catcher() -> None:
    logger = logging.getLogger("typhoon.error")
    if _catch_logged_error not in logger.filters:
        logger.addFilter(_catch_logged_error)


class _Catching:
    """The app as the server sees it: each handler task reports to ``errors``."""

    def __init__(self, app: Application, errors: list[BaseException]) -> None:
        self.app = app
        self.errors = errors

    async def handle(self, exchange: Exchange) -> None:
        _ERRORS.set(self.errors)  # the handler task runs in a context of its own
        await self.app.handle(exchange)


# -- the clients -------------------------------------------------------------------------


class AsyncTestClient:
    """Call an app over in-memory HTTP/1.1 from async tests.

    ``async with`` runs the app's ``startup()`` and ``shutdown()`` (when it has them);
    without it, requests work but the lifespan hooks do not run.

    Example::

        async with AsyncTestClient(app) as client:
            response = await client.post("/items", json={"name": "x"})
            assert response.status_code == 201
            async with client.stream("GET", "/events") as events:
                async for line in events.aiter_lines():
                    ...

    Args:
        app: a typhoon ``App``, or any object with ``async handle(exchange)``.
        base_url: the scheme and host every request goes to (and the Host header);
            a path here prefixes relative URLs.
        headers: headers sent with every request (a request's own win).
        cookies: keep the cookies the server sets and send them back (True), or not
            (False: the jar only holds what the test puts in it), or start the jar
            with these cookies (and keep the server's).
        follow_redirects: follow 3xx responses (each request may override it).
        max_redirects: how many hops following may take.
        raise_server_exceptions: raise in the test the exception that made the app
            answer 500 (or break a response midway) instead of returning the response.
        timeout: seconds to wait for the response head and for each body piece;
            None waits forever.
        config: the server's limits and behaviour (access log off by default).
        clock: the clock for the server's timeouts (e.g. a ``FakeClock``).

    Raises:
        TypeError: ``app`` has no ``handle`` method.
        ValueError: a bad ``base_url``, ``timeout`` or ``max_redirects``.
    """

    def __init__(
        self,
        app: Application,
        base_url: str = "http://testserver",
        *,
        headers: HeaderInput = None,
        cookies: bool | Mapping[str, str] = True,
        follow_redirects: bool = False,
        max_redirects: int = 20,
        raise_server_exceptions: bool = True,
        timeout: float | None = 10.0,
        config: HTTPConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not callable(getattr(app, "handle", None)):
            raise TypeError(f"app must have an async handle(exchange) method, got {app!r}")
        base = urlsplit(base_url) if isinstance(base_url, str) else None
        if base is None or base.scheme not in ("http", "https") or not base.netloc:
            raise ValueError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be positive or None, got {timeout!r}")
        if isinstance(max_redirects, bool) or not isinstance(max_redirects, int):
            raise TypeError(f"max_redirects must be an int, got {max_redirects!r}")
        if max_redirects < 0:
            raise ValueError(f"max_redirects must be >= 0, got {max_redirects!r}")
        self.app = app
        self.base_url = base_url.rstrip("/")
        self.headers = build_request("GET", "/", headers=headers).headers
        self.cookies = CookieJar(None if isinstance(cookies, bool) else cookies)
        self.store_cookies = cookies is not False
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.raise_server_exceptions = raise_server_exceptions
        self.timeout = timeout
        self.config = config or HTTPConfig(access_log=False)
        self.clock = clock
        self.connections_opened = 0
        self._errors: list[BaseException] = []
        self._served = _Catching(app, self._errors)
        self._idle: ClientConnection | None = None
        self._open: set[ClientConnection] = set()
        self._started = False
        _install_catcher()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url}>"

    # -- lifespan --------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncTestClient:
        await self.startup()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def startup(self) -> None:
        """Run the app's ``startup()``, if it has one (once)."""
        if not self._started and isinstance(self.app, Lifespan):
            await self.app.startup()
        self._started = True

    async def aclose(self) -> None:
        """Close the connections, then run the app's ``shutdown()`` if it was started."""
        for connection in list(self._open):
            self._discard(connection)
        for _ in range(3):
            await asyncio.sleep(0)  # connection_lost, then cancelled handlers unwind
        started, self._started = self._started, False
        if started and isinstance(self.app, Lifespan):
            await self.app.shutdown()

    # -- requests --------------------------------------------------------------------------

    async def request(
        self, method: str, url: str, **options: Unpack[RequestOptions]
    ) -> TestResponse:
        """Send a request and read the whole response.

        Args:
            method: the method, e.g. ``"GET"``.
            url: a path (under ``base_url``) or an absolute URL.
            **options: ``params`` (query), ``headers``, one body of ``content``
                (bytes or str), ``json``, ``data`` (a form; multipart with ``files``)
                or ``files`` (``{"field": (filename, content[, type])}``),
                ``cookies`` (this request only), ``follow_redirects`` and
                ``timeout`` (override the client's).

        Raises:
            ResponseTimeoutError: no response (or no next piece) within the timeout.
            ServerDisconnectedError: the server closed before the response was complete.
            TooManyRedirectsError: following went past ``max_redirects``.
            TypeError, ValueError: a malformed argument, named in the message.
        """
        response = await self._open_response(method, url, options)
        await response.aread()
        return response

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, url: str, **options: Unpack[RequestOptions]
    ) -> AsyncIterator[TestResponse]:
        """Send a request and read the body as it comes, inside ``async with``.

        Example::

            async with client.stream("GET", "/events") as response:
                async for chunk in response.aiter_bytes():
                    ...
        """
        response = await self._open_response(method, url, options)
        try:
            yield response
        finally:
            await response.aclose()

    async def get(self, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        return await self.request("GET", url, **options)

    async def head(self, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        return await self.request("HEAD", url, **options)

    async def options(self, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        return await self.request("OPTIONS", url, **options)

    async def post(self, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        return await self.request("POST", url, **options)

    async def put(self, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        return await self.request("PUT", url, **options)

    async def patch(self, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        return await self.request("PATCH", url, **options)

    async def delete(self, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        return await self.request("DELETE", url, **options)

    # -- the machinery -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def websocket(
        self,
        url: str,
        *,
        subprotocols: list[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[TestWebSocket]:
        """Open a WebSocket to the app, in memory, for the ``async with`` block.

        The client's cookies and default headers go with the handshake; no Origin is
        sent unless ``headers`` has one. The socket is closed (1000) on the way out.

        Example::

            async with client.websocket("/echo") as ws:
                await ws.send("hi")
                assert await ws.receive() == "hi"

        Raises:
            WebSocketRejected: the server answered the handshake with another status.
        """
        request = build_request("GET", url, base_url=self.base_url, headers=dict(headers or {}))
        target = urlsplit(request.url)
        scheme = "wss" if target.scheme == "https" else "ws"
        ws_url = f"{scheme}://{target.netloc}{target.path or '/'}"
        if target.query:
            ws_url += "?" + target.query
        sent = {name.lower() for name, _ in request.headers}
        extra = [(k, v) for k, v in self.headers if k.lower() not in sent and k.lower() != "host"]
        extra += [(k, v) for k, v in request.headers if k.lower() != "host"]
        cookie_header = self.cookies.header_for(request.url)
        if cookie_header:
            extra.append(("Cookie", cookie_header))
        transport = MemoryTransport()
        protocol, _ = connect(self._served, self.config, clock=self.clock, transport=transport)
        ws = TestWebSocket(
            protocol,
            transport,
            ws_url,
            subprotocols=subprotocols,
            headers=extra,
            timeout=self.timeout,
        )
        try:
            await ws._open()
            yield ws
            await ws.close()
        finally:
            if not transport.is_closing():
                transport.close()
            await asyncio.sleep(0)

    async def _open_response(self, method: str, url: str, options: RequestOptions) -> TestResponse:
        """Send, follow redirects if asked, and return the last response with its body unread."""
        unknown = set(options) - RequestOptions.__optional_keys__
        if unknown:
            raise TypeError(f"unexpected keyword argument {sorted(unknown)[0]!r}")
        follow = options.get("follow_redirects")
        follow = self.follow_redirects if follow is None else follow
        timeout_s = options.get("timeout", self.timeout)
        if timeout_s is not None and not timeout_s > 0:
            raise ValueError(f"timeout must be positive or None, got {timeout_s!r}")
        request = build_request(
            method,
            url,
            base_url=self.base_url,
            params=options.get("params"),
            headers=options.get("headers"),
            content=options.get("content"),
            json=options.get("json"),
            data=options.get("data"),
            files=options.get("files"),
            cookies=options.get("cookies"),
        )
        known = {name.lower() for name, _ in request.headers}
        request.headers[:0] = [(k, v) for k, v in self.headers if k.lower() not in known]
        history: list[TestResponse] = []
        while True:
            response = await self._send(request, timeout_s)
            location = response.headers.get("location")
            if not (follow and response.status_code in REDIRECT_STATUSES and location is not None):
                response.history = history
                return response
            await response.aread()
            history.append(response)
            if len(history) > self.max_redirects:
                raise TooManyRedirectsError(
                    f"{method} {url}: more than {self.max_redirects} redirects "
                    f"(the last one to {location!r})"
                )
            request = request.redirect(location, response.status_code)

    async def _send(self, request: OutgoingRequest, timeout_s: float | None) -> TestResponse:
        """Send one request and read its head, on a kept-alive connection if one is free."""
        self._errors.clear()
        jar = self.cookies
        cookie_header = jar.header_for(request.url)
        if request.cookies:
            pairs = [pair.split("=", 1) for pair in (cookie_header or "").split("; ") if pair]
            merged = {**dict(pairs), **request.cookies}
            cookie_header = "; ".join(f"{k}={v}" for k, v in merged.items())
        data = request.encode(cookie_header)
        label = f"{request.method} {request.url}"
        connection = self._checkout()
        connection.requests += 1
        connection.reader.expect(head_request=request.method == "HEAD")
        try:
            try:
                async with asyncio.timeout(timeout_s):
                    complete = await connection.send(data)
            except TimeoutError:
                raise ResponseTimeoutError(
                    f"{label}: the server stopped reading the request for {timeout_s:g} s"
                ) from None
            head = await connection.receive(label, timeout_s)
        except BaseException as exc:
            self._discard(connection)
            if isinstance(exc, ServerDisconnectedError):
                self._raise_server_error(label)  # the app's exception says more
            raise
        assert isinstance(head, ResponseHead)
        cookies = [
            cookie
            for value in Headers(head.headers).getall("set-cookie")
            if (cookie := parse_set_cookie(value, request.url)) is not None
        ]
        if self.store_cookies:
            for cookie in cookies:
                jar.store(cookie)
        asked_close = any(
            name.lower() == "connection" and "close" in value.lower()
            for name, value in request.headers
        )
        reusable = (
            complete
            and not asked_close
            and head.http_version == "1.1"
            and b"close" not in (head.header(b"connection") or b"").lower()
            and head.status != 101
        )
        sent = TestRequest(
            request.method,
            request.url,
            Headers(_raw(request.final_headers(cookie_header))),
            request.content,
        )
        body = ResponseBody(connection, label, timeout_s, reusable, self._finish)
        response = TestResponse(head, sent, body, cookies)
        if self._errors and self.raise_server_exceptions:
            await response.aread()  # raises the app's exception
        return response

    def _finish(self, body: ResponseBody, reusable: bool, ended: bool) -> None:
        """A response body was read to its end or given up: free or close its connection."""
        connection = body.connection
        if reusable and self._idle is None and not connection.transport.is_closing():
            self._idle = connection
        else:
            self._discard(connection)
        if ended:
            self._raise_server_error(body.label)

    def _raise_server_error(self, label: str) -> None:
        if self._errors and self.raise_server_exceptions:
            error = self._errors.pop(0)
            self._errors.clear()
            error.add_note(
                f"(raised by the app while handling {label}; pass "
                "raise_server_exceptions=False to the test client to get the 500 response)"
            )
            raise error

    def _checkout(self) -> ClientConnection:
        """The idle keep-alive connection, unless the server closed it; else a new one."""
        idle, self._idle = self._idle, None
        if idle is not None and not idle.transport.is_closing():
            return idle
        transport = MemoryTransport(high_water=_HIGH_WATER)
        protocol, _ = connect(self._served, self.config, clock=self.clock, transport=transport)
        connection = ClientConnection(protocol, transport)
        self._open.add(connection)
        self.connections_opened += 1
        return connection

    def _discard(self, connection: ClientConnection) -> None:
        self._open.discard(connection)
        if self._idle is connection:
            self._idle = None
        if not connection.transport.is_closing():
            connection.transport.close()


def _raw(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]


class TestClient:
    """The synchronous twin of :class:`AsyncTestClient`, for plain ``def`` tests.

    It owns an event loop, created here and closed by :meth:`close` (or at the end of
    ``with``), and runs the async client's coroutines on it; every argument is the
    same as :class:`AsyncTestClient`'s. It cannot be used inside a running event
    loop (an ``async def`` test): use :class:`AsyncTestClient` there.

    Example::

        with TestClient(app) as client:
            assert client.get("/").status_code == 200
            with client.stream("GET", "/events") as response:
                for line in response.iter_lines():
                    ...
    """

    __test__ = False

    def __init__(
        self,
        app: Application,
        base_url: str = "http://testserver",
        **settings: Unpack[ClientOptions],
    ) -> None:
        self._client = AsyncTestClient(app, base_url, **settings)
        self._loop = asyncio.new_event_loop()
        # A client nobody closed still closes its loop when it is collected (without
        # running the app's shutdown, which needs close() or ``with``).
        self._finalizer = weakref.finalize(self, self._loop.close)

    def __repr__(self) -> str:
        return f"<TestClient {self._client.base_url}>"

    @property
    def app(self) -> Application:
        return self._client.app

    @property
    def base_url(self) -> str:
        return self._client.base_url

    @property
    def cookies(self) -> CookieJar:
        return self._client.cookies

    @property
    def async_client(self) -> AsyncTestClient:
        """The async client doing the work; its settings (``follow_redirects``...) live there."""
        return self._client

    def _run(self, awaitable: Awaitable[T]) -> T:
        if self._loop.is_closed():
            _dispose(awaitable)
            raise RuntimeError("this TestClient is closed")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            _dispose(awaitable)
            raise RuntimeError(
                "TestClient cannot run inside a running event loop (an async test or "
                "fixture): use AsyncTestClient there"
            )
        return self._loop.run_until_complete(awaitable)

    def __enter__(self) -> TestClient:
        try:
            self._run(self._client.startup())
        except BaseException:
            self.close()  # __exit__ will not run
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections, run the app's shutdown if started, close the loop."""
        loop = self._loop
        if loop.is_closed():
            return
        try:
            self._run(self._client.aclose())
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            self._finalizer()

    def request(self, method: str, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send a request and read the whole response; see :meth:`AsyncTestClient.request`."""
        return self._adopt(self._run(self._client.request(method, url, **options)))

    @contextlib.contextmanager
    def stream(
        self, method: str, url: str, **options: Unpack[RequestOptions]
    ) -> Iterator[TestResponse]:
        """Send a request and read the body as it comes (``iter_bytes``, ``iter_lines``)."""
        response = self._adopt(self._run(self._client._open_response(method, url, options)))
        try:
            yield response
        finally:
            self._run(response.aclose())

    def get(self, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        return self.request("GET", url, **options)

    def head(self, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        return self.request("HEAD", url, **options)

    def options(self, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        return self.request("OPTIONS", url, **options)

    def post(self, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        return self.request("POST", url, **options)

    def put(self, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        return self.request("PUT", url, **options)

    def patch(self, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        return self.request("PATCH", url, **options)

    def delete(self, url: str, **options: Unpack[RequestOptions]) -> TestResponse:
        return self.request("DELETE", url, **options)

    def _adopt(self, response: TestResponse) -> TestResponse:
        for item in (*response.history, response):
            item._run = self._run
        return response


def _dispose(awaitable: Awaitable[Any]) -> None:
    if isinstance(awaitable, Coroutine):
        awaitable.close()  # never awaited: no "coroutine was never awaited" warning
