"""Form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data``.

How it works: :func:`parse_form` reads the body piece by piece from ``request.stream()``
and feeds each piece to python-multipart's streaming parser (``QuerystringParser`` or
``MultipartParser``). The parser's callbacks are synchronous: they gather field bytes,
checking the limits as the bytes grow, and queue the bytes of files, which are written
to their :class:`UploadFile` once the piece is parsed. A file stays in memory up to
``spool_threshold`` bytes and then moves to a temporary file; from then on its reads
and writes run in a thread, so the event loop never waits on the disk.

Rules:

- The body is never held whole. Memory is bounded by one network piece, the field
  values (``max_fields`` times ``max_field_bytes`` at worst, and never more than the
  server's ``max_body_bytes``) and ``spool_threshold`` per file.
- Every failure is an :class:`HTTPError` with a reason (400 malformed, 413 over a
  limit, 415 not a form); the files created before it are closed at once.
- Uploaded files are closed when the request ends (the App calls ``request.close()``),
  even if the view never closes them.

Limits come from the keyword arguments of ``request.form()``, else from
``app.settings``, else from these defaults:

==================  =======================  =======  =====================================
argument            ``app.settings`` key     default  over it
==================  =======================  =======  =====================================
max_fields          form_max_fields          1000     413 (plain fields, not files)
max_files           form_max_files           100      413 (file parts)
max_field_bytes     form_max_field_bytes     1 MiB    413 (a field's name or its value)
max_part_bytes      form_max_part_bytes      16 MiB   413 (one uploaded file)
spool_threshold     form_spool_threshold     1 MiB    the file moves from memory to disk
==================  =======================  =======  =====================================
"""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import unquote_to_bytes

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, QuerystringParser, parse_options_header

from typhoon.web.datastructures import Headers, MultiDict
from typhoon.web.errors import HTTPError

if TYPE_CHECKING:
    from types import TracebackType

    from python_multipart.multipart import MultipartCallbacks, QuerystringCallbacks

    from typhoon.web.request import Request

T = TypeVar("T")

KiB: Final = 1024
MiB: Final = 1024 * KiB

MAX_BOUNDARY_BYTES: Final = 256
"""The longest multipart boundary accepted (RFC 2046 allows 70; some leeway for odd clients)."""

URLENCODED: Final = "application/x-www-form-urlencoded"
MULTIPART: Final = "multipart/form-data"


@dataclass(frozen=True, slots=True)
class FormLimits:
    """How much a form body may hold; see the module docstring for the table.

    Attributes:
        max_fields: plain (non-file) fields; urlencoded pairs count here too.
        max_files: file parts of a multipart body.
        max_field_bytes: the name or the value of one plain field, as sent.
        max_part_bytes: the content of one uploaded file.
        spool_threshold: bytes of a file kept in memory before it moves to disk.

    Raises:
        TypeError: a limit is not an integer.
        ValueError: a limit is negative (or ``spool_threshold`` below 1).

    Example::

        limits = FormLimits.resolve(app.settings, max_files=0)   # no uploads here
        assert limits.max_fields == 1000
    """

    max_fields: int = 1000
    max_files: int = 100
    max_field_bytes: int = MiB
    max_part_bytes: int = 16 * MiB
    spool_threshold: int = MiB

    def __post_init__(self) -> None:
        for name in _LIMIT_NAMES:
            _check_limit(name, getattr(self, name), name)

    @classmethod
    def resolve(cls, settings: Mapping[str, Any], **given: int | None) -> FormLimits:
        """Take each limit from ``given`` if not None, else ``settings["form_<name>"]``.

        Raises:
            TypeError: an unknown keyword, or a limit that is not an integer.
            ValueError: a limit out of range (the message names where it came from).
        """
        unknown = set(given) - set(_LIMIT_NAMES)
        if unknown:
            raise TypeError(f"unknown form limits: {', '.join(sorted(unknown))}")
        values: dict[str, int] = {}
        for name in _LIMIT_NAMES:
            value = given.get(name)
            if value is not None:
                values[name] = _check_limit(name, value, name)
            elif "form_" + name in settings:
                key = "form_" + name
                values[name] = _check_limit(name, settings[key], f"app.settings[{key!r}]")
        return cls(**values)


