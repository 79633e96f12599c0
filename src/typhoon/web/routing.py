"""Routes and the router: path syntax, converters, matching, reverse URLs.

Path syntax: ``/items/{id:int}``, ``/files/{p:path}``, ``/u/{name}`` (a segment),
``{x:float}``, ``{u:uuid}``, and any converter registered with the app. A path without
placeholders that contains regex syntax, like Tornado's ``r"/item/(\\d+)"``, is a
regular expression matched against the whole path; its groups become positional
arguments, or keyword arguments when the groups are named (Tornado's rule).

HOT PATH: :meth:`Router.resolve` runs once per request. Budget: one dict lookup for a
static path; for a dynamic one, a ``str.split`` and a dict lookup for its first segment,
then the regex matches of that bucket only, and for the route that matches, one call
per parameter (a builtin like ``int`` for the built-in converters). Rules: allocate only
the result, the split and the match; no logging.

Theory of operation. Static paths live in a dict and always win over dynamic routes.
Dynamic routes whose first path segment is a literal (``/users/{id}``) are filed in a
bucket under that segment; the others (``/{lang}/about``, regexes with alternation or
a quantifier in the first segment) are *unbucketed* and appended to every bucket as
well, so each bucket lists every route that could match its segment in registration
order, and a path whose segment has no bucket is tried against the unbucketed list.
"""

from __future__ import annotations

import decimal
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class Converter(Protocol):
    """Turns one path parameter into a Python value and back.

    ``regex`` is what the parameter may match; ``to_python`` may raise ValueError to
    reject a match (the route then does not match); ``to_url`` raises ValueError for a
    value it cannot put in a URL.

    Example::

        class Slug:
            regex = "[a-z0-9-]+"
            def to_python(self, value: str) -> str: return value
            def to_url(self, value: str) -> str: return value
    """

    regex: str

    def to_python(self, value: str) -> Any: ...

    def to_url(self, value: Any) -> str: ...


class StrConverter:
    """One non-empty path segment (no ``/``), as a ``str``."""

    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: Any) -> str:
        text = str(value)
        if not text or "/" in text:
            raise ValueError(f"a str path parameter must be non-empty without '/', got {text!r}")
        return quote(text, safe="")


class PathConverter(StrConverter):
    """The rest of the path, ``/`` included, as a ``str``."""

    regex = ".+"

    def to_url(self, value: Any) -> str:
        text = str(value)
        if not text:
            raise ValueError("a path parameter must be non-empty")
        return quote(text, safe="/")


class IntConverter:
    """Decimal digits, as a non-negative ``int``."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"an int path parameter must be a non-negative int, got {value!r}")
        return str(value)


class FloatConverter:
    """``1`` or ``1.5`` (no sign, no exponent), as a ``float``."""

    regex = r"[0-9]+(?:\.[0-9]+)?"

    def to_python(self, value: str) -> float:
        return float(value)

    def to_url(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"a float path parameter must be a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"a float path parameter must be finite and >= 0, got {value!r}")
        text = repr(number + 0.0)  # + 0.0 turns -0.0 into 0.0
        if "e" in text:  # 1e+16 and 1e-07 do not fit the regex: spell them out
            text = format(decimal.Decimal(text), "f")
        return text


class UUIDConverter:
    """A UUID in its 8-4-4-4-12 hex form, as a :class:`uuid.UUID`."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_url(self, value: Any) -> str:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


DEFAULT_CONVERTERS: Mapping[str, Converter] = {
    "str": StrConverter(),
    "path": PathConverter(),
    "int": IntConverter(),
    "float": FloatConverter(),
    "uuid": UUIDConverter(),
}


def check_converters(converters: Mapping[str, Any]) -> dict[str, Converter]:
    """Validate user converters by name; a converter class is instantiated.

    Raises:
        TypeError: a converter lacks a ``str`` ``regex`` or a ``to_python``/``to_url``.
        ValueError: a name is not an identifier, or a ``regex`` does not compile.
    """
    checked: dict[str, Converter] = {}
    for name, converter in converters.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"converter names must be identifiers, got {name!r}")
        if isinstance(converter, type):
            converter = converter()
        regex = getattr(converter, "regex", None)
        if not isinstance(regex, str) or not all(
            callable(getattr(converter, attr, None)) for attr in ("to_python", "to_url")
        ):
            raise TypeError(
                f"converter {name!r} needs a str 'regex' and to_python()/to_url() methods, "
                f"got {converter!r}"
            )
        try:
            re.compile(regex)
        except re.error as exc:
            raise ValueError(f"converter {name!r} has an invalid regex {regex!r}: {exc}") from None
        checked[name] = converter
    return checked


