"""The argument accessors of RequestHandler: ``get_argument`` & co, and ``MISSING``.

Tornado's names over two sources: the query string (``request.query``) and the fields
of a form body (``_body_arguments``, filled by RequestHandler before ``prepare``; files
stay in ``request.form()``). Values are checked for Unicode and cleaned of control
characters as Tornado does. RequestHandler inherits these methods from
:class:`ArgumentsMixin`; ``typhoon.web.handler`` re-exports ``MISSING`` and
:class:`MissingArgumentError`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeVar, overload

from typhoon.web.datastructures import MultiDict
from typhoon.web.errors import HTTPError

if TYPE_CHECKING:
    from typhoon.web.request import Request

D = TypeVar("D")

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f]")
# The shared starting value of a handler's body arguments.
_NO_ARGUMENTS: MultiDict[str] = MultiDict()


class _Missing:
    """The "no default" marker of the argument getters."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class MissingArgumentError(HTTPError):
    """A required argument is missing: 400 ``Missing argument <name>``.

    Attributes:
        arg_name: the name of the missing argument.
    """

    def __init__(self, arg_name: str) -> None:
        super().__init__(400, f"Missing argument {arg_name}")
        self.arg_name = arg_name


class ArgumentsMixin:
    """RequestHandler's argument accessors (see :mod:`typhoon.web.handler`)."""

    request: Request  # set by RequestHandler.__init__
    _body_arguments: MultiDict[str] = _NO_ARGUMENTS  # immutable: sharing it is safe

    @overload
    def get_argument(self, name: str, *, strip: bool = True) -> str: ...
    @overload
    def get_argument(self, name: str, default: D, strip: bool = True) -> str | D: ...

    def get_argument(self, name: str, default: Any = MISSING, strip: bool = True) -> Any:
        """The last value of argument ``name`` (query string, then form body).

        Raises:
            MissingArgumentError: absent and no default (400 ``Missing argument name``).
            HTTPError: 400 if the value is not valid UTF-8.

        Example::

            page = int(self.get_argument("page", "1"))
        """
        values = self.get_arguments(name, strip)
        return self._last(name, values, default)

    def get_arguments(self, name: str, strip: bool = True) -> list[str]:
        """Every value of argument ``name``, query string first, then form body."""
        return self._clean(name, self.request.query, strip) + self._clean(
            name, self._body_arguments, strip
        )

    @overload
    def get_query_argument(self, name: str, *, strip: bool = True) -> str: ...
    @overload
    def get_query_argument(self, name: str, default: D, strip: bool = True) -> str | D: ...

    def get_query_argument(self, name: str, default: Any = MISSING, strip: bool = True) -> Any:
        """The last value of ``name`` in the query string (see :meth:`get_argument`)."""
        return self._last(name, self.get_query_arguments(name, strip), default)

    def get_query_arguments(self, name: str, strip: bool = True) -> list[str]:
        return self._clean(name, self.request.query, strip)

    @overload
    def get_body_argument(self, name: str, *, strip: bool = True) -> str: ...
    @overload
    def get_body_argument(self, name: str, default: D, strip: bool = True) -> str | D: ...

    def get_body_argument(self, name: str, default: Any = MISSING, strip: bool = True) -> Any:
        """The last value of ``name`` in a form body (see :meth:`get_argument`)."""
        return self._last(name, self.get_body_arguments(name, strip), default)

    def get_body_arguments(self, name: str, strip: bool = True) -> list[str]:
        return self._clean(name, self._body_arguments, strip)

    @staticmethod
    def _last(name: str, values: list[str], default: Any) -> Any:
        if values:
            return values[-1]
        if default is MISSING:
            raise MissingArgumentError(name)
        return default

    @staticmethod
    def _clean(name: str, source: MultiDict[str], strip: bool) -> list[str]:
        values = []
        for value in source.getall(name):
            try:
                value.encode()
            except UnicodeEncodeError:
                raise HTTPError(400, f"Invalid unicode in argument {name}") from None
            value = _CONTROL_CHARS.sub(" ", value)
            values.append(value.strip() if strip else value)
        return values