_LIMIT_NAMES: Final = (
    "max_fields",
    "max_files",
    "max_field_bytes",
    "max_part_bytes",
    "spool_threshold",
)


def _check_limit(name: str, value: object, source: str) -> int:
    least = 1 if name == "spool_threshold" else 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{source} must be an integer, got {value!r}")
    if value < least:
        raise ValueError(f"{source} must be at least {least}, got {value!r}")
    return value


class UploadFile:
    """A file sent in a multipart form.

    The content is in :attr:`file`, a :class:`tempfile.SpooledTemporaryFile`: in memory
    up to ``spool_threshold`` bytes, then in a temporary file on disk. The async methods
    run in a thread once the file is on disk. The file is closed when the request ends.

    Attributes:
        filename: the name the client gave (never use it as a path as it is).
        content_type: the part's ``Content-Type`` (``application/octet-stream`` if absent).
        headers: every header of the part.
        size: bytes written so far.
        file: the underlying file object, positioned at the start once parsed.

    Example::

        upload = (await request.form())["avatar"]
        if isinstance(upload, UploadFile):
            await upload.save(media_dir / f"{user_id}.png")
    """

    __slots__ = ("_threshold", "content_type", "file", "filename", "headers", "size")

    def __init__(
        self,
        filename: str,
        *,
        content_type: str = "application/octet-stream",
        headers: Headers | None = None,
        spool_threshold: int = MiB,
    ) -> None:
        _check_limit("spool_threshold", spool_threshold, "spool_threshold")
        self.filename = filename
        self.content_type = content_type
        self.headers = headers if headers is not None else Headers([])
        self.size = 0
        self._threshold = spool_threshold
        # Not a context manager: close() closes it, and the end of the request calls close().
        spool = tempfile.SpooledTemporaryFile(max_size=spool_threshold)  # noqa: SIM115
        self.file: tempfile.SpooledTemporaryFile[bytes] = spool

    def __repr__(self) -> str:
        return (
            f"UploadFile(filename={self.filename!r}, content_type={self.content_type!r}, "
            f"size={self.size})"
        )

    @property
    def in_memory(self) -> bool:
        """The content is still in memory (not yet spooled to disk)."""
        return isinstance(self.file._file, io.BytesIO)

    @property
    def closed(self) -> bool:
        return self.file.closed

    async def write(self, data: bytes) -> None:
        """Write ``data`` at the current position (in a thread if it reaches the disk)."""
        if self.in_memory and self.file.tell() + len(data) <= self._threshold:
            self.file.write(data)
            self.size = max(self.size, self.file.tell())
        else:
            await _in_thread(self._write, data)

    def _write(self, data: bytes) -> None:
        self.file.write(data)  # passing the threshold moves the content to disk here
        self.size = max(self.size, self.file.tell())

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes from the current position (all of them by default)."""
        if self.in_memory:
            return self.file.read(size)
        return await _in_thread(self.file.read, size)

    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the position, as :meth:`io.IOBase.seek`; return the new one."""
        if self.in_memory:
            return self.file.seek(offset, whence)
        return await _in_thread(self.file.seek, offset, whence)

    async def save(self, path: str | os.PathLike[str]) -> int:
        """Write the whole content to ``path`` (in a thread); return the bytes written.

        The position is left at the end of the file.
        """
        return await _in_thread(self._save, os.fspath(path))

    def _save(self, path: str) -> int:
        self.file.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(self.file, out)
            return out.tell()

    async def close(self) -> None:
        """Close the file; its temporary file, if any, is deleted. Safe to call twice."""
        # No thread: closing releases a descriptor of an already unlinked file.
        self.file.close()

    async def __aenter__(self) -> UploadFile:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def _in_thread(func: Callable[..., T], *args: Any) -> T:
    """Run ``func(*args)`` in a thread; a cancel waits for it to end before going on.

    Otherwise the cleanup that follows a cancel could close the file while the thread
    is still using it (or is moving it to disk, which would leak the new file).
    """
    task = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task})
        raise