_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_][A-Za-z0-9_]*))?}")
_QUANTIFIER = re.compile(r"{(?:[0-9]+(?:,[0-9]*)?|,[0-9]+)}")
_REGEX_HINT = re.compile(r"[()\\^$*+?\[\]|]")
_LITERAL_SAFE = "/:@!$&'()*+,;="


@dataclass(frozen=True, slots=True)
class Slot:
    """A hole in a route's path: a parameter name or group position, and its rule."""

    key: str | int
    converter: Converter | None = None  # {name:conv} placeholders
    pattern: re.Pattern[str] | None = None  # groups of a Tornado-style regex


@dataclass(frozen=True, slots=True)
class CompiledPath:
    """A route path ready for matching (``regex.fullmatch``) and reversing.

    Attributes:
        source: the path as written.
        regex: the whole-path pattern; None for a static path.
        params: the keyword parameters and their converters, in order.
        template: the path with ``{name}`` holes, for display ("" for a regex).
        positional: how many unnamed groups a Tornado-style regex passes positionally.
        prefix: the literal text before the first parameter or regex syntax.
        parts: literals and :class:`Slot` holes for reversing; None when a regex is
            too complex to reverse.
        captures: what :meth:`Route.match` needs for each keyword parameter, worked out
            once here: its name, its group number in ``regex``, and the function that
            turns the matched text into the value (None: the text is the value).
    """

    source: str
    regex: re.Pattern[str] | None
    params: tuple[tuple[str, Converter], ...] = ()
    template: str = ""
    positional: int = 0
    prefix: str = ""
    parts: tuple[str | Slot, ...] | None = ()
    captures: tuple[tuple[str, int, Callable[[str], Any] | None], ...] = ()

    @property
    def is_static(self) -> bool:
        return self.regex is None


def compile_path(
    path: str, converters: Mapping[str, Converter] = DEFAULT_CONVERTERS
) -> CompiledPath:
    """Compile ``path`` (``{name:conv}`` syntax or a Tornado-style regex).

    Example::

        compiled = compile_path("/items/{id:int}")
        compiled.regex.fullmatch("/items/5")          # a match; id converts to 5

    Raises:
        ValueError: the path does not start with ``/``, names an unknown converter,
            repeats a parameter, has a stray or malformed ``{...}``, or is not a valid
            regular expression.
    """
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"route path must be a string starting with '/', got {path!r}")
    if _PARAM.search(path):
        return _compile_placeholders(path, converters)
    unquantified = _QUANTIFIER.sub("", path)
    if "{" in unquantified or "}" in unquantified:
        raise ValueError(
            f"malformed parameter in route path {path!r}: write {{name}} or {{name:converter}}"
        )
    if unquantified == path and not _REGEX_HINT.search(path):
        literal = quote(path, safe=_LITERAL_SAFE)
        return CompiledPath(path, None, template=path, prefix=path, parts=(literal,))
    return _compile_regex(path)


def _compile_placeholders(path: str, converters: Mapping[str, Converter]) -> CompiledPath:
    pattern: list[str] = []
    template: list[str] = []
    parts: list[str | Slot] = []
    params: list[tuple[str, Converter]] = []
    pos = 0
    for match in _PARAM.finditer(path):
        _add_literal(path, path[pos : match.start()], pattern, template, parts)
        name, kind = match.group(1), match.group(2) or "str"
        if kind not in converters:
            raise ValueError(f"unknown converter {kind!r} in route path {path!r}")
        if any(name == seen for seen, _ in params):
            raise ValueError(f"parameter {name!r} appears twice in route path {path!r}")
        converter = converters[kind]
        params.append((name, converter))
        pattern.append(f"(?P<{name}>{converter.regex})")
        template.append("{" + name + "}")
        parts.append(Slot(name, converter=converter))
        pos = match.end()
    _add_literal(path, path[pos:], pattern, template, parts)
    try:
        regex = re.compile("".join(pattern))
    except re.error as exc:
        raise ValueError(f"route path {path!r} does not compile: {exc}") from None
    first = _PARAM.search(path)
    prefix = path[: first.start()] if first else path
    # Group numbers, not positions: a converter's regex may hold groups of its own.
    captures = tuple(
        (name, regex.groupindex[name], _text_to_value(converter)) for name, converter in params
    )
    return CompiledPath(
        path,
        regex,
        tuple(params),
        "".join(template),
        0,
        prefix,
        tuple(p for p in parts if p),
        captures,
    )


