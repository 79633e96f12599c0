"""RequestHandler: Tornado's handler class, so that a Tornado app ports by changing imports.

Lifecycle of one request, as in Tornado::

    Handler(app, request, **route_kwargs) → initialize(**route_kwargs)
    → [form body parsed] → [XSRF check, unsafe methods] → [async get_current_user]
    → prepare() → [data_received(chunk)…, with @stream_request_body] → get()/post()/…
    → the response leaves → on_finish()

Rules of operation:

* ``prepare``, the verb method, ``data_received`` and ``on_finish`` may be ``async def``
  (run on the loop) or plain ``def`` (run on the app's bounded thread pool, never on
  the loop).
* Output is buffered by :meth:`~RequestHandler.write` and goes out as one response
  when the method returns, through the app's middleware like any response. A
  handler that awaits :meth:`~RequestHandler.flush` streams instead: the head and
  each flushed piece leave at once (chunked), and ``_execute`` returns ``Sent``.
* A method may instead *return* a value (a Response, or str/bytes/dict/list as a
  view would); cookies and headers set on the handler are added to it.
* ``raise HTTPError(…)`` anywhere, or any other exception, becomes
  :meth:`~RequestHandler.send_error` → :meth:`~RequestHandler.write_error`;
  ``raise Finish()`` stops with what was written so far.
* When the client goes away before the response is complete,
  :meth:`~RequestHandler.on_connection_close` runs (then, with the server's default
  cancel-on-disconnect, the handler is cancelled and ``on_finish`` does not run).

This module holds the lifecycle, output and errors. RequestHandler inherits its
argument accessors from ``_handler_args`` and its cookie, signed-cookie, user and XSRF
methods from ``_handler_cookies`` (with ``@authenticated``); ``_handler_headers`` checks
and encodes the headers it sets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
import html
import inspect
import logging
import traceback
from collections.abc import Awaitable, Callable, Generator
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar
from urllib.parse import quote

import msgspec

from typhoon.http.errors import ClientDisconnected, ProtocolError
from typhoon.http.writer import BODILESS_STATUSES
from typhoon.web._handler_args import MISSING, ArgumentsMixin, MissingArgumentError
from typhoon.web._handler_cookies import _NO_COOKIES, _UNSET, CookiesMixin, authenticated
from typhoon.web._handler_headers import _encode_header
from typhoon.web.app import to_response
from typhoon.web.datastructures import MultiDict
from typhoon.web.errors import HTTPError
from typhoon.web.response import Response, Sent

if TYPE_CHECKING:
    from typhoon.web.app import App
    from typhoon.web.request import Request

logger = logging.getLogger("typhoon.error")

H = TypeVar("H", bound=type["RequestHandler"])

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")
_UNSAFE_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_NO_BODY_HEADERS = frozenset((b"content-type", b"content-encoding", b"content-language"))
_json_encode = msgspec.json.Encoder().encode


class Finish(Exception):
    """Stop handling the request; what was written so far is sent.

    ``raise Finish(chunk)`` writes ``chunk`` first.

    Example::

        if cached is not None:
            raise Finish(cached)
    """


# The shared starting value of a handler's headers.
_DEFAULT_HEADERS: list[tuple[bytes, bytes]] = [(b"content-type", b"text/html; charset=utf-8")]


class _WrittenResponse(Response):
    """A response made of what a handler wrote, whose headers are encoded already.

    A plain Response whose constructor takes the parts as they are (Response() would
    look for a media type and encode headers, then see its header list replaced).
    """

    __slots__ = ()

    def __init__(self, body: bytes, status: int, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.body = body
        self.status = status
        self.raw_headers = raw_headers

    def __repr__(self) -> str:
        return f"<Response {self.status}>"  # what it was before this shortcut


class _Done:
    """An awaitable that is already complete (what flush() returns in a worker thread)."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # pragma: no cover - makes this a generator


