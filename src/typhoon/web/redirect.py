"""RedirectHandler: a route that only redirects (Tornado's ``tornado.web.RedirectHandler``).

Rules:

* ``url`` is a ``str.format`` template filled with the route's captures: ``{0}`` for a
  Tornado regex group, ``{name}`` for a named one or a ``{name}`` parameter.
* Each capture is percent-encoded before it goes in, so a value from the request path
  cannot add a header line, a query or a fragment to the Location; ``/`` is kept.
* The request's query string is carried over (after ``&`` when ``url`` has one).
* ``permanent=True`` (the default, as in Tornado) answers 301, else 302; ``status``
  picks any 3xx (308 keeps a POST a POST).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from typhoon.web.handler import RequestHandler

# What a path segment may hold unencoded (RFC 3986 pchar), plus "/" between segments.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class RedirectHandler(RequestHandler):
    """Redirect every GET (and HEAD) to ``url``, filled with the path's captures.

    Example::

        app = App([
            (r"/old", RedirectHandler, {"url": "/new"}),
            (r"/pictures/(.*)", RedirectHandler, {"url": "/photos/{0}"}),
        ])
        app.add_route("/u/{name}", RedirectHandler, url="/users/{name}", permanent=False)

    Raises (at the first request):
        KeyError, IndexError: ``url`` names a capture the route does not have.
    """

    def initialize(self, url: str, permanent: bool = True, status: int | None = None) -> None:
        if not isinstance(url, str):
            raise TypeError(f"RedirectHandler url must be a str, got {url!r}")
        self._redirect_url = url
        self._redirect_permanent = permanent
        self._redirect_status = status

    async def get(self, *args: Any, **kwargs: Any) -> None:  # async: no thread for a redirect
        params = {key: _encode(value) for key, value in kwargs.items()}
        target = self._redirect_url.format(*map(_encode, args), **params)
        query = self.request.exchange.query
        if query:
            target += ("&" if "?" in target else "?") + query.decode("latin-1")
        self.redirect(target, permanent=self._redirect_permanent, status=self._redirect_status)


def _encode(value: Any) -> str:
    """A capture, percent-encoded to stay inside the path (None, an unmatched group: "")."""
    return "" if value is None else quote(str(value), safe=_PATH_SAFE)