def _text_to_value(converter: Converter) -> Callable[[str], Any] | None:
    """The function :meth:`Route.match` applies to a parameter's text; None for none.

    The built-in converters' ``to_python`` only pass the text to a builtin (or return it
    as is): calling that builtin directly gives the same value, or the same ValueError,
    without a Python-level call per request. Subclasses that keep the method qualify
    too; any other ``to_python`` is called as it is.
    """
    to_python = converter.to_python
    method = getattr(to_python, "__func__", None)
    if method is StrConverter.to_python:  # PathConverter's too
        return None
    if method is IntConverter.to_python:
        return int
    if method is FloatConverter.to_python:
        return float
    if method is UUIDConverter.to_python:
        return uuid.UUID
    return to_python


def _add_literal(
    path: str, literal: str, pattern: list[str], template: list[str], parts: list[str | Slot]
) -> None:
    if "{" in literal or "}" in literal:
        raise ValueError(
            f"malformed parameter in route path {path!r} near {literal!r}: "
            "write {name} or {name:converter}"
        )
    pattern.append(re.escape(literal))
    template.append(literal)
    parts.append(quote(literal, safe=_LITERAL_SAFE))


def _compile_regex(path: str) -> CompiledPath:
    body = path[1:] if path.startswith("^") else path
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    try:
        regex = re.compile(body)
    except re.error as exc:
        raise ValueError(f"route path {path!r} is not a valid regular expression: {exc}") from None
    named = tuple((name, DEFAULT_CONVERTERS["str"]) for name in regex.groupindex)
    positional = 0 if named else regex.groups  # Tornado: named groups win, all or nothing
    # A named group's text is passed as is (None when an optional group took no part).
    captures = tuple((name, group, None) for name, group in regex.groupindex.items())
    prefix = re.match(r"[^()\\^$*+?\[\]|.{]*", body).group(0)  # type: ignore[union-attr]
    if body[len(prefix) : len(prefix) + 1] in ("?", "*", "+", "{"):
        prefix = prefix[:-1]  # the quantifier makes the last character optional
    if "|" in body:
        prefix = ""  # a top-level alternative may start anywhere
    return CompiledPath(path, regex, named, "", positional, prefix, _regex_parts(body), captures)


def _regex_parts(body: str) -> tuple[str | Slot, ...] | None:
    """Split a simple regex into literals and groups, or None when it is not simple.

    Simple means: literal characters (escapes like ``\\.`` allowed) and top-level
    groups without quantifiers, all named or all unnamed, none nested with captures.
    """
    parts: list[str | Slot] = []
    literal: list[str] = []
    position = 0
    named = unnamed = False
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            escaped = body[i + 1 : i + 2]
            if not escaped or escaped.isalnum():
                return None  # \d, \w, \b...: a class, not a literal
            literal.append(escaped)
            i += 2
        elif char == "(":
            end = _group_end(body, i)
            if end is None or body[end + 1 : end + 2] in ("?", "*", "+", "{"):
                return None
            inner = body[i + 1 : end]
            key: str | int
            if inner.startswith("?P<"):
                key, _, inner = inner[3:].partition(">")
                named = True
            elif inner.startswith("?"):
                return None
            else:
                key, position, unnamed = position, position + 1, True
            try:
                group = re.compile(inner)
            except re.error:
                return None
            if group.groups:
                return None
            parts.append(quote("".join(literal), safe=_LITERAL_SAFE))
            literal = []
            parts.append(Slot(key, pattern=group))
            i = end + 1
        elif char in ".^$*+?{}[]|)":
            return None
        else:
            literal.append(char)
            i += 1
    if named and unnamed:
        return None
    parts.append(quote("".join(literal), safe=_LITERAL_SAFE))
    return tuple(p for p in parts if p)