class FormData(MultiDict["str | UploadFile"]):
    """Form fields by name: ``str`` for plain fields, :class:`UploadFile` for files.

    ``form[name]`` is the last value of ``name``; :meth:`getall` gives all of them.

    Example::

        form = await request.form()
        title = form.get("title", "")
        photos = [f for f in form.getall("photo") if isinstance(f, UploadFile)]
    """

    __slots__ = ()

    async def close(self) -> None:
        """Close every uploaded file of the form."""
        for _, value in self.multi_items():
            if isinstance(value, UploadFile):
                await value.close()


async def parse_form(
    request: Request,
    *,
    max_fields: int | None = None,
    max_files: int | None = None,
    max_field_bytes: int | None = None,
    max_part_bytes: int | None = None,
    spool_threshold: int | None = None,
) -> FormData:
    """Parse the request body as a form, streaming it; limits as in the module docstring.

    A body without a ``Content-Type`` is read as urlencoded (an empty body gives an
    empty form). Names and values are UTF-8 (RFC 7578 §5.1; a part's charset is not
    consulted). Limits left as None come from ``app.settings``, else the defaults.

    Raises:
        HTTPError: 415 when the body is not a form; 400 when it is malformed, a field is
            not UTF-8, or a multipart body lacks its boundary or its closing boundary;
            413 when a limit is exceeded (the reason names it).
        TypeError, ValueError: a limit is not a non-negative integer.

    Example::

        form = await parse_form(request, max_files=1)
        name = form["name"]
    """
    limits = FormLimits.resolve(
        request.app.settings,
        max_fields=max_fields,
        max_files=max_files,
        max_field_bytes=max_field_bytes,
        max_part_bytes=max_part_bytes,
        spool_threshold=spool_threshold,
    )
    kind = request.content_type
    if kind in (URLENCODED, ""):
        return await _parse_urlencoded(request, limits)
    if kind == MULTIPART:
        return await _parse_multipart(request, limits)
    raise HTTPError(415, f"a form body must be {URLENCODED} or {MULTIPART}")


# -- application/x-www-form-urlencoded -------------------------------------------------


class _UrlencodedReader:
    """The QuerystringParser's callbacks: gather names and values within the limits."""

    def __init__(self, limits: FormLimits) -> None:
        self.limits = limits
        self.items: list[tuple[str, str | UploadFile]] = []
        self._count = 0
        self._name = bytearray()
        self._value = bytearray()

    def callbacks(self) -> QuerystringCallbacks:
        return {
            "on_field_start": self.on_field_start,
            "on_field_name": self.on_field_name,
            "on_field_data": self.on_field_data,
            "on_field_end": self.on_field_end,
        }

    def on_field_start(self) -> None:
        self._count += 1
        if self._count > self.limits.max_fields:
            raise _too_many_fields(self.limits)
        self._name.clear()
        self._value.clear()

    def on_field_name(self, data: bytes, start: int, end: int) -> None:
        _grow(self._name, data, start, end, self.limits)

    def on_field_data(self, data: bytes, start: int, end: int) -> None:
        _grow(self._value, data, start, end, self.limits)

    def on_field_end(self) -> None:
        self.items.append((_unquote(self._name), _unquote(self._value)))


