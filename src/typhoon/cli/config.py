"""Settings of ``typhoon run``: command-line flags, ``TYPHOON_*`` variables and a TOML file.

Theory of operation:

- A *group* is a frozen dataclass registered under a TOML table name in :data:`GROUPS`.
  Every field of it is a *setting*, reachable three ways::

      field_name  ->  flag --field-name   variable TYPHOON_FIELD_NAME   key field_name in [table]

  A field whose type is itself a dataclass is a group of its own, named after the field
  (``HTTPConfig.limits`` is ``[limits]``). Setting names are unique across all groups.
- Precedence, highest first: command line, environment, TOML file, the dataclass default.
  The defaults and the one-line help (``field(metadata={"help": ...})``) live in the
  dataclasses only; nothing here repeats them.
- Types: ``bool`` (``--x``/``--no-x``; true/false/1/0/yes/no elsewhere), ``int``,
  ``float``, ``str``, ``Literal["a", "b"]``, ``tuple[str, ...]`` (comma-separated text, or
  a TOML array) and ``X | None``, where an empty value means None (``--uds ''``,
  ``TYPHOON_UDS=``, ``uds = ""``); such a setting with a default also gets ``--no-x``.
- The TOML file is ``--config PATH``, else ``$TYPHOON_CONFIG``, else the
  ``[tool.typhoon]`` table of ``./pyproject.toml`` when there is one.
- Validation stays in each dataclass's ``__post_init__``. The loader only converts text,
  then attributes any ``TypeError``/``ValueError`` to the source of the offending value,
  so every message starts with the flag, variable or file key that has to change.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import os
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from typhoon.cli import workers
from typhoon.cli._settings import (
    ENV_PREFIX,
    TAKES_VALUE,
    Alias,
    Group,
    Setting,
    Table,
    flatten,
    parse_text,
    parse_toml,
    settings_of,
    show_default,
    suggest,
    text_value,
    toml_value,
)
from typhoon.cli.workers import WorkersConfig
from typhoon.http.limits import HTTPConfig
from typhoon.http.logs import LogConfig
from typhoon.http.shared_metrics import METRICS_DIR_ENV
from typhoon.http.tls import TLSConfig
from typhoon.web.metrics import MetricsConfig

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "GROUPS",
    "TAKES_VALUE",
    "Alias",
    "ConfigError",
    "Group",
    "Loaded",
    "Origin",
    "RunConfig",
    "ServerConfig",
    "Setting",
    "add_arguments",
    "load",
    "markdown_table",
    "resolve",
    "settings_of",
    "show_default",
    "to_toml",
]

T = TypeVar("T")

CONFIG_ENV = "TYPHOON_CONFIG"

#: ``TYPHOON_*`` variables that are not settings: what a supervisor tells its workers.
INTERNAL_ENV = frozenset(
    {
        workers.CONTROL_FD_ENV,
        workers.LISTEN_FD_ENV,
        workers.SSL_FD_ENV,
        workers.REDIRECT_FD_ENV,
        workers.SOCKET_MODE_ENV,
        METRICS_DIR_ENV,
    }
)


Interface = Literal["auto", "typhoon", "asgi", "wsgi"]
LoopName = Literal["auto", "uvloop", "asyncio"]
LogLevel = Literal["critical", "error", "warning", "info", "debug"]


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What to serve, where, and on which loop: the ``[server]`` table.

    Attributes:
        app: the application as ``module:attr`` (``attr`` defaults to ``app``).
        interface: how to call it: ``auto`` recognises a typhoon App, an ASGI and a
            WSGI application; the others insist on one.
        host, port: the TCP address to listen on.
        uds: a Unix socket path to listen on instead of TCP.
        fd: an inherited, already listening socket to serve on instead of TCP.
        backlog: the listen backlog of each socket the server opens.
        loop: ``auto`` picks uvloop when it is installed.
    """

    app: str = field(
        metadata={
            "help": "the application, as module:attr (attr defaults to app)",
            "positional": True,
        }
    )
    interface: Interface = field(
        default="auto",
        metadata={"help": "how the application is called (auto: App, ASGI or WSGI, detected)"},
    )
    host: str = field(
        default="127.0.0.1", metadata={"help": "address to listen on", "metavar": "HOST"}
    )
    port: int = field(default=8000, metadata={"help": "TCP port to listen on (0: any free port)"})
    uds: str | None = field(
        default=None,
        metadata={"help": "listen on this Unix socket instead of TCP", "metavar": "PATH"},
    )
    fd: int | None = field(
        default=None,
        metadata={"help": "serve on this inherited listening socket instead of TCP"},
    )
    backlog: int = field(default=2048, metadata={"help": "listen backlog of each socket"})
    loop: LoopName = field(
        default="auto", metadata={"help": "event loop (auto: uvloop when installed)"}
    )

    def __post_init__(self) -> None:
        for name in ("interface", "loop"):
            _check_choice(self, name)
        for name in ("port", "backlog"):
            _check_int(self, name)
        if not isinstance(self.app, str) or not isinstance(self.host, str):
            raise TypeError(f"ServerConfig app and host must be strings: {self!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"ServerConfig.port must be between 0 and 65535, got {self.port}")
        if self.backlog < 1:
            raise ValueError(f"ServerConfig.backlog must be at least 1, got {self.backlog}")
        if self.uds is not None and not (isinstance(self.uds, str) and self.uds):
            raise ValueError(f"ServerConfig.uds must be a non-empty path, got {self.uds!r}")
        if self.fd is not None:
            _check_int(self, "fd")
            if self.fd < 0:
                raise ValueError(f"ServerConfig.fd must be >= 0, got {self.fd}")
        if self.uds is not None and self.fd is not None:
            raise ValueError("uds and fd are alternatives: give one of them")


def _check_choice(obj: object, name: str) -> None:
    hints = typing.get_type_hints(type(obj))
    choices = typing.get_args(hints[name])
    value = getattr(obj, name)
    if value not in choices:
        raise ValueError(
            f"{type(obj).__name__}.{name} must be one of {', '.join(choices)}, got {value!r}"
        )


def _check_int(obj: object, name: str) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{type(obj).__name__}.{name} must be an integer, got {value!r}")


# -- the registry ------------------------------------------------------------------------


#: Every group ``typhoon run`` reads, in ``--help`` order. Registering one is one line:
#: ``Group("tls", TLSConfig)``; the instance then shows up in ``RunConfig.extra["tls"]``
#: and ``RunConfig.get(TLSConfig)``.
GROUPS: tuple[Group, ...] = (
    Group("server", ServerConfig, aliases=(Alias("--no-uvloop", "loop", "asyncio"),)),
    Group("http", HTTPConfig, aliases=(Alias("--graceful-timeout", "graceful_timeout_s"),)),
    Group(
        "tls",
        TLSConfig,
        aliases=(
            Alias("--ssl-keyfile-password", "keyfile_password"),
            Alias("--hsts-max-age", "hsts_max_age_s"),
        ),
    ),
    Group("workers", WorkersConfig, aliases=(Alias("--reload-dir", "reload_dirs"),)),
    Group("log", LogConfig),
    Group("metrics", MetricsConfig),
)


# -- the command line --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Given:
    """A value from the command line, with the option string that gave it."""

    option: str | None  # None for a positional argument
    raw: object  # text to parse, or the value itself when ``parsed``
    parsed: bool


class _Store(argparse.Action):
    """Remember which option gave which text (or constant), leaving parsing to the loader."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        if self.nargs == 0:
            given = _Given(option_string, self.const, parsed=True)
        elif values is None or values is argparse.SUPPRESS:
            return  # an absent optional positional
        else:
            given = _Given(option_string, values, parsed=False)
        setattr(namespace, self.dest, given)


class _Switch(argparse.Action):
    """``--x`` sets True, ``--no-x`` sets False."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        assert option_string is not None
        value = not option_string.startswith("--no-")
        setattr(namespace, self.dest, _Given(option_string, value, parsed=True))


def _dest(setting: Setting) -> str:
    return "setting:" + setting.name


def _metavar(setting: Setting) -> str:
    if setting.metavar:
        return setting.metavar
    if setting.kind.choices:
        return "{" + ",".join(setting.kind.choices) + "}"
    if setting.kind.base is tuple:
        return "A,B"
    if setting.kind.base is int:
        return "N"
    if setting.kind.base is float:
        return "S" if setting.name.endswith("_s") else "X"
    return "TEXT"


def add_arguments(parser: argparse.ArgumentParser, groups: Sequence[Group] = GROUPS) -> None:
    """Add every setting's flags, ``--config`` and ``--print-config`` to ``parser``.

    Nothing gets an argparse default: an absent flag leaves no attribute, so the loader
    can tell "not given" from "given the default value".
    """
    parser.add_argument(
        "--config",
        metavar="PATH",
        dest="config_file",
        help=f"TOML file of settings (default: ${CONFIG_ENV}, else [tool.typhoon] "
        "in ./pyproject.toml)",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved settings as TOML, each with its source, and exit (default: off)",
    )
    for table in flatten(groups):
        section = parser.add_argument_group(f"[{table.table}] settings")
        for setting in table.settings:
            _add_setting(section, setting)
        for alias in table.aliases:
            [target] = [s for s in table.settings if s.name == alias.setting]
            _add_alias(section, alias, target)


def _add_setting(section: argparse._ArgumentGroup, setting: Setting) -> None:
    default = f"(default: {show_default(setting)})"
    extra = f"; env {setting.env}"
    if setting.positional:
        section.add_argument(
            _dest(setting),
            nargs="?",
            action=_Store,
            default=argparse.SUPPRESS,
            metavar=setting.name.upper(),
            help=f"{setting.help}{extra} {default}",
        )
        return
    if setting.kind.base is bool:
        assert setting.no_flag is not None
        section.add_argument(
            setting.flag,
            setting.no_flag,
            nargs=0,
            action=_Switch,
            dest=_dest(setting),
            default=argparse.SUPPRESS,
            help=f"{setting.help}{extra} {default}",
        )
        return
    section.add_argument(
        setting.flag,
        action=_Store,
        dest=_dest(setting),
        default=argparse.SUPPRESS,
        metavar=_metavar(setting),
        help=f"{setting.help}{extra} {default}",
    )
    if setting.no_flag is not None:
        section.add_argument(
            setting.no_flag,
            nargs=0,
            action=_Store,
            const=None,
            dest=_dest(setting),
            default=argparse.SUPPRESS,
            help=f"unset {setting.name}, same as {setting.flag} '' (default: off)",
        )


def _add_alias(section: argparse._ArgumentGroup, alias: Alias, target: Setting) -> None:
    if alias.value is TAKES_VALUE:
        section.add_argument(
            alias.flag,
            action=_Store,
            dest=_dest(target),
            default=argparse.SUPPRESS,
            metavar=_metavar(target),
            help=f"same as {target.flag} (default: {show_default(target)})",
        )
    else:
        section.add_argument(
            alias.flag,
            nargs=0,
            action=_Store,
            const=alias.value,
            dest=_dest(target),
            default=argparse.SUPPRESS,
            help=f"same as {target.flag} {text_value(alias.value)} (default: off)",
        )


# -- loading -----------------------------------------------------------------------------


class ConfigError(ValueError):
    """A setting that cannot be used; the message starts with where it came from."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a setting's value came from.

    Attributes:
        source: ``command line``, ``environment``, ``file`` or ``default``.
        where: what the user wrote, e.g. ``--port 80``, ``TYPHOON_PORT=80``,
            ``typhoon.toml [server] port`` or ``default``.
    """

    source: Literal["command line", "environment", "file", "default"]
    where: str


@dataclass(frozen=True, slots=True)
class Loaded:
    """The outcome of :func:`load`.

    Attributes:
        groups: the instance of each top-level group, by table.
        values: every setting's value, by name.
        origins: where each setting's value came from, by name.
        settings: every setting, in ``--help`` order.
        print_config: ``--print-config`` was given.
    """

    groups: Mapping[str, object]
    values: Mapping[str, object]
    origins: Mapping[str, Origin]
    settings: tuple[Setting, ...]
    print_config: bool = False


@dataclass(frozen=True, slots=True)
class _File:
    """The TOML settings: ``label`` names the file in messages, ``prefix`` its tables."""

    label: str
    prefix: str  # "" for a typhoon.toml, "tool.typhoon." for pyproject.toml
    tables: Mapping[str, Any]


def load(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    *,
    cwd: Path,
    groups: Sequence[Group] = GROUPS,
) -> Loaded:
    """Resolve every setting of ``groups`` and build the groups.

    Args:
        args: what :func:`add_arguments`'s flags parsed into.
        environ: the environment (``os.environ``).
        cwd: where a relative ``--config`` path and ``pyproject.toml`` are looked up.
        groups: the registry; :data:`GROUPS` for ``typhoon run``.

    Raises:
        ConfigError: a value that cannot be read or that its dataclass rejects, an
            unknown key in the file, a ``TYPHOON_*`` variable that looks like a misspelt
            setting, or a required setting with no value.
    """
    tables = flatten(groups)
    settings = tuple(settings_of(groups))
    _check_environ(environ, settings)
    given: Mapping[str, object] = vars(args)
    file = _read_file(given.get("config_file"), environ, cwd, tables)
    values: dict[str, object] = {}
    origins: dict[str, Origin] = {}
    for setting in settings:
        values[setting.name], origins[setting.name] = _resolve(setting, given, environ, file)
    built: dict[str, object] = {}
    for table in reversed(tables):  # nested tables come after their parents in ``tables``
        kwargs = {s.name: values[s.name] for s in table.settings}
        kwargs.update({name: built.pop(nested) for name, nested in table.nested})
        built[table.table] = _build(table, kwargs, origins)
    return Loaded(
        groups=types.MappingProxyType({t.table: built[t.table] for t in tables if t.top_level}),
        values=types.MappingProxyType(values),
        origins=types.MappingProxyType(origins),
        settings=settings,
        print_config=bool(given.get("print_config", False)),
    )


def _resolve(
    setting: Setting, given: Mapping[str, object], environ: Mapping[str, str], file: _File | None
) -> tuple[object, Origin]:
    cli = given.get(_dest(setting))
    if isinstance(cli, _Given):
        where = _cli_where(setting, cli)
        if cli.parsed:
            return cli.raw, Origin("command line", where)
        return _convert(parse_text, setting, cli.raw, where), Origin("command line", where)
    if setting.env in environ:
        where = f"{setting.env}={environ[setting.env]}"
        value = _convert(parse_text, setting, environ[setting.env], where)
        return value, Origin("environment", where)
    if file is not None and setting.name in file.tables.get(setting.table, {}):
        where = f"{file.label} [{file.prefix}{setting.table}] {setting.name}"
        raw = file.tables[setting.table][setting.name]
        return _convert(parse_toml, setting, raw, where), Origin("file", where)
    if setting.default is dataclasses.MISSING:
        how = f"the {setting.name.upper()} argument" if setting.positional else setting.flag
        raise ConfigError(
            f"{setting.name}: no value; give {how}, {setting.env} or "
            f"{setting.name} in [{setting.table}]"
        )
    return setting.default, Origin("default", "default")


def _cli_where(setting: Setting, given: _Given) -> str:
    if given.option is None:
        return f"{setting.name.upper()} {given.raw}"
    if given.parsed:
        return given.option
    return f"{given.option} {given.raw}"


def _convert(parse: Any, setting: Setting, raw: object, where: str) -> object:
    try:
        return parse(setting.kind, raw)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _build(table: Table, kwargs: dict[str, object], origins: Mapping[str, Origin]) -> object:
    """Construct ``table.kind``; blame a rejection on the value (or values) that caused it."""
    try:
        return table.kind(**kwargs)
    except (TypeError, ValueError) as exc:
        failure = exc
    # Which explicitly given value does the dataclass refuse on its own, over defaults?
    explicit = [s for s in table.settings if origins[s.name].source != "default"]
    baseline = dict(kwargs)
    for s in explicit:
        if s.default is not dataclasses.MISSING:
            baseline[s.name] = s.default
    for s in explicit:
        try:
            table.kind(**{**baseline, s.name: kwargs[s.name]})
        except (TypeError, ValueError) as exc:
            # Refused alone, but is it the culprit here? A key file is refused without
            # a certificate, yet with one the fault may lie elsewhere.
            if str(exc) == str(failure) or _builds(table, kwargs, s, baseline):
                message = _strip(str(failure), table, s)
                raise ConfigError(f"{origins[s.name].where}: {message}") from None
    # Only a combination is wrong (uds with fd, say): name the values without which it works.
    involved = [s for s in explicit if s.name in baseline and _builds(table, kwargs, s, baseline)]
    wheres = ", ".join(origins[s.name].where for s in involved or explicit) or f"[{table.table}]"
    raise ConfigError(f"{wheres}: {failure}") from None


def _builds(
    table: Table, kwargs: dict[str, object], setting: Setting, baseline: dict[str, object]
) -> bool:
    """Whether ``table.kind`` accepts ``kwargs`` with ``setting`` back at its default."""
    if setting.default is dataclasses.MISSING:
        return False
    try:
        table.kind(**{**kwargs, setting.name: baseline[setting.name]})
    except (TypeError, ValueError):
        return False
    return True


def _strip(message: str, table: Table, setting: Setting) -> str:
    """Drop the dataclass's own ``Class.field`` prefix: the source already names it."""
    for prefix in (f"{table.kind.__name__}.{setting.name} ", f"{setting.name} "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _check_environ(environ: Mapping[str, str], settings: Sequence[Setting]) -> None:
    """Refuse a ``TYPHOON_*`` variable that is one typo away from a setting's.

    Other ``TYPHOON_*`` variables are left alone: tests and tools use the prefix too, and
    so do the supervisor's messages to its workers (:data:`INTERNAL_ENV`).
    """
    names = {s.env for s in settings} | {CONFIG_ENV} | INTERNAL_ENV
    known = {name[len(ENV_PREFIX) :] for name in names}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name[len(ENV_PREFIX) :] in known:
            continue
        close = difflib.get_close_matches(name[len(ENV_PREFIX) :], known, n=1, cutoff=0.75)
        if close:
            raise ConfigError(f"{name}: unknown setting (did you mean {ENV_PREFIX}{close[0]}?)")


def _read_file(
    path: object, environ: Mapping[str, str], cwd: Path, tables: Sequence[Table]
) -> _File | None:
    """The TOML settings, checked for unknown tables and keys; None when there are none."""
    if isinstance(path, str):
        label, source = path, "--config"
    elif environ.get(CONFIG_ENV):
        label, source = environ[CONFIG_ENV], CONFIG_ENV
    else:
        pyproject = cwd / "pyproject.toml"
        if not pyproject.is_file():
            return None
        data = _parse_toml_file(pyproject, "pyproject.toml", "pyproject.toml")
        tool = data.get("tool", {})
        section = tool.get("typhoon") if isinstance(tool, dict) else None
        if section is None:
            return None
        return _check_tables(_File("pyproject.toml", "tool.typhoon.", _table_dict(section)), tables)
    data = _parse_toml_file(cwd / label, label, f"{source} {label}")
    return _check_tables(_File(label, "", data), tables)


def _parse_toml_file(path: Path, label: str, where: str) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc}") from None


def _table_dict(section: object) -> dict[str, Any]:
    if not isinstance(section, dict):
        raise ConfigError("pyproject.toml: [tool.typhoon] must be a table")
    return section


def _check_tables(file: _File, tables: Sequence[Table]) -> _File:
    by_table = {t.table: {s.name for s in t.settings} for t in tables}
    owner = {name: table for table, names in by_table.items() for name in names}
    for key, body in file.tables.items():
        where = f"{file.label} [{file.prefix}{key}]"
        if key not in by_table:
            if key in owner:
                hint = f" ({key} belongs in [{file.prefix}{owner[key]}])"
            else:
                hint = suggest(key, by_table)
            raise ConfigError(f"{where}: unknown table{hint}")
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: must be a table of settings")
        for name in body:
            if name in by_table[key]:
                continue
            if name in owner:
                hint = f" ({name} belongs in [{file.prefix}{owner[name]}])"
            elif name in by_table:
                hint = f" ([{file.prefix}{name}] is a table of its own)"
            else:
                hint = suggest(name, by_table[key])
            raise ConfigError(f"{where} {name}: unknown setting{hint}")
    return file


# -- the result --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Everything ``typhoon run`` was told, resolved and validated.

    Attributes:
        server: the ``[server]`` table.
        http: the ``[http]`` table, with ``[limits]`` as ``http.limits``.
        extra: every other registered group's instance, by table.
    """

    server: ServerConfig
    http: HTTPConfig
    extra: Mapping[str, object] = field(default_factory=lambda: types.MappingProxyType({}))

    @classmethod
    def from_groups(cls, groups: Mapping[str, object]) -> RunConfig:
        rest = {k: v for k, v in groups.items() if k not in ("server", "http")}
        server, http = groups["server"], groups["http"]
        assert isinstance(server, ServerConfig)
        assert isinstance(http, HTTPConfig)
        return cls(server=server, http=http, extra=types.MappingProxyType(rest))

    def get(self, kind: type[T]) -> T:
        """The instance of the registered group ``kind`` (``config.get(TLSConfig)``).

        Raises:
            KeyError: ``kind`` is not a registered group.
        """
        for value in (self.server, self.http, *self.extra.values()):
            if type(value) is kind:
                return value
        raise KeyError(f"no group of type {kind.__name__}")


def resolve(
    argv: Sequence[str],
    environ: Mapping[str, str] | None = None,
    *,
    cwd: Path | None = None,
    groups: Sequence[Group] = GROUPS,
) -> Loaded:
    """Parse ``argv`` (the arguments after ``typhoon run``) and :func:`load` the settings.

    Example::

        loaded = resolve(["examples.hello:app", "--port", "9000"], environ={})
        config = RunConfig.from_groups(loaded.groups)
        assert config.server.port == 9000
    """
    parser = argparse.ArgumentParser(prog="typhoon run")
    add_arguments(parser, groups)
    args = parser.parse_args(list(argv))
    return load(
        args, os.environ if environ is None else environ, cwd=cwd or Path.cwd(), groups=groups
    )


# -- showing it --------------------------------------------------------------------------


def to_toml(loaded: Loaded) -> str:
    """The resolved settings as a TOML file, each line commented with its source.

    Feeding the text back with ``--config`` gives the same settings.
    """
    lines = ["# typhoon run: the resolved settings; after each, where it came from"]
    table = None
    for setting in loaded.settings:
        if setting.table != table:
            table = setting.table
            lines += ["", f"[{table}]"]
        line = f"{setting.name} = {toml_value(loaded.values[setting.name])}"
        lines.append(f"{line:<40} # {loaded.origins[setting.name].where}")
    return "\n".join(lines) + "\n"


def markdown_table(groups: Sequence[Group] = GROUPS) -> str:
    """The table of every setting that ``docs/server.md`` shows."""
    rows = [
        "| setting | flag | environment | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for s in settings_of(groups):
        flags = s.name.upper() if s.positional else s.flag
        if s.no_flag is not None and not s.positional:
            flags += f" / {s.no_flag}"
        meaning = s.help + (f" ({', '.join(s.kind.choices)})" if s.kind.choices else "")
        rows.append(
            f"| `[{s.table}] {s.name}` | `{flags}` | `{s.env}` | `{show_default(s)}` | {meaning} |"
        )
    return "\n".join(rows) + "\n"
