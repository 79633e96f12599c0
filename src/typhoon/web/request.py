"""Request: a lazy view over an Exchange.

Nothing is decoded until asked for; each property is computed once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import msgspec

from typhoon.http.exchange import Exchange
from typhoon.web.cookies import parse_cookie_header
from typhoon.web.datastructures import Headers, MultiDict
from typhoon.web.errors import HTTPError

if TYPE_CHECKING:
    from typhoon.web.app import App
    from typhoon.web.forms import FormData


class State:
    """A free-form namespace: ``request.state.user = ...``."""

    if TYPE_CHECKING:  # any attribute may be set and read; nothing changes at run time

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    def __repr__(self) -> str:
        return f"State({vars(self)!r})"


class Request:
    """The request as views, handlers and middleware see it.

    Attributes:
        exchange: the underlying HTTP exchange (request head, body stream, response).
        app: the App handling the request.
        method: ``"GET"``, ``"POST"``...
        path_params: parameters taken from the path by the route (converted).
        root_path: the prefix of a mounted sub-application, if any.
        state: per-request storage for middleware and hooks.
    """

    # HOT PATH: built for every request. The properties read on every request (path,
    # headers) keep their value in a slot; the rarer ones use cached_property.
    __slots__ = (
        "__dict__",
        "_body",
        "_form",
        "_headers",
        "_path",
        "app",
        "exchange",
        "method",
        "path_params",
        "root_path",
        "route",
        "route_args",
    )

    def __init__(self, exchange: Exchange, app: App) -> None:
        self.exchange = exchange
        self.app = app
        self.method = exchange.method
        self.path_params: dict[str, Any] = {}
        self.root_path = ""
        self.route: Any = None  # the Route that matched, once routed
        self.route_args: tuple[Any, ...] = ()  # positional groups of a regex route
        self._body: bytes | None = None
        self._form: FormData | None = None
        self._path: str | None = None
        self._headers: Headers | None = None

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.exchange.target.decode('latin-1')!r}>"

    # -- the head --------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The percent-decoded path (inside a mount, without the mount prefix)."""
        path = self._path
        if path is None:
            raw = self.exchange.path
            text = raw.decode("latin-1")
            # A str test: ``b"%" in raw`` first tries b"%" as an int and clears the error.
            full = unquote(text, errors="surrogateescape") if "%" in text else text
            root = self.root_path
            path = self._path = (full[len(root) :] or "/") if root else full
        return path

    def long_lived(self) -> None:
        """Say this request may wait long (a long poll, a stream): if the client then
        half-closes its connection, it is taken as gone and the view is cancelled.

        Example::

            request.long_lived()
            messages, cursor = await request.app.pubsub.wait("chat", after=cursor)
        """
        self.exchange.long_lived()

    def enter_mount(self, prefix: str) -> None:
        """Move ``prefix`` from the path to ``root_path`` (a mounted app takes over)."""
        self.root_path += prefix
        self._path = None

    @property
    def raw_path(self) -> bytes:
        """The path exactly as received, still percent-encoded."""
        return self.exchange.path

    @cached_property
    def query(self) -> MultiDict[str]:
        """The query string; ``request.query["q"]`` is the last ``q``, ``getall`` all."""
        text = self.exchange.query.decode("latin-1")
        return MultiDict(parse_qsl(text, keep_blank_values=True, errors="surrogateescape"))

    @property
    def headers(self) -> Headers:
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers(self.exchange.headers)
        return headers

    @cached_property
    def cookies(self) -> dict[str, str]:
        """Cookies sent by the client; malformed ones are ignored."""
        cookies: dict[str, str] = {}
        for value in self.headers.getall("cookie"):
            for name, item in parse_cookie_header(value).items():
                cookies.setdefault(name, item)
        return cookies

    @property
    def client(self) -> tuple[str, int] | None:
        """The client's (host, port); None over a Unix socket.

        Behind a trusted proxy, the client it forwarded (``typhoon.http.proxy``).
        """
        return self.exchange.client

    @property
    def scheme(self) -> str:
        """``"http"`` or ``"https"`` (over TLS, or as a trusted proxy forwarded it)."""
        return self.exchange.scheme

    @cached_property
    def host(self) -> str:
        """The Host header (with port when given), or the server address.

        Behind a trusted proxy, the host it forwarded (``X-Forwarded-Host`` or
        ``Forwarded: host=``).
        """
        host = self.headers.get("host")
        if host:
            return host
        server = self.exchange.server
        return f"{server[0]}:{server[1]}" if server else ""

    @property
    def url(self) -> str:
        """The full URL of the request."""
        query = self.exchange.query
        tail = "?" + query.decode("latin-1") if query else ""
        return f"{self.scheme}://{self.host}{self.exchange.path.decode('latin-1')}{tail}"

    @cached_property
    def state(self) -> State:
        return State()

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-cased, without parameters."""
        return (self.headers.get("content-type") or "").partition(";")[0].strip().lower()

    # -- the body ------------------------------------------------------------------------

    async def body(self) -> bytes:
        """The whole body, read once and kept (middleware and view may both read it)."""
        if self._body is None:
            self._body = await self.exchange.body()
        return self._body

    async def stream(self) -> AsyncIterator[bytes]:
        """The body piece by piece, as it arrives (or at once, if already read)."""
        if self._body is not None:
            if self._body:
                yield self._body
            return
        async for chunk in self.exchange.stream():
            yield chunk

    async def json(self) -> Any:
        """The body decoded as JSON (msgspec); malformed JSON is a 400 with the reason."""
        body = await self.body()
        if not body:
            raise HTTPError(400, "invalid JSON body: the body is empty")
        try:
            return msgspec.json.decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            # msgspec reports bad UTF-8 differently from one release to the next (a
            # UnicodeDecodeError, or a DecodeError with its own wording): name it once here.
            raise HTTPError(400, f"invalid JSON body: {_json_error_reason(body, exc)}") from None

    async def form(
        self,
        *,
        max_fields: int | None = None,
        max_files: int | None = None,
        max_field_bytes: int | None = None,
        max_part_bytes: int | None = None,
        spool_threshold: int | None = None,
    ) -> FormData:
        """The body as a form (urlencoded or multipart), parsed once; see ``web.forms``.

        The limits (None: from ``app.settings``, else the defaults) apply to the first call.
        """
        cached = self._form
        if cached is None:
            from typhoon.web.forms import parse_form

            cached = await parse_form(
                self,
                max_fields=max_fields,
                max_files=max_files,
                max_field_bytes=max_field_bytes,
                max_part_bytes=max_part_bytes,
                spool_threshold=spool_threshold,
            )
            self._form = cached
        return cached

    async def close(self) -> None:
        """Release what the request holds (uploaded files); the App calls it at the end."""
        form = self._form
        if form is not None:
            await form.close()

    @property
    def holds_files(self) -> bool:
        """The body was parsed as a form, which may hold uploaded files to close."""
        return self._form is not None


def _json_error_reason(body: bytes, exc: Exception) -> str:
    """Why ``body`` is not JSON: bad UTF-8 first, else what the decoder said."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "not valid UTF-8"
    return str(exc)
