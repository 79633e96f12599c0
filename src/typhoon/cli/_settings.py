"""Dataclass fields as settings: their types, their text forms, their defaults.

The part of :mod:`typhoon.cli.config` that knows nothing of argparse, the environment or
files: :func:`flatten` turns registered groups into tables of :class:`Setting`, and
:func:`parse_text` / :func:`parse_toml` convert what a user wrote into a field's type.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

ENV_PREFIX = "TYPHOON_"
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
RESERVED = frozenset({"config", "print_config", "help"})  # names of the loader's own flags


class _TakesValue:
    def __repr__(self) -> str:
        return "TAKES_VALUE"


#: The :attr:`Alias.value` of an alias that takes a value like the setting's own flag.
TAKES_VALUE: Any = _TakesValue()


@dataclass(frozen=True, slots=True)
class Alias:
    """An extra flag for a setting: a former name, or a shortcut for one value.

    ``Alias("--graceful-timeout", "graceful_timeout_s")`` takes a value like the setting's
    own flag; ``Alias("--no-uvloop", "loop", "asyncio")`` takes none and sets ``asyncio``.
    """

    flag: str
    setting: str
    value: object = TAKES_VALUE


@dataclass(frozen=True, slots=True)
class Group:
    """A frozen dataclass whose fields are settings, under the TOML table ``table``."""

    table: str
    kind: type
    aliases: tuple[Alias, ...] = ()


@dataclass(frozen=True, slots=True)
class Kind:
    """What text a setting accepts: ``base`` is bool, int, float, str or tuple (of str)."""

    base: type
    choices: tuple[str, ...] = ()
    optional: bool = False

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        names = {bool: "true or false", int: "an integer", float: "a number", tuple: "a list"}
        return names.get(self.base, "a string")


@dataclass(frozen=True, slots=True)
class Setting:
    """One dataclass field, as the loader sees it."""

    name: str
    table: str
    owner: type
    kind: Kind
    default: object  # dataclasses.MISSING when the field is required
    help: str
    positional: bool = False
    metavar: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def no_flag(self) -> str | None:
        """``--no-x`` for booleans, and for optional settings that have a default."""
        if self.kind.base is bool or (self.kind.optional and self.default is not None):
            return "--no-" + self.name.replace("_", "-")
        return None


@dataclass(frozen=True, slots=True)
class Table:
    """A group after flattening: ``nested`` maps a field to the table built for it."""

    table: str
    kind: type
    settings: tuple[Setting, ...]
    nested: tuple[tuple[str, str], ...]  # (field name, table)
    aliases: tuple[Alias, ...]
    top_level: bool


def kind_of(annotation: object) -> Kind:
    """The :class:`Kind` of a field's resolved type annotation.

    Raises:
        TypeError: a type the loader cannot read from text.
    """
    optional = False
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1 or len(args) != 2:
            raise TypeError(f"unsupported setting type {annotation!r}")
        optional, annotation = True, rest[0]
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal and all(isinstance(a, str) for a in args):
        return Kind(str, choices=tuple(args), optional=optional)
    if origin is tuple and args == (str, ...):
        return Kind(tuple, optional=optional)
    if annotation in (int, float, str) or (annotation is bool and not optional):
        return Kind(typing.cast(type, annotation), optional=optional)
    raise TypeError(f"unsupported setting type {annotation!r}")


def flatten(groups: Iterable[Group]) -> tuple[Table, ...]:
    """Every table, in ``--help`` order: each group, then the tables nested in it.

    Raises:
        TypeError: a group is not a dataclass, a field has an unsupported type, or two
            settings (or tables) share a name.
    """
    tables: list[Table] = []
    owners: dict[str, str] = {}

    def visit(table: str, kind: type, aliases: tuple[Alias, ...], top_level: bool) -> None:
        if not dataclasses.is_dataclass(kind):
            raise TypeError(f"group [{table}] must be a dataclass, got {kind!r}")
        if any(t.table == table for t in tables):
            raise TypeError(f"two groups are called [{table}]")
        hints = typing.get_type_hints(kind)
        settings: list[Setting] = []
        nested: list[tuple[str, type]] = []
        for f in dataclasses.fields(kind):
            annotation = hints[f.name]
            if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
                nested.append((f.name, annotation))
                continue
            if f.name in owners or f.name in RESERVED:
                where = owners.get(f.name, "the loader")
                raise TypeError(f"setting {f.name!r} of [{table}] is also in [{where}]")
            owners[f.name] = table
            default: object = f.default
            if default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            settings.append(
                Setting(
                    name=f.name,
                    table=table,
                    owner=kind,
                    kind=kind_of(annotation),
                    default=default,
                    help=str(f.metadata.get("help", f.name.replace("_", " "))),
                    positional=bool(f.metadata.get("positional", False)),
                    metavar=str(f.metadata.get("metavar", "")),
                )
            )
        for alias in aliases:
            if not any(s.name == alias.setting for s in settings):
                raise TypeError(f"alias {alias.flag} names no setting of [{table}]")
        names = tuple((name, name) for name, _ in nested)
        tables.append(Table(table, kind, tuple(settings), names, aliases, top_level))
        for name, inner in nested:
            visit(name, inner, (), False)

    for group in groups:
        visit(group.table, group.kind, group.aliases, True)
    return tuple(tables)


def settings_of(groups: Iterable[Group]) -> list[Setting]:
    """Every setting, in ``--help`` order."""
    return [s for t in flatten(groups) for s in t.settings]


def parse_text(kind: Kind, text: str) -> object:
    """Convert a flag's or variable's text.

    Raises:
        ValueError: text that is not a ``kind``; the message says what was expected.
    """
    if kind.optional and text == "":
        return None
    if kind.base is bool:
        word = text.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ValueError("must be true or false (or 1/0, yes/no)")
    if kind.base is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError("must be an integer") from None
    if kind.base is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError("must be a number") from None
    if kind.base is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if kind.choices and text not in kind.choices:
        raise ValueError(f"must be {kind.describe()}{suggest(text, kind.choices)}")
    return text


def parse_toml(kind: Kind, value: object) -> object:
    """Convert a value read from TOML (a string is read as text, see :func:`parse_text`).

    Raises:
        ValueError: a value of the wrong type.
    """
    if isinstance(value, str):
        return parse_text(kind, value)
    if kind.base is bool and isinstance(value, bool):
        return value
    if kind.base is bool and type(value) is int and value in (0, 1):
        return bool(value)
    if kind.base is int and type(value) is int:
        return value
    if kind.base is float and type(value) in (int, float):
        return float(typing.cast(float, value))
    if kind.base is tuple and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    expected = "a list of strings" if kind.base is tuple else kind.describe()
    raise ValueError(f"must be {expected}, got {toml_value(value)}")


def suggest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def show_default(setting: Setting) -> str:
    """The default as ``--help`` and the docs print it."""
    value = setting.default
    if value is dataclasses.MISSING:
        return "required"
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value) or "empty"
    return str(value)


def text_value(value: object) -> str:
    if value is None:
        return "''"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def toml_value(value: object) -> str:
    """``value`` in TOML; None is ``""``, which reads back as None."""
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)