async def _parse_urlencoded(request: Request, limits: FormLimits) -> FormData:
    reader = _UrlencodedReader(limits)
    parser = QuerystringParser(reader.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:  # not raised when parsing leniently, but stay safe
        raise HTTPError(400, f"malformed form body: {exc}") from None
    return FormData(reader.items)


def _unquote(raw: bytearray) -> str:
    """Decode ``+`` and ``%XX`` (a malformed escape stays as it is), then UTF-8."""
    return _utf8(unquote_to_bytes(bytes(raw).replace(b"+", b" ")), "a form field")


# -- multipart/form-data ---------------------------------------------------------------


class _MultipartReader:
    """The MultipartParser's callbacks: build fields and files within the limits.

    File bytes are queued in :attr:`pending`; :meth:`flush` writes them after each
    piece of the body, as writing may need a thread.
    """

    def __init__(self, limits: FormLimits) -> None:
        self.limits = limits
        self.items: list[tuple[str, str | UploadFile]] = []
        self.uploads: list[UploadFile] = []
        self.pending: list[tuple[UploadFile, bytes]] = []
        self.ended = False
        self._fields = 0
        self._files = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._name = ""
        self._upload: UploadFile | None = None
        self._value = bytearray()
        self._part_bytes = 0

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._headers = []
        self._upload = None
        self._value.clear()
        self._part_bytes = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        name = bytes(self._header_name).strip().lower()
        self._headers.append((name, bytes(self._header_value).strip(b" \t")))
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        headers = Headers(self._headers)
        disposition = headers.get("content-disposition")
        if disposition is None:
            raise HTTPError(400, "a multipart part has no Content-Disposition header")
        kind, params = parse_options_header(disposition)
        if kind != b"form-data":
            raise HTTPError(400, "a multipart part is not form-data (RFC 7578)")
        name = params.get(b"name")
        if name is None:
            raise HTTPError(400, "a multipart part has no name")
        self._name = _utf8(name, "a multipart field name")
        filename = params.get(b"filename")
        limits = self.limits
        if filename is None:
            self._fields += 1
            if self._fields > limits.max_fields:
                raise _too_many_fields(limits)
            return
        self._files += 1
        if self._files > limits.max_files:
            raise HTTPError(413, f"too many files in the form (max_files={limits.max_files})")
        upload = UploadFile(
            _utf8(filename, "a file name"),
            content_type=headers.get("content-type") or "application/octet-stream",
            headers=headers,
            spool_threshold=limits.spool_threshold,
        )
        self.uploads.append(upload)
        self.items.append((self._name, upload))
        self._upload = upload

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self._upload
        if upload is None:
            _grow(self._value, data, start, end, self.limits)
            return
        self._part_bytes += end - start
        if self._part_bytes > self.limits.max_part_bytes:
            raise HTTPError(
                413,
                f"an uploaded file is larger than max_part_bytes ({self.limits.max_part_bytes})",
            )
        self.pending.append((upload, data[start:end]))

    def on_part_end(self) -> None:
        if self._upload is None:
            self.items.append((self._name, _utf8(self._value, "a form field")))

    def on_end(self) -> None:
        self.ended = True

    async def flush(self) -> None:
        """Write the queued file bytes, one write per file."""
        pending, self.pending = self.pending, []
        for upload, group in itertools.groupby(pending, key=lambda item: item[0]):
            await upload.write(b"".join(data for _, data in group))

    def close_files(self) -> None:
        for upload in self.uploads:
            upload.file.close()


async def _parse_multipart(request: Request, limits: FormLimits) -> FormData:
    boundary = _boundary(request.headers.get("content-type", ""))
    reader = _MultipartReader(limits)
    try:
        try:
            parser = MultipartParser(boundary, reader.callbacks())
            async for chunk in request.stream():
                parser.write(chunk)
                if reader.pending:
                    await reader.flush()
            parser.finalize()
        except FormParserError as exc:
            raise HTTPError(400, f"malformed multipart body: {exc}") from None
        if not reader.ended:
            raise HTTPError(400, "the multipart body ends before its closing boundary")
        for upload in reader.uploads:
            await upload.seek(0)
    except BaseException:  # an error, a disconnect or a cancel: no file may stay open
        reader.close_files()
        raise
    return FormData(reader.items)


def _boundary(content_type: str) -> bytes:
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise HTTPError(400, "multipart/form-data without a boundary parameter")
    if len(boundary) > MAX_BOUNDARY_BYTES:
        raise HTTPError(400, f"multipart boundary longer than {MAX_BOUNDARY_BYTES} bytes")
    return boundary


# -- shared ----------------------------------------------------------------------------


def _grow(buffer: bytearray, data: bytes, start: int, end: int, limits: FormLimits) -> None:
    if len(buffer) + end - start > limits.max_field_bytes:
        raise HTTPError(
            413, f"a form field is longer than max_field_bytes ({limits.max_field_bytes})"
        )
    buffer += memoryview(data)[start:end]


def _too_many_fields(limits: FormLimits) -> HTTPError:
    return HTTPError(413, f"too many fields in the form (max_fields={limits.max_fields})")


def _utf8(raw: bytes | bytearray, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError(400, f"{what} is not valid UTF-8") from None
