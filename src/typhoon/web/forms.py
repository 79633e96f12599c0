"""Form bodies: application/x-www-form-urlencoded and multipart/form-data."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from typhoon.web.datastructures import MultiDict
from typhoon.web.errors import HTTPError

if TYPE_CHECKING:
    from typhoon.web.request import Request


class FormData(MultiDict[str]):
    """Form fields by name (the last value wins for ``form[name]``; see ``getall``)."""

    __slots__ = ()


async def parse_form(request: Request) -> FormData:
    """Parse the request body as a form.

    Raises:
        HTTPError: 415 for a body that is not a form, 400 for a malformed one.
    """
    kind = request.content_type
    if kind in ("application/x-www-form-urlencoded", ""):
        body = await request.body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPError(400, "form body is not valid UTF-8") from None
        return FormData(parse_qsl(text, keep_blank_values=True))
    raise HTTPError(415, f"cannot parse a {kind!r} body as a form")
