"""Static files: a directory served under a URL prefix, safely and cache-friendly.

Rules of operation:

* **Nothing outside the directory.** A request path with ``..`` or ``.`` segments
  (also percent-encoded), a backslash, a NUL, an empty segment or a leading ``/``
  is a 404, as are hidden files and directories (any segment starting with ``.``).
  The path is then resolved: with ``follow_symlinks=False`` any symbolic link on
  the way is a 404; with ``follow_symlinks=True`` links are followed but the target
  must stay inside the directory (and not be hidden).
* **Regular files only.** A directory is a 404, unless ``index`` names the file to
  serve for it (``dir`` then redirects to ``dir/``). Devices, FIFOs and sockets are
  404s. The file is opened only if it is the one that was checked (same inode).
* **Caching.** ``Cache-Control: public, max-age=<max_age>``; a versioned URL (one
  with ``?v=``, as made by :meth:`StaticFiles.url`) is cached for a year and marked
  ``immutable``. Validators, conditional requests and ranges come from
  :class:`~typhoon.web.files.File`.
* **Precompressed siblings.** With ``precompressed=True``, ``app.js.br`` or
  ``app.js.gz`` next to ``app.js`` is sent instead (brotli first) to a client that
  accepts that coding, with ``Content-Encoding``; every response for a file that
  has siblings says ``Vary: Accept-Encoding``. A request with ``Range`` always gets
  the uncompressed file, so byte offsets mean the same thing to every client.

Errors found before sending (not found, traversal) are raised as ``HTTPError(404)``,
so the app's error handlers see them.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple
from urllib.parse import quote

from typhoon.web.errors import HTTPError
from typhoon.web.files import File, guess_media_type
from typhoon.web.handler import RequestHandler
from typhoon.web.response import Redirect, Response

if TYPE_CHECKING:
    from typhoon.web.app import App
    from typhoon.web.request import Request

__all__ = ["StaticFileHandler", "StaticFiles"]

# Precompressed siblings, in order of preference: (Content-Encoding, file suffix).
_SIBLINGS = (("br", ".br"), ("gzip", ".gz"))


class _Found(NamedTuple):
    """A file chosen to answer a request."""

    path: str  # what to send (maybe a compressed sibling)
    info: os.stat_result
    original: str  # the uncompressed file, whose type is sent
    encoding: str | None
    varies: bool  # the file has precompressed siblings


class _Redirect(NamedTuple):
    """A directory asked for without its trailing slash."""


class StaticFiles:
    """Serve the files of ``directory`` under ``prefix``.

    Args:
        directory: the directory to serve (resolved once, here).
        prefix: the URL prefix, starting with ``/`` and not ending with it ("" for
            the root).
        max_age: seconds a client may cache an unversioned file.
        versioned_max_age: seconds for a versioned URL (``?v=...``), sent with
            ``immutable``.
        precompressed: send ``.br``/``.gz`` siblings to clients that accept them.
        follow_symlinks: follow symbolic links that stay inside ``directory``
            (otherwise any link is a 404).
        index: the file to serve for a directory (``"index.html"``); directories
            are 404s without it.

    Example::

        app = App()
        static = StaticFiles("static", prefix="/assets")
        static.install(app)                     # GET /assets/css/site.css
        static.url("css/site.css")              # "/assets/css/site.css?v=3f2a9c0d11b7"

    Raises:
        ValueError: ``directory`` is not a directory, or a bad prefix, age or index.
        TypeError: an argument of the wrong type.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        prefix: str = "/static",
        max_age: int = 3600,
        versioned_max_age: int = 31536000,
        precompressed: bool = True,
        follow_symlinks: bool = False,
        index: str | None = None,
    ) -> None:
        if not isinstance(directory, str | os.PathLike):
            raise TypeError(f"directory must be a str or os.PathLike, got {directory!r}")
        if not isinstance(prefix, str) or (
            prefix and (not prefix.startswith("/") or prefix.endswith("/"))
        ):
            raise ValueError(
                f"prefix must be '' or start with '/' and not end with it, got {prefix!r}"
            )
        for name, value in (("max_age", max_age), ("versioned_max_age", versioned_max_age)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {value!r}")
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if index is not None and (
            not isinstance(index, str)
            or not index
            or index.startswith(".")
            or "/" in index
            or "\\" in index
            or "\x00" in index
        ):
            raise ValueError(f"index must be a plain, visible file name, got {index!r}")
        root = os.path.realpath(os.fspath(directory))
        if not os.path.isdir(root):
            raise ValueError(f"directory {os.fspath(directory)!r} is not a directory")
        self.directory = root
        self.prefix = prefix
        self.max_age = max_age
        self.versioned_max_age = versioned_max_age
        self.precompressed = precompressed
        self.follow_symlinks = follow_symlinks
        self.index = index
        self._inside = root.rstrip(os.sep) + os.sep
        self._cache_control = f"public, max-age={max_age}"
        self._versioned_cache_control = f"public, max-age={versioned_max_age}, immutable"
        self._versions: dict[str, tuple[int, int, str]] = {}

    def __repr__(self) -> str:
        return f"<StaticFiles {self.directory!r} at {self.prefix or '/'!r}>"

    # -- wiring ----------------------------------------------------------------------------

    def install(self, app: App, *, name: str | None = None) -> None:
        """Add the GET/HEAD route ``prefix/{path:path}`` to ``app``, and ``static_url``.

        ``app.settings["static_url"]`` becomes :meth:`url`, which
        ``RequestHandler.static_url`` and templates use.

        Example::

            StaticFiles("static").install(app)

        Raises:
            RuntimeError: the app is already serving.
        """
        app.add_route(self.prefix + "/{path:path}", self.serve, ("GET",), name=name)
        if self.index is not None:
            app.add_route(self.prefix + "/", self.serve, ("GET",))
        app.settings["static_url"] = self.url

    # -- serving ---------------------------------------------------------------------------

    async def serve(self, request: Request, path: str = "") -> Response:
        """Answer a GET or HEAD for ``path`` (relative to the directory, URL-decoded).

        Raises:
            HTTPError: 404 for anything that is not a visible regular file inside the
                directory (or a directory with ``index``).
        """
        checked = _split(path)
        if checked is None:
            raise HTTPError(404)
        segments, trailing = checked
        codings: frozenset[str] = frozenset()
        if self.precompressed and "range" not in request.headers:
            codings = _accepted_codings(", ".join(request.headers.getall("accept-encoding")))
        find = functools.partial(self._find, segments, trailing, codings)
        found = await request.app.run_in_thread(find)
        if found is None:
            raise HTTPError(404)
        if isinstance(found, _Redirect):
            query = request.exchange.query.decode("latin-1")
            location = request.exchange.path.decode("latin-1") + "/"
            return Redirect(location + ("?" + query if query else ""), 301)
        headers = [
            (
                "cache-control",
                self._versioned_cache_control if "v" in request.query else self._cache_control,
            )
        ]
        if found.varies:
            headers.append(("vary", "Accept-Encoding"))
        if found.encoding is not None:
            headers.append(("content-encoding", found.encoding))
        return File(
            found.path,
            media_type=guess_media_type(found.original),
            headers=headers,
            stat_result=found.info,
        )

    def _find(
        self, segments: list[str], trailing: bool, codings: frozenset[str]
    ) -> _Found | _Redirect | None:
        """Resolve and check a request path (in a thread: it touches the disk)."""
        real = self._resolve(os.path.join(self.directory, *segments))
        info = _stat(real)
        if real is None or info is None:
            return None
        if stat.S_ISDIR(info.st_mode):
            if self.index is None:
                return None
            if segments and not trailing:
                return _Redirect()
            real = self._resolve(os.path.join(real, self.index))
            info = _stat(real)
            if real is None or info is None:
                return None
        elif trailing:
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        found = _Found(real, info, real, None, False)
        if self.precompressed:
            for coding, suffix in _SIBLINGS:
                sibling = self._resolve(real + suffix)
                sibling_info = _stat(sibling)
                if sibling is None or sibling_info is None:
                    continue
                if not stat.S_ISREG(sibling_info.st_mode):
                    continue
                found = found._replace(varies=True)
                if coding in codings and found.encoding is None:
                    found = found._replace(path=sibling, info=sibling_info, encoding=coding)
        return found

    def _resolve(self, path: str) -> str | None:
        """The real path of ``path`` if it may be served, else None.

        ``path`` is already normalized (clean segments under the resolved directory),
        so any difference with its real path is a symbolic link.
        """
        real = os.path.realpath(path)
        if real == path:
            return real
        if not self.follow_symlinks:
            return None
        if not real.startswith(self._inside):
            return None  # a link out of the directory (or to the directory itself)
        if any(part.startswith(".") for part in real[len(self._inside) :].split(os.sep)):
            return None
        return real

    # -- URLs ------------------------------------------------------------------------------

    def url(self, path: str, *, include_version: bool = True, **_: Any) -> str:
        """The URL of ``path``: ``prefix/path?v=<hash>`` for cache busting.

        The version is the first 12 hex digits of the SHA-256 of the content, cached
        until the file's modification time or size changes. A file that cannot be
        served gets no version.

        Example::

            static.url("css/site.css")     # "/static/css/site.css?v=9b1d0c55e2a4"
        """
        relative = path.lstrip("/")
        url = f"{self.prefix}/{quote(relative)}"
        if include_version:
            version = self.version(relative)
            if version is not None:
                url += "?v=" + version
        return url

    def version(self, path: str) -> str | None:
        """The content hash of ``path`` for :meth:`url`, or None if it cannot be served."""
        checked = _split(path)
        if checked is None or checked[1]:
            return None
        real = self._resolve(os.path.join(self.directory, *checked[0]))
        info = _stat(real)
        if real is None or info is None or not stat.S_ISREG(info.st_mode):
            return None
        key = (info.st_mtime_ns, info.st_size)
        cached = self._versions.get(real)
        if cached is not None and cached[:2] == key:
            return cached[2]
        try:
            with open(real, "rb") as file:
                digest = hashlib.file_digest(file, "sha256").hexdigest()[:12]
        except OSError:
            return None
        self._versions[real] = (*key, digest)
        return digest


class StaticFileHandler(RequestHandler):
    """Tornado's ``StaticFileHandler``: serve a directory from a handler route.

    It keeps :class:`StaticFiles`' rules (no traversal, no hidden files, no symlinks,
    ranges, validators, precompressed siblings); ``?v=`` URLs are cached for a year.

    Example::

        app = App([(r"/static/(.*)", StaticFileHandler, {"path": "/var/www"})])

    Raises:
        ValueError: (at the first request) ``path`` is not a directory.
    """

    _served: ClassVar[dict[tuple[str, str | None], StaticFiles]] = {}

    def initialize(self, path: str, default_filename: str | None = None) -> None:
        self.root = path
        self.default_filename = default_filename

    async def get(self, path: str = "", include_body: bool = True) -> Response:
        """Send the file at ``path``; a HEAD request gets the headers only."""
        key = (self.root, self.default_filename)
        files = self._served.get(key)
        if files is None:
            files = StaticFiles(self.root, prefix="", index=self.default_filename)
            self._served[key] = files
        return await files.serve(self.request, path)


def _split(path: str) -> tuple[list[str], bool] | None:
    """The segments of a request path and whether it ends with ``/``; None if unsafe."""
    if not path:
        return [], True
    if "\x00" in path or "\\" in path or path.startswith("/"):
        return None
    trailing = path.endswith("/")
    segments = (path[:-1] if trailing else path).split("/")
    for segment in segments:
        if not segment or segment.startswith("."):
            return None  # "", ".", "..", hidden
        if os.sep in segment or (os.altsep and os.altsep in segment):
            return None
        if os.path.splitdrive(segment)[0]:
            return None  # "C:" on Windows
    return segments, trailing


def _stat(path: str | None) -> os.stat_result | None:
    if path is None:
        return None
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _accepted_codings(header: str) -> frozenset[str]:
    """Which of br and gzip an ``Accept-Encoding`` value accepts (q above zero)."""
    weights: dict[str, float] = {}
    for item in header.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
        weights[coding] = weight
    default = weights.get("*", 0.0)
    return frozenset(coding for coding, _ in _SIBLINGS if weights.get(coding, default) > 0)
