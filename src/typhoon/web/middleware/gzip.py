"""GZip: compress response bodies for clients that can decode them.

Rules (all must hold for a response to be compressed):

* the request is not HEAD (HEAD responses pass through untouched);
* the response is a plain :class:`Response` (or a subclass that keeps its ``send``) or a
  :class:`Streaming`; :class:`Sent` and responses that send themselves another way
  (files, for instance) pass through;
* the status is not 1xx, 204, 206 or 304, there is no ``Content-Encoding`` yet and
  ``Cache-Control`` does not say ``no-transform``;
* the media type is one of ``media_types``, and never ``text/event-stream``;
* a whole body is at least ``minimum_size`` bytes (a stream: unless it declares a
  ``Content-Length`` below that);
* the client accepts ``br`` or ``gzip`` with a q-value above zero (RFC 9110 §12.5.3).

``Vary: Accept-Encoding`` is added to every response that meets the rules up to the
client's choice, so that caches keep compressed and plain copies apart. Brotli is used
when the ``brotli`` module is installed and the client values it at least as much as
gzip. Streams are compressed piece by piece, each piece flushed, so a slow stream still
reaches the client as it is produced.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import re
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from typing import Protocol, cast

from typhoon.web.app import CallNext
from typhoon.web.request import Request
from typhoon.web.response import Response, Sent, Streaming

__all__ = ["DEFAULT_MEDIA_TYPES", "GZip", "add_vary", "choose_encoding", "parse_accept_encoding"]

DEFAULT_MEDIA_TYPES = (
    "text/*",
    "application/json",
    "application/*+json",
    "application/javascript",
    "application/xml",
    "application/*+xml",
    "application/wasm",
    "image/svg+xml",
)

# Bodies above this size are compressed on the app's thread pool, not on the loop.
THREAD_THRESHOLD_BYTES = 256 * 1024

_NO_BODY_STATUSES = frozenset({204, 206, 304})
# RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_is_qvalue = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?").fullmatch
_is_token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch


class _BrotliCompressor(Protocol):
    def process(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...

    def finish(self) -> bytes: ...


class _BrotliModule(Protocol):
    """The part of the ``brotli`` package used here (it ships no type information)."""

    def compress(self, data: bytes, *, quality: int) -> bytes: ...

    def Compressor(self, *, quality: int) -> _BrotliCompressor: ...


class _GzipCompressor:
    """A gzip stream with brotli's compressor interface."""

    __slots__ = ("_deflate",)

    def __init__(self, level: int) -> None:
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def process(self, data: bytes) -> bytes:
        return self._deflate.compress(data)

    def flush(self) -> bytes:
        # A sync flush ends the piece on a byte boundary: the client can decode it now.
        return self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._deflate.flush(zlib.Z_FINISH)


def _load_brotli() -> _BrotliModule | None:
    try:
        return cast(_BrotliModule, importlib.import_module("brotli"))
    except ImportError:
        return None


def parse_accept_encoding(value: str) -> dict[str, float]:
    """Read an ``Accept-Encoding`` value into ``{coding: q}`` (RFC 9110 §12.5.3).

    Codings are lower-cased and ``x-gzip`` counts as ``gzip``. An entry with a malformed
    q-value is ignored, and the first mention of a coding wins.

    Example::

        parse_accept_encoding("gzip;q=0.5, br, *;q=0")   # {"gzip": 0.5, "br": 1.0, "*": 0.0}
    """
    weights: dict[str, float] = {}
    for item in value.split(","):
        coding, *params = item.split(";")
        coding = coding.strip().lower()
        if not _is_token(coding):
            continue
        q: float | None = 1.0
        for param in params:
            name, _, raw = param.partition("=")
            if name.strip().lower() == "q":
                raw = raw.strip()
                q = float(raw) if _is_qvalue(raw) else None
        if q is None:
            continue
        weights.setdefault("gzip" if coding == "x-gzip" else coding, q)
    return weights


def choose_encoding(accept_encoding: str | None, offered: Sequence[str]) -> str | None:
    """The coding of ``offered`` the client values most, or None when it takes none.

    ``offered`` is in the server's order of preference, which settles ties. An absent
    header means "no preference", which is answered without compression.

    Example::

        choose_encoding("gzip, br;q=0.8", ("br", "gzip"))   # "gzip"
    """
    if not accept_encoding:
        return None
    weights = parse_accept_encoding(accept_encoding)
    default = weights.get("*", 0.0)
    best: str | None = None
    best_q = 0.0
    for coding in offered:
        q = weights.get(coding, default)
        if q > best_q:
            best, best_q = coding, q
    return best


def add_vary(response: Response, field: str) -> None:
    """Add ``field`` to the response's ``Vary`` header, merging with what is there.

    Example::

        add_vary(response, "Accept-Encoding")   # "Vary: Cookie" becomes "Cookie, Accept-Encoding"
    """
    fields: list[str] = []
    for name, value in response.raw_headers:
        if name.lower() == b"vary":
            fields.extend(f.strip() for f in value.decode("latin-1").split(",") if f.strip())
    lowered = {f.lower() for f in fields}
    if "*" in lowered or field.lower() in lowered:
        return
    fields.append(field)
    response.set_header("vary", ", ".join(fields))