class RequestHandler(ArgumentsMixin, CookiesMixin):
    """Base class of Tornado-style handlers: subclass it and define ``get``, ``post``…

    Attributes:
        app: the App serving the request (``application`` is an alias, Tornado's name).
        request: the :class:`~typhoon.web.request.Request`.
        settings: ``app.settings``.
        path_args: positional arguments from the route (Tornado regex groups).
        path_kwargs: keyword arguments from the route (``{name:conv}`` parameters).

    Example::

        class MainHandler(RequestHandler):
            def get(self) -> None:
                self.write("Hello, world")

        app = App([(r"/", MainHandler)])
    """

    SUPPORTED_METHODS: ClassVar[tuple[str, ...]] = _METHODS
    _stream_request_body: ClassVar[bool] = False

    # Per-request state. What every request reads is set by __init__ (on CPython 3.11 an
    # instance attribute is read faster than a class attribute); the rest starts as these
    # class-level defaults, replaced (never changed in place) by the requests that use it
    # (the mixins declare their own: _body_arguments, _current_user, _xsrf_token).
    path_args: tuple[Any, ...] = ()
    _facts: _ClassFacts
    _status: int
    _finished: bool
    _headers_written: bool
    # The response headers, encoded (set_header checks them by encoding them) so that
    # sending does not encode them again; the shared _DEFAULT_HEADERS until changed.
    _headers: list[tuple[bytes, bytes]]
    _cookies: dict[str, str]  # the shared _NO_COOKIES until a cookie is set
    _write_buffer: list[bytes]
    _reason: str | None = None
    _sent = False
    _flushing: asyncio.Future[None] | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _close_tasks: set[asyncio.Task[Any]] | None = None  # made by the first async close hook

    def __init__(self, app: App, request: Request, **kwargs: Any) -> None:
        self.app = self.application = app
        self.request = request
        self.settings: dict[str, Any] = app.settings
        self.path_kwargs: dict[str, Any] = {}
        cls = type(self)
        facts = self._facts = _CLASS_FACTS.get(cls) or _class_facts(cls)
        self._status = 200
        self._finished = self._headers_written = False
        self._headers = _DEFAULT_HEADERS
        self._cookies = _NO_COOKIES
        if facts.clear:
            self.clear()  # a class that sets default headers (or redefines clear)
        else:
            self._write_buffer = []  # all that clear() would change on a new handler
        if kwargs or facts.initialize:
            self.initialize(**kwargs)

    # -- the contract with App -----------------------------------------------------------

    @classmethod
    def implemented_methods(cls) -> frozenset[str]:
        """The HTTP methods this class answers: those it defines (HEAD follows GET)."""
        methods = {m for m in cls.SUPPORTED_METHODS if callable(getattr(cls, m.lower(), None))}
        if "GET" in methods and "HEAD" in cls.SUPPORTED_METHODS:
            methods.add("HEAD")
        return frozenset(methods)

    async def _execute(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Response:
        """Run the lifecycle and return the response (``Sent`` if it was streamed).

        One coroutine runs it all: a step the request does not need (form parsing,
        XSRF check, prepare, streamed body) costs a test, not another coroutine.
        """
        self.path_args, self.path_kwargs = args, kwargs
        self._loop = asyncio.get_running_loop()
        request = self.request
        facts = self._facts
        if facts.on_connection_close:
            register = getattr(request.exchange, "add_disconnect_callback", None)
            if register is not None:  # an HTTP/1.1 exchange (the ASGI face may lack it)
                register(self._client_gone)
        returned: Response | None = None
        try:
            exchange = request.exchange
            if (exchange.body_received or not exchange.body_complete) and (
                not facts.stream_request_body and request.content_type in _FORM_TYPES
            ):
                await self._load_body_arguments()  # form fields become body arguments
            if request.method in _UNSAFE_METHODS and self.settings.get("xsrf_cookies"):
                self.check_xsrf_cookie()
            if facts.async_get_current_user and self._current_user is _UNSET:
                self._current_user = await self.get_current_user()
            if facts.prepare:
                await self._call(self.prepare)
            if facts.stream_request_body and not self._finished:
                await self._receive_body()
            if not self._finished:
                name, is_async = facts.verbs[request.method]  # the router checked it
                method = getattr(self, name)
                if is_async:  # awaited directly: no _call() coroutine
                    value = await (method(*args, **kwargs) if args or kwargs else method())
                else:
                    value = await self._call(method, *args, **kwargs)
                if value is not None:
                    returned = self._returned(name, value)
        except Finish as stop:
            if not self._finished:
                self.finish(*stop.args[:1])
        except ClientDisconnected:
            self._finished = True  # nobody to answer: end quietly
        except ProtocolError:
            raise  # a broken body: the connection answers it
        except Exception as exc:
            self._handle_exception(exc)
        if self._headers_written:
            response = await self._end_stream()
        else:
            response = self._complete(returned)
        if facts.on_finish:
            try:
                await self._call(self.on_finish)
            except Exception:
                logger.exception("exception in %s.on_finish()", type(self).__name__)
        return response

    async def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Await an async method; run a plain one on the app's thread pool."""
        if _is_async(method):
            return await method(*args, **kwargs)
        value = await self.app.run_in_thread(functools.partial(method, *args, **kwargs))
        if inspect.isawaitable(value):
            value = await value
        return value

    def _returned(self, name: str, value: Any) -> Response:
        """The response for what verb method ``name`` returned (instead of writing)."""
        if self._finished or self._headers_written or self._write_buffer:
            raise RuntimeError(
                f"{type(self).__name__}.{name}() both wrote a response and returned one"
            )
        response = to_response(value)
        if not isinstance(value, Response | tuple) and self._status != 200:
            response.status = self._status  # set_status() then return {"id": 1}
        return self._merge(response)

    async def _load_body_arguments(self) -> None:
        form = await self.request.form()  # files stay there; fields become body arguments
        self._body_arguments = MultiDict(
            (name, value) for name, value in form.multi_items() if isinstance(value, str)
        )

    async def _receive_body(self) -> None:
        """Hand the body to data_received() as it arrives (``@stream_request_body``)."""
        pieces = self.request.stream()
        try:
            async for piece in pieces:
                await self._call(self.data_received, piece)
                if self._finished:
                    return
        finally:
            close = getattr(pieces, "aclose", None)
            if close is not None:
                await close()

    def _merge(self, response: Response) -> Response:
        """Add the handler's cookies and headers (those the response lacks) to it."""
        present = {name.lower() for name, _ in response.raw_headers}
        for name, value in self._headers:
            key = name.lower()
            if key not in present and key != b"content-type":
                response.raw_headers.append((name, value))
        for cookie in self._cookies.values():
            response.raw_headers.append((b"set-cookie", cookie.encode("latin-1")))
        return response

    def _complete(self, returned: Response | None) -> Response:
        """Build the response once the handler is done (nothing was flushed)."""
        self._finished = self._sent = True
        if returned is not None:
            return returned
        buffer = self._write_buffer  # nothing can be written any more: no need to clear it
        body = buffer[0] if len(buffer) == 1 else b"".join(buffer)
        return _WrittenResponse(body, self._status, self._raw_headers())

    async def _end_stream(self) -> Response:
        """End a response that flush() already started; return ``Sent``."""
        self._finished = self._sent = True
        exchange = self.request.exchange
        try:
            if self._flushing is not None:
                await self._flushing
            data = b"".join(self._write_buffer)
            self._write_buffer.clear()
            if data:
                await exchange.write(data)
            await exchange.end()
        except ClientDisconnected:
            pass
        return Sent(self._status)

    def _raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The response's header list (its own: middleware may change it)."""
        if self._status in BODILESS_STATUSES:
            raw = [(k, v) for k, v in self._headers if k.lower() not in _NO_BODY_HEADERS]
        else:
            raw = list(self._headers)
        if self._cookies:
            raw += [(b"set-cookie", cookie.encode("latin-1")) for cookie in self._cookies.values()]
        return raw

    def _client_gone(self) -> None:
        """The exchange's disconnect callback: tell the handler, unless it is done."""
        if self._sent:
            return
        result = self.on_connection_close()
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            if self._close_tasks is None:
                self._close_tasks = set()  # keeps the task alive until it is done
            self._close_tasks.add(task)
            task.add_done_callback(self._close_tasks.discard)

    # -- lifecycle hooks -------------------------------------------------------------------

    def _initialize(self, **kwargs: Any) -> None:
        """Take the route's keyword arguments (``(path, Handler, {"db": db})``)."""
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}.initialize() got route arguments {sorted(kwargs)}; "
                "define initialize() to take them"
            )

    # Typed as Callable[..., None] so that subclasses may take any keyword arguments.
    initialize: Callable[..., None] = _initialize

    def prepare(self) -> Awaitable[None] | None:
        """Called before the verb method; may be ``async def``. Finishing here stops."""
        return None

    def on_finish(self) -> Awaitable[None] | None:
        """Called after the response is complete (logging, cleanup); may be async."""
        return None

    def on_connection_close(self) -> Awaitable[None] | None:
        """Called (on the loop) when the client goes away before the response is complete."""
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """Receive a piece of the body (with :func:`stream_request_body`); may be async."""
        raise NotImplementedError(
            f"{type(self).__name__} uses @stream_request_body but defines no data_received()"
        )

    def set_default_headers(self) -> None:
        """Set headers every response of this handler starts with (called by clear())."""

    # -- output ------------------------------------------------------------------------------

    def set_status(self, status_code: int, reason: str | None = None) -> None:
        """Set the response status (100-599); ``reason`` is shown in error pages.

        Raises:
            ValueError: not a status code.
        """
        if isinstance(status_code, bool) or not isinstance(status_code, int):
            raise ValueError(f"status_code must be an int, got {status_code!r}")
        if not 100 <= status_code <= 599:
            raise ValueError(f"status_code must be 100-599, got {status_code!r}")
        self._check_headers_open("set_status")
        self._status = status_code
        self._reason = reason

    def get_status(self) -> int:
        return self._status

    def set_header(self, name: str, value: str | int | float | datetime.datetime) -> None:
        """Set header ``name``, replacing earlier values.

        Raises:
            ValueError: the name is not a token, or the value holds CR, LF or NUL.
        """
        header = _encode_header(name, value)
        if self._headers_written:
            raise RuntimeError("set_header() called after the headers were sent by flush()")
        key = header[0].lower()
        if self._headers is _DEFAULT_HEADERS and key == b"content-type":
            headers = []  # the usual case: replacing the only default header
        else:
            headers = [(k, v) for k, v in self._headers if k.lower() != key]  # a new list
        headers.append(header)
        self._headers = headers

    def add_header(self, name: str, value: str | int | float | datetime.datetime) -> None:
        """Add a value for header ``name``, keeping earlier ones."""
        header = _encode_header(name, value)
        self._check_headers_open("add_header")
        if self._headers is _DEFAULT_HEADERS:
            self._headers = list(_DEFAULT_HEADERS)
        self._headers.append(header)

    def clear_header(self, name: str) -> None:
        """Remove every value of header ``name``."""
        key = name.lower().encode("latin-1", "replace")  # "?": in no header name (a token)
        self._headers = [(k, v) for k, v in self._headers if k.lower() != key]

    def clear(self) -> None:
        """Reset status, headers (to the defaults) and the unsent body; cookies stay."""
        self._headers = _DEFAULT_HEADERS  # shared until a header is set (copy on write)
        self._status = 200
        self._reason = None
        self._write_buffer = []
        self.set_default_headers()

    def _check_headers_open(self, what: str) -> None:
        if self._headers_written:
            raise RuntimeError(f"{what}() called after the headers were sent by flush()")

    def write(self, chunk: str | bytes | dict[str, Any]) -> None:
        """Buffer ``chunk``: str (UTF-8), bytes, or a dict sent as JSON.

        A dict sets ``Content-Type: application/json`` and must be the whole body.

        Raises:
            RuntimeError: called after finish().
            TypeError: a list (a JSON array can be hijacked: wrap it in a dict), a dict
                after other content, or any other type.

        Example::

            self.write({"id": 1, "tags": ["a"]})
        """
        if self._finished:
            raise RuntimeError("write() called after finish()")
        if isinstance(chunk, str):  # the types are exclusive: the usual ones come first
            data = chunk.encode()
        elif isinstance(chunk, bytes | bytearray | memoryview):
            data = bytes(chunk)
        elif isinstance(chunk, dict):
            if self._write_buffer or self._headers_written:
                raise TypeError("write() of a dict must be the only content of the response")
            try:
                data = _json_encode(chunk)
            except (TypeError, msgspec.EncodeError) as exc:
                raise TypeError(f"write() cannot encode the dict as JSON: {exc}") from None
            self.set_header("content-type", "application/json")
        elif isinstance(chunk, list):
            raise TypeError(
                "write() does not accept lists (a top-level JSON array can be read by other "
                "sites); write a dict instead"
            )
        else:
            raise TypeError(f"write() takes str, bytes or dict, got {type(chunk).__name__}")
        self._write_buffer.append(data)

    def flush(self) -> Awaitable[None]:
        """Send the headers (the first time) and what was written so far, chunked.

        Await it for backpressure: it returns once the client has taken the data.
        Called from a plain ``def`` method (a worker thread), it blocks until then.

        Raises:
            RuntimeError: called after finish().

        Example::

            for row in rows:
                self.write(row)
                await self.flush()
        """
        if self._finished:
            raise RuntimeError("flush() called after finish()")
        head: tuple[int, list[tuple[bytes, bytes]]] | None = None
        if not self._headers_written:
            head = (self._status, self._raw_headers())
            self._headers_written = True
        data = b"".join(self._write_buffer)
        self._write_buffer.clear()
        loop = self._loop
        if loop is None:
            raise RuntimeError("flush() called before the handler started")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._flushing = asyncio.ensure_future(self._send(self._flushing, head, data))
            return self._flushing
        future = asyncio.run_coroutine_threadsafe(self._send(self._flushing, head, data), loop)
        try:
            future.result()
        finally:
            self._flushing = None
        return _Done()

    async def _send(
        self,
        previous: Awaitable[None] | None,
        head: tuple[int, list[tuple[bytes, bytes]]] | None,
        data: bytes,
    ) -> None:
        """One flush, after the previous one (flushes not awaited still go out in order)."""
        if previous is not None:
            await previous
        exchange = self.request.exchange
        if head is not None:
            exchange.start(*head)
        await exchange.write(data)

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> None:
        """End the response (after writing ``chunk``); it leaves when the method returns.

        Raises:
            RuntimeError: called twice.
        """
        if self._finished:
            raise RuntimeError("finish() called twice")
        if chunk is not None:
            self.write(chunk)
        self._finished = True

    def redirect(self, url: str, permanent: bool = False, status: int | None = None) -> None:
        """Redirect to ``url`` (302, or 301 when ``permanent``; any 3xx ``status``) and finish.

        Raises:
            RuntimeError: the headers were already sent.
            ValueError: ``status`` is not 3xx, or the URL holds CR or LF.
        """
        if self._headers_written:
            raise RuntimeError("redirect() called after the headers were sent by flush()")
        if status is None:
            status = 301 if permanent else 302
        elif isinstance(status, bool) or not isinstance(status, int) or not 300 <= status <= 399:
            raise ValueError(f"a redirect status must be 300-399, got {status!r}")
        if "\r" in url or "\n" in url:
            raise ValueError(f"invalid redirect url {url!r}")
        self.set_status(status)
        self.set_header("location", quote(url, safe="/:?#[]@!$&'()*+,;=%~-._"))
        self.finish()

    def render(self, template_name: str, **kwargs: Any) -> None:
        """Render a template and finish with it.

        The app's ``template_renderer`` setting (``(name, **namespace) -> str``) does the
        rendering; the namespace holds :meth:`get_template_namespace` and ``kwargs``.

        Raises:
            RuntimeError: no template renderer is configured.
        """
        self.finish(self.render_string(template_name, **kwargs))

    def render_string(self, template_name: str, **kwargs: Any) -> str:
        """Render a template to a string (see :meth:`render`)."""
        renderer = self.settings.get("template_renderer")
        if renderer is None:
            raise RuntimeError(
                f"no template renderer configured: cannot render {template_name!r} "
                "(set App(template_renderer=...) to a callable (name, **namespace) -> str)"
            )
        namespace = self.get_template_namespace()
        namespace.update(kwargs)
        text = renderer(template_name, **namespace)
        if not isinstance(text, str):
            raise TypeError(f"the template renderer returned {type(text).__name__}, not str")
        return text

    def get_template_namespace(self) -> dict[str, Any]:
        """What templates see besides their arguments (Tornado's names)."""
        return {
            "handler": self,
            "request": self.request,
            "current_user": self.current_user,
            "static_url": self.static_url,
            "reverse_url": self.reverse_url,
            "xsrf_form_html": self.xsrf_form_html,
        }

    # -- errors ------------------------------------------------------------------------------

    def not_found(self, reason: str | None = None) -> NoReturn:
        """Stop with a 404: ``post = await load(post_id) or self.not_found()``.

        Raises:
            HTTPError: always, 404 with ``reason`` (``Not Found`` by default).
        """
        raise HTTPError(404, reason)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        """Replace the response with an error page made by :meth:`write_error`.

        ``kwargs`` go to write_error; ``exc_info`` is the exception being reported.
        After flush() the headers are gone: the response just ends.
        """
        if self._headers_written:
            logger.error("cannot send a %d error after the headers were sent", status_code)
            self._finished = True
            return
        self.clear()
        reason = kwargs.get("reason")
        exc_info = kwargs.get("exc_info")
        if exc_info is not None and isinstance(exc_info[1], HTTPError):
            reason = exc_info[1].reason
            for name, value in exc_info[1].headers.items():
                self.set_header(name, value)
        self.set_status(status_code, reason)
        self._finished = False  # an error after finish() replaces that response
        try:
            self.write_error(status_code, **kwargs)
        except Exception:
            logger.exception("exception in %s.write_error()", type(self).__name__)
        self._finished = True

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Write the error page: a short HTML page; a traceback only with ``debug``.

        Override it for custom error pages (JSON for an API, …).
        """
        reason = self._reason or _phrase(status_code)
        title = html.escape(f"{status_code}: {reason}")
        page = f"<!DOCTYPE html>\n<html><title>{title}</title><body><h1>{title}</h1>"
        exc_info = kwargs.get("exc_info")
        if exc_info is not None and (
            self.settings.get("serve_traceback") or self.settings.get("debug")
        ):
            trace = "".join(traceback.format_exception(*exc_info))
            page += f"<pre>{html.escape(trace)}</pre>"
        self.finish(page + "</body></html>\n")

    def _handle_exception(self, exc: Exception) -> None:
        info: ExcInfo = (type(exc), exc, exc.__traceback__)
        self.log_exception(*info)
        if self._finished and not self._headers_written:
            return  # already answered: the error came after finish()
        status = exc.status if isinstance(exc, HTTPError) else 500
        self.send_error(status, exc_info=info)

    def log_exception(
        self, typ: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        """Log an exception from the handler: HTTPErrors only with a log_message."""
        if isinstance(value, HTTPError):
            if value.log_message:
                logger.warning("%d %s: %s", value.status, self._summary(), value.log_message)
            return
        logger.error("exception while handling %s", self._summary(), exc_info=(typ, value, tb))

    def _summary(self) -> str:
        return f"{self.request.method} {self.request.exchange.target.decode('latin-1')}"

    # -- URLs --------------------------------------------------------------------------------

    def reverse_url(self, name: str, /, *args: Any, **kwargs: Any) -> str:
        """The path of the route called ``name`` (``app.url_for``), inside any mount."""
        return self.request.root_path + self.app.url_for(name, *args, **kwargs)

    def static_url(self, path: str, include_host: bool | None = None, **kwargs: Any) -> str:
        """The URL of static file ``path``, from the app's ``static_url`` setting.

        Raises:
            RuntimeError: static files are not configured for this app.
        """
        make_url = self.settings.get("static_url")
        if not callable(make_url):
            raise RuntimeError(
                f"static_url({path!r}): static files are not configured for this app "
                "(no 'static_url' setting)"
            )
        url = str(make_url(path, **kwargs))
        if include_host:
            url = f"{self.request.scheme}://{self.request.host}{url}"
        return url


@dataclasses.dataclass(frozen=True, slots=True)  # slots: the fastest attributes to read
class _ClassFacts:
    """What a handler class defines, found on its first request rather than on each.

    Hooks the class does not override are skipped (the defaults do nothing).
    """

    clear: bool  # clear() or set_default_headers(): __init__ must call clear()
    initialize: bool
    prepare: bool
    on_finish: bool
    on_connection_close: bool
    async_get_current_user: bool
    stream_request_body: bool
    # HTTP method -> (the method's name, is it async): "HEAD" -> "get" without head().
    verbs: dict[str, tuple[str, bool]]


_CLASS_FACTS: dict[type, _ClassFacts] = {}


def _class_facts(cls: type[RequestHandler]) -> _ClassFacts:
    """The facts about ``cls``, remembered in ``_CLASS_FACTS``."""

    def overrides(name: str) -> bool:
        return getattr(cls, name) is not getattr(RequestHandler, name)

    verbs = {}
    for http_method in cls.SUPPORTED_METHODS:
        name = http_method.lower()
        if name == "head" and not callable(getattr(cls, "head", None)):
            name = "get"
        method = getattr(cls, name, None)
        if callable(method):
            verbs[http_method] = (name, _is_async(method))
    found = _CLASS_FACTS[cls] = _ClassFacts(
        clear=overrides("clear") or overrides("set_default_headers"),
        initialize=overrides("initialize"),
        prepare=overrides("prepare"),
        on_finish=overrides("on_finish"),
        on_connection_close=overrides("on_connection_close"),
        async_get_current_user=overrides("get_current_user")
        and inspect.iscoroutinefunction(cls.get_current_user),
        stream_request_body=cls._stream_request_body,
        verbs=verbs,
    )
    return found


# Whether a method is async, per function: _call() asks for every hook it runs.
_ASYNC: dict[Any, bool] = {}


def _is_async(method: Callable[..., Any]) -> bool:
    """``inspect.iscoroutinefunction``, remembered per function."""
    function = getattr(method, "__func__", method)
    found = _ASYNC.get(function)
    if found is None:
        found = inspect.iscoroutinefunction(method)
        if len(_ASYNC) < 65536:  # bounded: functions defined at run time are not kept forever
            _ASYNC[function] = found
    return found


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def stream_request_body(cls: H) -> H:
    """Class decorator: hand the body to ``data_received(chunk)`` as it arrives.

    Each piece goes to ``data_received`` (sync or async) after ``prepare`` and before
    the verb method; ``get_body_argument`` sees nothing for such a handler.

    Example::

        @stream_request_body
        class Upload(RequestHandler):
            def prepare(self) -> None:
                self.size = 0
            def data_received(self, chunk: bytes) -> None:
                self.size += len(chunk)
            def put(self) -> None:
                self.write(str(self.size))

    Raises:
        TypeError: ``cls`` is not a RequestHandler subclass.
    """
    if not (isinstance(cls, type) and issubclass(cls, RequestHandler)):
        raise TypeError(f"@stream_request_body decorates RequestHandler subclasses, got {cls!r}")
    cls._stream_request_body = True
    return cls


__all__ = [
    "MISSING",
    "Finish",
    "MissingArgumentError",
    "RequestHandler",
    "authenticated",
    "stream_request_body",
]
