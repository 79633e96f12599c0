"""Routes and the router: path syntax, converters, matching, reverse URLs.

Path syntax: ``/items/{id:int}``, ``/files/{p:path}``, ``/u/{name}`` (a segment),
``{x:float}``, ``{u:uuid}``, and any converter registered with the app. A path that
contains a regex group, like Tornado's ``r"/item/(\\d+)"``, is a regular expression
anchored at both ends; its groups become positional (or, when named, keyword)
arguments.

HOT PATH: :meth:`Router.resolve` runs once per request. Static paths are found with
one dict lookup; dynamic routes are bucketed by their first literal segment and each
bucket is tried in registration order, so a table of hundreds of routes costs a dict
lookup and a handful of regex matches.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class Converter(Protocol):
    """Turns one path parameter into a Python value and back.

    ``regex`` is what the parameter may match; ``to_python`` may raise ValueError to
    reject a match (the route then does not match).
    """

    regex: str

    def to_python(self, value: str) -> Any: ...

    def to_url(self, value: Any) -> str: ...


class StrConverter:
    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: Any) -> str:
        text = str(value)
        if not text or "/" in text:
            raise ValueError(f"a str path parameter must be non-empty without '/', got {text!r}")
        return quote(text, safe="")


class PathConverter(StrConverter):
    regex = ".+"

    def to_url(self, value: Any) -> str:
        return quote(str(value), safe="/")


class IntConverter:
    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"an int path parameter must be a non-negative int, got {value!r}")
        return str(value)


class FloatConverter:
    regex = r"[0-9]+(?:\.[0-9]+)?"

    def to_python(self, value: str) -> float:
        return float(value)

    def to_url(self, value: Any) -> str:
        number = float(value)
        if number < 0 or number != number or number in (float("inf"),):
            raise ValueError(f"a float path parameter must be finite and >= 0, got {value!r}")
        return repr(number)


class UUIDConverter:
    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_url(self, value: Any) -> str:
        return str(uuid.UUID(str(value)))


DEFAULT_CONVERTERS: Mapping[str, Converter] = {
    "str": StrConverter(),
    "path": PathConverter(),
    "int": IntConverter(),
    "float": FloatConverter(),
    "uuid": UUIDConverter(),
}

_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_][A-Za-z0-9_]*))?}")
_REGEX_HINT = re.compile(r"[()\\^$*+?\[\]|]")


@dataclass(frozen=True, slots=True)
class CompiledPath:
    """A route path ready for matching and reversing."""

    source: str
    regex: re.Pattern[str] | None  # None for a static path
    params: tuple[tuple[str, Converter], ...] = ()
    template: str = ""  # for reversing: "/items/{id}"
    positional: int = 0  # unnamed regex groups (Tornado style)
    prefix: str = ""  # the literal part before the first parameter

    @property
    def is_static(self) -> bool:
        return self.regex is None


def compile_path(
    path: str, converters: Mapping[str, Converter] = DEFAULT_CONVERTERS
) -> CompiledPath:
    """Compile ``path`` (``{name:conv}`` syntax or a Tornado-style regex).

    Raises:
        ValueError: the path does not start with ``/``, names an unknown converter,
            repeats a parameter, or is not a valid regular expression.
    """
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"route path must be a string starting with '/', got {path!r}")
    if "{" not in path and not _REGEX_HINT.search(path):
        return CompiledPath(path, None, template=path, prefix=path)
    if "{" not in path:
        return _compile_regex(path)

    pattern = ["^"]
    template = []
    params: list[tuple[str, Converter]] = []
    pos = 0
    for match in _PARAM.finditer(path):
        literal = path[pos : match.start()]
        pattern.append(re.escape(literal))
        template.append(literal)
        name, kind = match.group(1), match.group(2) or "str"
        if kind not in converters:
            raise ValueError(f"unknown converter {kind!r} in route path {path!r}")
        if any(name == seen for seen, _ in params):
            raise ValueError(f"parameter {name!r} appears twice in route path {path!r}")
        converter = converters[kind]
        params.append((name, converter))
        pattern.append(f"(?P<{name}>{converter.regex})")
        template.append("{" + name + "}")
        pos = match.end()
    tail = path[pos:]
    if "{" in tail or "}" in tail:
        raise ValueError(f"malformed parameter in route path {path!r}")
    pattern.append(re.escape(tail) + "$")
    template.append(tail)
    first = _PARAM.search(path)
    prefix = path[: first.start()] if first else path
    return CompiledPath(
        path, re.compile("".join(pattern)), tuple(params), "".join(template), 0, prefix
    )


def _compile_regex(path: str) -> CompiledPath:
    source = path if path.endswith("$") else path + "$"
    try:
        regex = re.compile(source if source.startswith("^") else "^" + source)
    except re.error as exc:
        raise ValueError(f"route path {path!r} is not a valid regular expression: {exc}") from None
    named = tuple((name, DEFAULT_CONVERTERS["str"]) for name in regex.groupindex)
    positional = regex.groups - len(named)
    body = path[1:] if path.startswith("^") else path
    prefix = re.match(r"[^()\\^$*+?\[\]|.{]*", body).group(0)  # type: ignore[union-attr]
    if body[len(prefix) : len(prefix) + 1] in ("?", "*", "+", "{"):
        prefix = prefix[:-1]  # the quantifier makes the last character optional
    if "|" in body:
        prefix = ""  # a top-level alternative may start anywhere
    return CompiledPath(path, regex, named, "", positional, prefix)


@dataclass(eq=False)
class Route:
    """One entry in the routing table.

    Args:
        path: ``/items/{id:int}`` syntax or a Tornado-style regex.
        endpoint: an ``async def view(request, **params)`` function, or a
            ``RequestHandler`` subclass.
        methods: the methods a view answers (default GET; HEAD follows GET). For a
            handler class, the methods it implements.
        name: the name for :meth:`Router.url_for`.
        kwargs: keyword arguments for a handler's ``initialize()``.
        host: when set, the route matches only this host (a regex, anchored).
    """

    path: str
    endpoint: Any
    methods: Iterable[str] | None = None
    name: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    host: str | None = None
    compiled: CompiledPath = field(init=False)
    method_set: frozenset[str] = field(init=False)
    host_regex: re.Pattern[str] | None = field(init=False, default=None)
    converters: Mapping[str, Converter] = field(
        default_factory=lambda: DEFAULT_CONVERTERS, repr=False
    )

    def __post_init__(self) -> None:
        self.compiled = compile_path(self.path, self.converters)
        methods = {m.upper() for m in (self.methods or ("GET",))}
        unknown = methods - set(METHODS)
        if unknown:
            raise ValueError(f"unknown HTTP method(s) {sorted(unknown)} for route {self.path!r}")
        if "GET" in methods:
            methods.add("HEAD")
        self.method_set = frozenset(methods)
        if self.host is not None:
            self.host_regex = re.compile(self.host if self.host.endswith("$") else self.host + "$")

    def match(self, path: str) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        """Return (positional args, keyword params) when ``path`` matches, else None."""
        compiled = self.compiled
        if compiled.regex is None:
            return ((), {}) if path == compiled.source else None
        found = compiled.regex.match(path)
        if found is None:
            return None
        if compiled.positional:
            return tuple(found.groups()), {}
        params = found.groupdict()
        try:
            return (), {name: conv.to_python(params[name]) for name, conv in compiled.params}
        except ValueError:
            return None

    def matches_host(self, host: str) -> bool:
        return self.host_regex is None or self.host_regex.match(host) is not None

    def url(self, *args: Any, **params: Any) -> str:
        """Build this route's path from parameters.

        Raises:
            ValueError: a parameter is missing, unexpected, or rejected by its converter.
        """
        compiled = self.compiled
        if compiled.regex is None:
            if args or params:
                raise ValueError(f"route {self.path!r} takes no parameters")
            return compiled.source
        if compiled.positional:
            return _reverse_regex(compiled.source, args)
        names = {name for name, _ in compiled.params}
        missing = names - params.keys()
        extra = params.keys() - names
        if missing or extra or args:
            raise ValueError(
                f"route {self.path!r} takes parameters {sorted(names)}; "
                f"missing {sorted(missing)}, unexpected {sorted(extra)}"
            )
        values = {name: conv.to_url(params[name]) for name, conv in compiled.params}
        return compiled.template.format(**values)


def _reverse_regex(pattern: str, args: tuple[Any, ...]) -> str:
    """Fill the groups of a simple Tornado-style pattern with ``args``, in order."""
    body = pattern.lstrip("^").rstrip("$")
    pieces = re.split(r"\([^)]*\)", body)
    if len(pieces) - 1 != len(args):
        raise ValueError(f"route {pattern!r} takes {len(pieces) - 1} argument(s), got {len(args)}")
    out = [pieces[0]]
    for arg, piece in zip(args, pieces[1:], strict=True):
        out.append(quote(str(arg), safe=""))
        out.append(piece)
    path = "".join(out).replace("\\", "")
    if _REGEX_HINT.search(path.replace("?", "")):
        raise ValueError(f"route {pattern!r} is too complex to reverse")
    return path


class NotFound(Exception):
    """No route matches the path."""


class MethodNotAllowed(Exception):
    """A route matches the path but not the method."""

    def __init__(self, allowed: frozenset[str]) -> None:
        super().__init__(", ".join(sorted(allowed)))
        self.allowed = allowed


class SlashRedirect(Exception):
    """The path matches with its trailing slash added or removed."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class Router:
    """A routing table: add routes, then :meth:`resolve` requests against it.

    Args:
        redirect_slashes: when a path fails to match but would match with its trailing
            slash added or removed, raise :class:`SlashRedirect` instead of NotFound.
    """

    def __init__(self, *, redirect_slashes: bool = False) -> None:
        self.routes: list[Route] = []
        self.redirect_slashes = redirect_slashes
        self._static: dict[str, list[Route]] = {}
        self._buckets: dict[str, list[Route]] = {}
        self._unbucketed: list[Route] = []
        self._names: dict[str, Route] = {}
        self._frozen = False

    def add(self, route: Route) -> Route:
        """Add ``route``; a name may be used once.

        Raises:
            RuntimeError: the router is frozen (the app is serving).
            ValueError: the name is taken.
        """
        if self._frozen:
            raise RuntimeError(f"cannot add route {route.path!r}: the app is already serving")
        if route.name is not None:
            if route.name in self._names:
                raise ValueError(f"a route named {route.name!r} already exists")
            self._names[route.name] = route
        self.routes.append(route)
        compiled = route.compiled
        if compiled.is_static:
            self._static.setdefault(compiled.source, []).append(route)
        else:
            key = _bucket_key(compiled.prefix)
            if key is None:
                self._unbucketed.append(route)
            else:
                self._buckets.setdefault(key, []).append(route)
        return route

    def freeze(self) -> None:
        self._frozen = True

    @property
    def frozen(self) -> bool:
        return self._frozen

    def resolve(
        self, method: str, path: str, host: str = ""
    ) -> tuple[Route, tuple[Any, ...], dict[str, Any]]:
        """Find the route for a request.

        Raises:
            NotFound: nothing matches the path.
            MethodNotAllowed: the path matches, the method does not.
            SlashRedirect: the path matches once its trailing slash is toggled.
        """
        allowed: set[str] = set()
        for route, args, params in self._candidates(path, host):
            if method in route.method_set:
                return route, args, params
            allowed |= route.method_set
        if allowed:
            raise MethodNotAllowed(frozenset(allowed))
        if self.redirect_slashes and path != "/":
            other = path[:-1] if path.endswith("/") else path + "/"
            for _ in self._candidates(other, host):
                raise SlashRedirect(other)
        raise NotFound(path)

    def _candidates(
        self, path: str, host: str
    ) -> Iterable[tuple[Route, tuple[Any, ...], dict[str, Any]]]:
        static = self._static.get(path)
        if static is not None:
            for route in static:
                if route.host_regex is None or route.matches_host(host):
                    yield route, (), {}
        key = _first_segment(path)
        for group in (self._buckets.get(key, ()), self._unbucketed):
            for route in group:
                if route.host_regex is not None and not route.matches_host(host):
                    continue
                found = route.match(path)
                if found is not None:
                    yield route, found[0], found[1]

    def url_for(self, name: str, *args: Any, **params: Any) -> str:
        """The path of the route called ``name``, filled with ``params``.

        Raises:
            KeyError: no route has that name.
            ValueError: the parameters do not fit the route.
        """
        try:
            route = self._names[name]
        except KeyError:
            raise KeyError(f"no route named {name!r}") from None
        return route.url(*args, **params)


def _first_segment(path: str) -> str:
    end = path.find("/", 1)
    return path[1:] if end < 0 else path[1:end]


def _bucket_key(prefix: str) -> str | None:
    """The first path segment when the prefix holds it whole, else None."""
    end = prefix.find("/", 1)
    if end < 0:
        return None  # the first segment itself is (partly) a parameter
    return prefix[1:end]