def _media_matcher(
    patterns: Iterable[str],
) -> tuple[frozenset[str], tuple[tuple[str, str], ...], bool]:
    """Split ``type/sub``, ``type/*``, ``type/*+suffix`` and ``*/*`` patterns for matching.

    Returns the exact types, the ``(type/, +suffix)`` pairs of the wildcards (the suffix
    empty for ``type/*``), and whether ``*/*`` was given.
    """
    exact: set[str] = set()
    wild: list[tuple[str, str]] = []
    everything = False
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise TypeError(f"media_types must hold strings, got {pattern!r}")
        kind, slash, sub = pattern.strip().lower().partition("/")
        sub_token = sub[2:] if sub.startswith("*+") else sub
        if not slash or not _is_token(kind) or not _is_token(sub_token):
            raise ValueError(
                f"media_types: {pattern!r} is not 'type/subtype', 'type/*' or 'type/*+suffix'"
            )
        if kind == "*":
            if sub != "*":
                raise ValueError(f"media_types: {pattern!r} must be '*/*' when the type is '*'")
            everything = True
        elif sub == "*":
            wild.append((kind + "/", ""))
        elif sub.startswith("*+"):
            wild.append((kind + "/", sub[1:]))
        else:
            exact.add(f"{kind}/{sub}")
    return frozenset(exact), tuple(wild), everything


class GZip:
    """Compress responses with gzip, or brotli when it is installed and preferred.

    Args:
        minimum_size: bodies shorter than this many bytes are sent as they are.
        compresslevel: the gzip level, 1 (fast) to 9 (small).
        media_types: the content types to compress: ``"type/subtype"``, ``"type/*"``,
            ``"type/*+suffix"`` or ``"*/*"``. ``text/event-stream`` never is.
        brotli: offer brotli (``br``) when the ``brotli`` module is importable.
        brotli_quality: the brotli quality, 0 to 11 (11 is too slow for dynamic pages).

    Raises:
        ValueError: a number is out of range or a media type is malformed.
        TypeError: an argument has the wrong type.

    Example::

        app.add_middleware(GZip(minimum_size=500))
    """

    def __init__(
        self,
        minimum_size: int = 500,
        *,
        compresslevel: int = 6,
        media_types: Iterable[str] = DEFAULT_MEDIA_TYPES,
        brotli: bool = True,
        brotli_quality: int = 4,
    ) -> None:
        _check_int("minimum_size", minimum_size, 0, None)
        _check_int("compresslevel", compresslevel, 1, 9)
        _check_int("brotli_quality", brotli_quality, 0, 11)
        if isinstance(media_types, str):
            media_types = (media_types,)
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel
        self.brotli_quality = brotli_quality
        self._exact, self._wild, self._everything = _media_matcher(media_types)
        self._brotli = _load_brotli() if brotli else None
        self.encodings: tuple[str, ...] = ("br", "gzip") if self._brotli else ("gzip",)

    def __repr__(self) -> str:
        return f"GZip(minimum_size={self.minimum_size}, encodings={self.encodings})"

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        if request.method == "HEAD" or not self._eligible(response):
            return response
        add_vary(response, "Accept-Encoding")
        accept = ",".join(request.headers.getall("accept-encoding"))
        coding = choose_encoding(accept, self.encodings)
        if coding is None:
            return response
        if isinstance(response, Streaming):
            response.iterator = self._compress_stream(response.iterator, coding)
        else:
            body = response.body
            work = functools.partial(self._compress, coding, body)
            compressed: bytes = (
                await request.app.run_in_thread(work)
                if len(body) > THREAD_THRESHOLD_BYTES
                else work()
            )
            if len(compressed) >= len(body):
                return response
            response.body = compressed
        response.delete_header("content-length")
        response.set_header("content-encoding", coding)
        etag = response.header("etag")
        if etag is not None and not etag.startswith("W/"):
            response.set_header("etag", "W/" + etag)
        return response

    def _eligible(self, response: Response) -> bool:
        """Whether the response may be compressed, whatever the client accepts."""
        kind = type(response)
        if isinstance(response, Sent):
            return False
        streaming = isinstance(response, Streaming)
        if streaming:
            if kind.send is not Streaming.send:
                return False
        elif kind.send is not Response.send:
            return False
        status = response.status
        if status < 200 or status in _NO_BODY_STATUSES:
            return False
        encoding = response.header("content-encoding")
        if encoding is not None and encoding.strip().lower() not in ("", "identity"):
            return False
        cache_control = response.header("cache-control")
        if cache_control is not None and "no-transform" in cache_control.lower():
            return False
        if not self._compressible(response.header("content-type")):
            return False
        if not streaming:
            return len(response.body) >= self.minimum_size
        length = response.header("content-length")
        return length is None or not length.isdigit() or int(length) >= self.minimum_size

    def _compressible(self, content_type: str | None) -> bool:
        if not content_type:
            return False
        media = content_type.partition(";")[0].strip().lower()
        if media == "text/event-stream":
            return False
        if self._everything or media in self._exact:
            return True
        return any(
            media.startswith(prefix) and media.endswith(suffix) for prefix, suffix in self._wild
        )

    def _compress(self, coding: str, body: bytes) -> bytes:
        if coding == "br" and self._brotli is not None:
            return self._brotli.compress(body, quality=self.brotli_quality)
        return gzip.compress(body, compresslevel=self.compresslevel, mtime=0)

    async def _compress_stream(
        self, iterator: AsyncIterable[bytes | str], coding: str
    ) -> AsyncIterator[bytes]:
        """Compress each piece and flush it, so the client can decode it at once."""
        compressor: _BrotliCompressor
        if coding == "br" and self._brotli is not None:
            compressor = self._brotli.Compressor(quality=self.brotli_quality)
        else:
            compressor = _GzipCompressor(self.compresslevel)
        try:
            async for piece in iterator:
                data = piece.encode() if isinstance(piece, str) else piece
                if data:
                    yield compressor.process(data) + compressor.flush()
            yield compressor.finish()
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()


def _check_int(name: str, value: object, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
