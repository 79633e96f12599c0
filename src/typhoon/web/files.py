"""File: a response that sends a file from disk, with validators, ranges and sendfile.

What a :class:`File` does when it is sent:

* opens the file (in a thread) and answers 404 if it is gone, unreadable or not a
  regular file;
* describes it: ``Content-Type`` from the extension, ``Content-Length``,
  ``Last-Modified``, an ``ETag`` made of the modification time and size, and
  ``Accept-Ranges: bytes``;
* evaluates the preconditions of RFC 9110 §13.2.2 in order: ``If-Match`` and
  ``If-Unmodified-Since`` (412), ``If-None-Match`` and ``If-Modified-Since`` (304);
* honours ``Range`` (one range: 206 with ``Content-Range``; several: 206
  ``multipart/byteranges``; none satisfiable: 416), unless ``If-Range`` no longer
  matches. A malformed ``Range`` is ignored, as RFC 9110 §14.2 asks;
* sends the body: a small file in one write, a large one with the OS's ``sendfile``
  when the connection supports it, else read in chunks in a thread and written with
  backpressure, so memory stays bounded by ``chunk_size``.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import mimetypes
import os
import re
import secrets
import stat
from collections.abc import Sequence
from typing import IO, Literal
from urllib.parse import quote

from typhoon.http.exchange import Exchange
from typhoon.web.response import HeaderInput, Response

__all__ = ["File", "format_content_disposition", "guess_media_type", "parse_range"]

Disposition = Literal["attachment", "inline"]

# Types the platform's mimetypes tables may not know or may spell in an older way.
_MEDIA_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".webmanifest": "application/manifest+json",
    ".md": "text/markdown",
}
# A compressed file served as it is (not as a Content-Encoding of something else).
_COMPRESSED_TYPES = {
    "gzip": "application/gzip",
    "br": "application/x-brotli",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
}
_TEXTUAL_TYPES = frozenset({"application/javascript", "image/svg+xml"})

# A request asking for more ranges than this gets the whole file instead.
MAX_RANGES = 64

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the open
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_ETAG_LIST = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')
_RANGE_SPEC = re.compile(r"([0-9]*)-([0-9]*)")
_ATTR_CHARS = "!#$&+-.^_`|~"  # RFC 5987 attr-char, besides letters and digits
_NOT_FOUND = (404, ((b"content-type", b"text/plain; charset=utf-8"),), b"404 Not Found\n")
_NO_304_HEADERS = frozenset(
    {
        b"content-type",
        b"content-length",
        b"content-disposition",
        b"content-encoding",
        b"content-language",
        b"content-range",
    }
)

Part = bytes | tuple[int, int]  # framing text, or (offset, length) of the file


def guess_media_type(name: str) -> str:
    """The media type for a file name, by its extension.

    Text types get ``charset=utf-8``; a compressed archive (``.gz``, ``.br``...) is
    its compressed type, never ``Content-Encoding``; unknown is
    ``application/octet-stream``.

    Example::

        guess_media_type("app.js")      # "text/javascript; charset=utf-8"
    """
    extension = os.path.splitext(name)[1].lower()
    media = _MEDIA_TYPES.get(extension)
    if media is None:
        guessed, encoding = mimetypes.guess_type(name, strict=False)
        if encoding is not None:
            media = _COMPRESSED_TYPES.get(encoding, "application/octet-stream")
        else:
            media = guessed or "application/octet-stream"
    if media.startswith("text/") or media in _TEXTUAL_TYPES:
        media += "; charset=utf-8"
    return media


def format_content_disposition(kind: Disposition, filename: str) -> str:
    """A ``Content-Disposition`` value (RFC 6266), with ``filename*`` (RFC 5987) if needed.

    Example::

        format_content_disposition("attachment", "résumé.pdf")
        # 'attachment; filename="r_sum_.pdf"; filename*=UTF-8\\'\\'r%C3%A9sum%C3%A9.pdf'

    Raises:
        ValueError: ``kind`` is neither "attachment" nor "inline".
    """
    if kind not in ("attachment", "inline"):
        raise ValueError(f"content_disposition must be 'attachment' or 'inline', got {kind!r}")
    fallback = "".join(
        char if " " <= char <= "~" and char not in '"\\' else "_" for char in filename
    )
    value = f'{kind}; filename="{fallback}"'
    if fallback != filename:
        value += "; filename*=UTF-8''" + quote(filename, safe=_ATTR_CHARS)
    return value


class File(Response):
    """A file from disk, sent efficiently and answering conditional and range requests.

    Args:
        path: the file to send.
        filename: the name the client should save it under (``Content-Disposition``);
            also used to guess the type. Defaults to the file's own name when a
            disposition is asked for.
        media_type: the ``Content-Type``; guessed from the name when not given.
        headers: extra headers, sent with every answer (``Cache-Control``...).
        stat_result: the ``os.stat()`` of ``path`` when already known (after a
            security check, say): the file opened must be that same file (device and
            inode), or the answer is 404.
        chunk_size: the read size for files sent piece by piece; files up to this
            size are sent in one write.
        content_disposition: ``"attachment"`` (download) or ``"inline"``; None
            sends no ``Content-Disposition`` unless ``filename`` is given (then
            ``attachment``).

    Example::

        @app.get("/report")
        async def report(request):
            return File("/srv/reports/2024.pdf", filename="Rapport 2024.pdf")

    Raises:
        TypeError: ``path`` is not a string or path, or ``chunk_size`` not an int.
        ValueError: ``chunk_size`` is below 1, or ``content_disposition`` unknown.
    """

    __slots__ = ("chunk_size", "path", "stat_result")

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        filename: str | None = None,
        media_type: str | None = None,
        headers: HeaderInput = None,
        stat_result: os.stat_result | None = None,
        chunk_size: int = 64 * 1024,
        content_disposition: Disposition | None = None,
    ) -> None:
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be a str or os.PathLike, got {path!r}")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
            raise TypeError(f"chunk_size must be an int, got {chunk_size!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size!r}")
        if content_disposition not in (None, "attachment", "inline"):
            raise ValueError(
                "content_disposition must be 'attachment', 'inline' or None, "
                f"got {content_disposition!r}"
            )
        self.path = os.fspath(path)
        self.stat_result = stat_result
        self.chunk_size = chunk_size
        name = filename or os.path.basename(self.path)
        super().__init__(b"", 200, headers, media_type or guess_media_type(name))
        kind = content_disposition or ("attachment" if filename is not None else None)
        if kind is not None:
            self.raw_headers.append(
                (b"content-disposition", format_content_disposition(kind, name).encode("latin-1"))
            )

    def __repr__(self) -> str:
        return f"<File {self.status} {self.path!r}>"

    async def send(self, exchange: Exchange) -> None:
        loop = asyncio.get_running_loop()
        want_body = exchange.method != "HEAD"
        opening = loop.run_in_executor(None, self._open, want_body)
        try:
            file, info, data = await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_opened)
            raise
        except OSError:
            exchange.respond(*_NOT_FOUND)
            return
        try:
            size = info.st_size if data is None else len(data)
            status, headers, parts = self._plan(exchange, info, size)
            if status != 304:
                total = sum(len(p) if isinstance(p, bytes) else p[1] for p in parts)
                headers.append((b"content-length", b"%d" % total))
            if not want_body or status == 304:
                exchange.respond(status, headers)
            elif file is None or all(isinstance(p, bytes) for p in parts):
                exchange.respond(status, headers, _assemble(parts, data or b""))
            else:
                await self._stream(exchange, file, status, headers, parts)
        finally:
            if file is not None:
                file.close()

    # -- opening -------------------------------------------------------------------------

    def _open(self, want_body: bool) -> tuple[IO[bytes] | None, os.stat_result, bytes | None]:
        """Open and check the file; read it whole when it is small (in a thread).

        Returns the open file (None once read whole), its stat, and the whole content
        (None when it is large or not wanted).
        """
        fd = os.open(self.path, _OPEN_FLAGS)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise IsADirectoryError(self.path)
            expected = self.stat_result
            if expected is not None and (info.st_dev, info.st_ino) != (
                expected.st_dev,
                expected.st_ino,
            ):
                raise FileNotFoundError(self.path)  # replaced since it was checked
            file = open(fd, "rb", buffering=0)  # noqa: SIM115 (closed by send)
        except BaseException:
            os.close(fd)
            raise
        if want_body and info.st_size > self.chunk_size:
            return file, info, None  # to be streamed
        with file:
            return None, info, _read(file, info.st_size) if want_body else None

    # -- deciding what to send -----------------------------------------------------------

    def _plan(
        self, exchange: Exchange, info: os.stat_result, size: int
    ) -> tuple[int, list[tuple[bytes, bytes]], list[Part]]:
        """The status, headers (without Content-Length) and body parts to send."""
        if self.status != 200:
            return self.status, list(self.raw_headers), [(0, size)] if size else []
        request = _RequestHeaders(exchange.headers)
        etag = self.header("etag") or f'"{info.st_mtime_ns:x}-{size:x}"'
        modified = int(info.st_mtime)
        validators = [(b"accept-ranges", b"bytes")]
        if self.header("etag") is None:
            validators.append((b"etag", etag.encode("latin-1")))
        if self.header("last-modified") is None:
            validators.append((b"last-modified", _http_date(modified).encode("latin-1")))

        failed = _check_preconditions(request, exchange.method, etag, modified)
        if failed == 304:
            kept = [(k, v) for k, v in self.raw_headers if k.lower() not in _NO_304_HEADERS]
            return 304, kept + validators, []
        if failed == 412:
            return 412, [*_TEXT, *validators], [b"412 Precondition Failed\n"]

        headers = list(self.raw_headers) + validators
        ranges = None
        if exchange.method in ("GET", "HEAD"):
            range_header = request.get(b"range")
            if range_header is not None and _if_range_holds(request, etag, modified):
                ranges = parse_range(range_header, size)
        if ranges is None:
            return 200, headers, [(0, size)] if size else []
        if not ranges:
            unsatisfied = [*_TEXT, (b"content-range", b"bytes */%d" % size), *validators]
            return 416, unsatisfied, [b"416 Range Not Satisfiable\n"]
        if len(ranges) == 1:
            start, end = ranges[0]
            headers.append((b"content-range", b"bytes %d-%d/%d" % (start, end, size)))
            return 206, headers, [(start, end - start + 1)]
        return 206, *_multipart(headers, ranges, size)

    # -- sending -------------------------------------------------------------------------

    async def _stream(
        self,
        exchange: Exchange,
        file: IO[bytes],
        status: int,
        headers: list[tuple[bytes, bytes]],
        parts: list[Part],
    ) -> None:
        loop = asyncio.get_running_loop()
        exchange.start(status, headers)
        use_sendfile = True
        for part in parts:
            if isinstance(part, bytes):
                await exchange.write(part)
                continue
            offset, count = part
            if use_sendfile:
                if await exchange.sendfile(file, offset, count):
                    continue
                use_sendfile = False
            while count:
                data = await loop.run_in_executor(
                    None, _read_at, file, offset, min(count, self.chunk_size)
                )
                if not data:
                    break  # the file shrank: end() reports it and the connection closes
                await exchange.write(data)
                offset += len(data)
                count -= len(data)
        await exchange.end()


_TEXT = ((b"content-type", b"text/plain; charset=utf-8"),)


class _RequestHeaders:
    """The few request headers a file response reads (repeats joined with ", ")."""

    __slots__ = ("_values",)

    def __init__(self, raw: Sequence[tuple[bytes, bytes]]) -> None:
        values: dict[bytes, str] = {}
        for name, value in raw:
            if name in (
                b"range",
                b"if-range",
                b"if-match",
                b"if-none-match",
                b"if-modified-since",
                b"if-unmodified-since",
            ):
                text = value.decode("latin-1")
                values[name] = values[name] + ", " + text if name in values else text
        self._values = values

    def get(self, name: bytes) -> str | None:
        return self._values.get(name)


def _check_preconditions(
    request: _RequestHeaders, method: str, etag: str, modified: int
) -> int | None:
    """412 or 304 when a precondition says so (RFC 9110 §13.2.2), else None."""
    if_match = request.get(b"if-match")
    if if_match is not None:
        if not _etag_matches(if_match, etag, weak=False):
            return 412
    else:
        since = _parse_date(request.get(b"if-unmodified-since"))
        if since is not None and modified > since:
            return 412
    if_none_match = request.get(b"if-none-match")
    if if_none_match is not None:
        if _etag_matches(if_none_match, etag, weak=True):
            return 304 if method in ("GET", "HEAD") else 412
    elif method in ("GET", "HEAD"):
        since = _parse_date(request.get(b"if-modified-since"))
        if since is not None and modified <= since:
            return 304
    return None


def _etag_matches(header: str, etag: str, *, weak: bool) -> bool:
    """Whether an ``If-Match``/``If-None-Match`` list names ``etag`` (RFC 9110 §8.8.3.2)."""
    if header.strip() == "*":
        return True
    ours = etag[2:] if etag.startswith("W/") else etag
    if etag.startswith("W/") and not weak:
        return False
    pos = 0
    while pos < len(header):
        found = _ETAG_LIST.match(header, pos)
        if found is None:
            return False  # malformed from here on
        pos = found.end()
        if (weak or not found.group(1)) and f'"{found.group(2)}"' == ours:
            return True
    return False


def _if_range_holds(request: _RequestHeaders, etag: str, modified: int) -> bool:
    """Without If-Range, or when it still names this file (strong comparison)."""
    if_range = request.get(b"if-range")
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(('"', "W/")):
        return not value.startswith("W/") and not etag.startswith("W/") and value == etag
    return _parse_date(value) == modified


def parse_range(header: str, size: int) -> list[tuple[int, int]] | None:
    """The satisfiable byte ranges of a ``Range`` header, as inclusive ``(first, last)``.

    Returns None to ignore the header (malformed, another unit, too many ranges, or
    more bytes in all than the file), and an empty list when no range is satisfiable.

    Example::

        parse_range("bytes=0-99, -100", 1000)     # [(0, 99), (900, 999)]
    """
    unit, equals, spec = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    items = [item.strip() for item in spec.split(",")]
    items = [item for item in items if item]
    if not items or len(items) > MAX_RANGES:
        return None
    ranges: list[tuple[int, int]] = []
    for item in items:
        found = _RANGE_SPEC.fullmatch(item)
        if found is None or not (found.group(1) or found.group(2)):
            return None
        first, last = found.group(1), found.group(2)
        if first:
            start = _number(first)
            end = _number(last) if last else size - 1
            if last and end < start:
                return None
            if start < size:
                ranges.append((start, min(end, size - 1)))
        else:
            suffix = _number(last)
            if suffix and size:
                ranges.append((max(size - suffix, 0), size - 1))
    if sum(end - start + 1 for start, end in ranges) > size:
        return None  # overlapping ranges asking for more than the file: send it once
    return ranges


def _multipart(
    headers: list[tuple[bytes, bytes]], ranges: list[tuple[int, int]], size: int
) -> tuple[list[tuple[bytes, bytes]], list[Part]]:
    boundary = secrets.token_hex(16).encode("ascii")
    media = b"application/octet-stream"
    kept: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name.lower() == b"content-type":
            media = value
        else:
            kept.append((name, value))
    kept.append((b"content-type", b"multipart/byteranges; boundary=" + boundary))
    parts: list[Part] = []
    for start, end in ranges:
        parts.append(
            b"--%b\r\ncontent-type: %b\r\ncontent-range: bytes %d-%d/%d\r\n\r\n"
            % (boundary, media, start, end, size)
        )
        parts.append((start, end - start + 1))
        parts.append(b"\r\n")
    parts.append(b"--%b--\r\n" % boundary)
    return kept, parts


def _assemble(parts: list[Part], data: bytes) -> bytes:
    return b"".join(p if isinstance(p, bytes) else data[p[0] : p[0] + p[1]] for p in parts)


def _close_opened(
    opening: asyncio.Future[tuple[IO[bytes] | None, os.stat_result, bytes | None]],
) -> None:
    """Close the file an abandoned open produced (its request was cancelled)."""
    if not opening.cancelled() and opening.exception() is None:
        file = opening.result()[0]
        if file is not None:
            file.close()


def _number(digits: str) -> int:
    """Decimal digits as an int; absurdly long ones (beyond any file) are capped."""
    return int(digits) if len(digits) <= 18 else 10**18


def _http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


def _parse_date(value: str | None) -> int | None:
    """An HTTP-date as a Unix time in seconds, or None when absent or invalid."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
        if moment.tzinfo is None:  # asctime and "-0000" dates are UTC too
            moment = moment.replace(tzinfo=datetime.UTC)
        return int(moment.timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _read(file: IO[bytes], size: int) -> bytes:
    """Read up to ``size`` bytes (fewer only at end of file)."""
    pieces = []
    while size > 0:
        piece = file.read(size)
        if not piece:
            break
        pieces.append(piece)
        size -= len(piece)
    return b"".join(pieces)


def _read_at(file: IO[bytes], offset: int, size: int) -> bytes:
    file.seek(offset)
    return _read(file, size)