def _group_end(body: str, start: int) -> int | None:
    """The index of the ``)`` closing the group opened at ``start``."""
    depth = 0
    in_class = False
    i = start
    while i < len(body):
        char = body[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


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
        host: when set, the route matches only this host (a regex matched against the
            whole host name, case-insensitively, without the port).
        converters: the converters ``path`` may name.

    Example::

        Route("/items/{item_id:int}", show_item, name="item")

    Raises:
        ValueError: a bad path, method or host pattern.
        TypeError: ``methods`` is a single string instead of a collection.
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
        if isinstance(self.methods, str):
            raise TypeError(f"methods must be a list of method names, got {self.methods!r}")
        methods = {m.upper() for m in (self.methods or ("GET",))}
        unknown = methods - set(METHODS)
        if unknown:
            raise ValueError(f"unknown HTTP method(s) {sorted(unknown)} for route {self.path!r}")
        if "GET" in methods:
            methods.add("HEAD")
        self.method_set = frozenset(methods)
        if self.host is not None:
            host = self.host[:-1] if self.host.endswith("$") else self.host
            try:
                self.host_regex = re.compile(host, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(
                    f"host {self.host!r} is not a valid regular expression: {exc}"
                ) from None

    def match(self, path: str) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        """Return (positional args, keyword params) when ``path`` matches, else None."""
        compiled = self.compiled
        if compiled.regex is None:
            return ((), {}) if path == compiled.source else None
        found = compiled.regex.fullmatch(path)
        if found is None:
            return None
        if compiled.positional:
            return found.groups(), {}
        # A plain loop over what compile_path worked out: no groupdict() to build, no
        # comprehension frame, and builtins called directly (see _text_to_value).
        params: dict[str, Any] = {}
        for name, group, convert in compiled.captures:
            if convert is None:
                params[name] = found[group]
            else:
                try:
                    params[name] = convert(found[group])
                except ValueError:
                    return None  # the converter rejects the text: no match
        return (), params

    def matches_host(self, host: str) -> bool:
        """True when the route has no host rule or ``host`` (no port) satisfies it."""
        return self.host_regex is None or self.host_regex.fullmatch(host) is not None

    def url(self, *args: Any, **params: Any) -> str:
        """Build this route's path (percent-encoded) from parameters.

        Example::

            Route("/items/{id:int}", view).url(id=3)       # "/items/3"
            Route(r"/item/(\\d+)", view).url(3)              # "/item/3"

        Raises:
            ValueError: a parameter is missing, unexpected, or rejected by its converter
                or group pattern, or the regex is too complex to reverse.
        """
        compiled = self.compiled
        if compiled.parts is None:
            raise ValueError(f"route {self.path!r} is too complex to reverse")
        slots = [part for part in compiled.parts if isinstance(part, Slot)]
        if slots and isinstance(slots[0].key, int):
            if params or len(args) != len(slots):
                raise ValueError(
                    f"route {self.path!r} takes {len(slots)} positional argument(s), "
                    f"got {len(args)}" + (f" and unexpected {sorted(params)}" if params else "")
                )
            values: dict[Any, Any] = dict(enumerate(args))
        else:
            names = {slot.key for slot in slots}
            missing = names - params.keys()
            extra = params.keys() - names
            if missing or extra or args:
                raise ValueError(
                    f"route {self.path!r} takes parameters {sorted(map(str, names))}; "
                    f"missing {sorted(map(str, missing))}, unexpected {sorted(extra)}"
                    + (f", and {len(args)} positional argument(s)" if args else "")
                )
            values = dict(params)
        out: list[str] = []
        for part in compiled.parts:
            if isinstance(part, str):
                out.append(part)
            elif part.converter is not None:
                out.append(part.converter.to_url(values[part.key]))
            else:
                out.append(_fill_group(self.path, part, values[part.key]))
        return "".join(out)


def _fill_group(path: str, slot: Slot, value: Any) -> str:
    assert slot.pattern is not None
    text = value.decode() if isinstance(value, bytes) else str(value)
    if slot.pattern.fullmatch(text) is None:
        raise ValueError(
            f"argument {slot.key!r} of route {path!r}: {text!r} does not match "
            f"{slot.pattern.pattern!r}"
        )
    return quote(text, safe="")


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

    Example::

        router = Router()
        router.add(Route("/items/{id:int}", show_item, name="item"))
        route, args, params = router.resolve("GET", "/items/3")     # params == {"id": 3}
    """

    def __init__(self, *, redirect_slashes: bool = False) -> None:
        self.routes: list[Route] = []
        self.redirect_slashes = redirect_slashes
        self._static: dict[str, list[Route]] = {}
        self._buckets: dict[str, list[Route]] = {}
        self._unbucketed: list[Route] = []
        self._names: dict[str, Route] = {}
        # Names routes get from their endpoint (a view's function name); None marks a
        # name that several endpoints share, which url_for refuses.
        self._implicit: dict[str, Route | None] = {}
        self._frozen = False
        self.has_host_routes = False

    def add(self, route: Route, *, implicit_name: str | None = None) -> Route:
        """Add ``route``; a name may be used once.

        Args:
            route: the route.
            implicit_name: a name the route answers to in :meth:`url_for` without having
                been given one (Flask's endpoint name: the view function's name). Several
                routes of one endpoint share it (the first is used); routes of different
                endpoints make it ambiguous, and ``url_for`` then says so. A route's
                explicit ``name`` takes precedence over any implicit name.

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
        elif implicit_name is not None:
            implicit = self._implicit
            if implicit_name not in implicit:
                implicit[implicit_name] = route
            else:
                first = implicit[implicit_name]
                if first is not None and first.endpoint is not route.endpoint:
                    implicit[implicit_name] = None
        if route.host_regex is not None:
            self.has_host_routes = True
        self.routes.append(route)
        compiled = route.compiled
        if compiled.is_static:
            self._static.setdefault(compiled.source, []).append(route)
            return route
        key = _bucket_key(compiled.prefix)
        if key is None:
            self._unbucketed.append(route)
            for bucket in self._buckets.values():
                bucket.append(route)
        else:
            if key not in self._buckets:
                self._buckets[key] = list(self._unbucketed)
            self._buckets[key].append(route)
        return route

    def freeze(self) -> None:
        """Refuse further :meth:`add` calls."""
        self._frozen = True

    @property
    def frozen(self) -> bool:
        return self._frozen

    def resolve(
        self, method: str, path: str, host: str = ""
    ) -> tuple[Route, tuple[Any, ...], dict[str, Any]]:
        """Find the route for a request: static paths first, then in registration order.

        Args:
            method: the request method, upper case.
            path: the percent-decoded path.
            host: the host name without the port (for routes with a host rule).

        Raises:
            NotFound: nothing matches the path.
            MethodNotAllowed: the path matches, the method does not.
            SlashRedirect: the path matches once its trailing slash is toggled.
        """
        static = self._static.get(path)
        if static is not None and len(static) == 1:
            route = static[0]  # the common case: one plain static route, no host rule
            if route.host_regex is None and method in route.method_set:
                return route, (), {}
        elif static is None and not self.has_host_routes:
            # The common dynamic case, without a generator: the first route that matches
            # answers when it allows the method; anything else takes the general path.
            # _first_segment(path), inlined to save a Python-level call per request.
            parts = path.split("/", 2)
            segment = parts[1] if len(parts) > 1 else ""
            for route in self._buckets.get(segment, self._unbucketed):
                found = route.match(path)
                if found is not None:
                    if method in route.method_set:
                        return route, found[0], found[1]
                    break
        allowed: frozenset[str] = frozenset()
        for route, args, params in self._candidates(path, host):
            if method in route.method_set:
                return route, args, params
            allowed |= route.method_set
        if allowed:
            raise MethodNotAllowed(allowed)
        if self.redirect_slashes and path != "/":
            other = path[:-1] if path.endswith("/") else path + "/"
            for _ in self._candidates(other, host):
                raise SlashRedirect(other)
        raise NotFound(path)

    def _candidates(
        self, path: str, host: str
    ) -> Iterator[tuple[Route, tuple[Any, ...], dict[str, Any]]]:
        static = self._static.get(path)
        if static is not None:
            for route in static:
                if route.host_regex is None or route.host_regex.fullmatch(host):
                    yield route, (), {}
        for route in self._buckets.get(_first_segment(path), self._unbucketed):
            if route.host_regex is not None and route.host_regex.fullmatch(host) is None:
                continue
            found = route.match(path)
            if found is not None:
                yield route, found[0], found[1]

    def name_of(self, route: Route) -> str | None:
        """The name ``url_for`` knows ``route`` by: its ``name=``, else its implicit name.

        None when it has neither, or when its implicit name is ambiguous or belongs to an
        earlier route of the same endpoint.
        """
        if route.name is not None:
            return route.name
        for name, found in self._implicit.items():
            if found is route and name not in self._names:
                return name
        return None

    def url_for(self, name: str, /, *args: Any, **params: Any) -> str:
        """The path of the route called ``name``, filled with ``params``.

        ``name`` is a route's ``name=``, else the implicit name of an unnamed route (see
        :meth:`add`).

        Raises:
            KeyError: no route has that name, or several endpoints share it implicitly.
            ValueError: the parameters do not fit the route.
        """
        route = self._names.get(name)
        if route is None:
            if name not in self._implicit:
                raise KeyError(f"no route named {name!r}")
            route = self._implicit[name]
            if route is None:
                raise KeyError(
                    f"{name!r} is the function name of several routes' endpoints; "
                    "give the one you mean a name= and use that"
                )
        return route.url(*args, **params)


def _first_segment(path: str) -> str:
    """The text after the first slash, up to the next one ("" for "/" and for "*").

    One str.split: cheaper than str.find and a slice, which are two calls into C.
    """
    parts = path.split("/", 2)
    return parts[1] if len(parts) > 1 else ""


def _bucket_key(prefix: str) -> str | None:
    """The first path segment when the prefix holds it whole, else None."""
    end = prefix.find("/", 1)
    if end < 0:
        return None  # the first segment itself is (partly) a parameter
    return prefix[1:end]
