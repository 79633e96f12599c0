"""typhoon's logs: where they go, and how a line looks (text or JSON lines).

Loggers
-------
* ``typhoon.access``: one line per response, written by the connection once the
  handler has returned. Text lines are in the combined log format; JSON lines carry
  the same facts as separate keys, plus the duration.
* ``typhoon.error``: exceptions in the application (with their traceback) and what
  the server has to say about a connection.
* ``typhoon.server`` and the others under ``typhoon``: the server's life.

Theory of operation
-------------------
Whether to log, and how, is decided once per server (``ServerState``): with the access
log off the connection does no work for it at all. With it on, the connection writes
the combined line (:func:`log_access_text`, the same call as before JSON lines existed),
unless a handler the access logger reaches wants the facts as fields (its formatter
says ``wants_access_fields``, as :class:`JSONFormatter` does). Then, and only then, the
connection times each request and hands the logger an :class:`AccessEntry` (the
exchange and its duration) that the formatter reads; ``str(entry)`` still renders the
combined line for a text handler beside it. So JSON lines cost the text path nothing.
Configure logging before creating the server.

Nothing logged carries request headers beyond ``User-Agent`` and ``Referer``: no
cookies, no ``Authorization``.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TextIO, cast, get_args

import msgspec

if TYPE_CHECKING:
    from typhoon.http.exchange import Exchange

LogLevel = Literal["critical", "error", "warning", "info", "debug"]
LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""The layout of typhoon's text lines (the access log has its own: the combined format)."""

access_logger = logging.getLogger("typhoon.access")

_LEVELS: tuple[str, ...] = get_args(LogLevel)
_FORMATS: tuple[str, ...] = get_args(LogFormat)


@dataclass(frozen=True, slots=True)
class LogConfig:
    """How much typhoon logs, and in which format.

    Example::

        configure_logging(LogConfig(log_level="warning", log_format="json"))

    Raises:
        ValueError: an unknown level or format.
    """

    log_level: LogLevel = field(
        default="info",
        metadata={"help": "how much typhoon logs: " + ", ".join(_LEVELS)},
    )
    log_format: LogFormat = field(
        default="text",
        metadata={"help": "text lines, or json: one JSON object per line"},
    )

    @classmethod
    def of(cls, log_level: str, log_format: str = "text") -> LogConfig:
        """Build one from plain strings (any case for the level), checked as usual."""
        return cls(cast(LogLevel, log_level.lower()), cast(LogFormat, log_format))

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            allowed = _LEVELS if f.name == "log_level" else _FORMATS
            if value not in allowed:
                raise ValueError(
                    f"LogConfig.{f.name} must be one of {', '.join(allowed)}, got {value!r}"
                )


COMBINED_FORMAT = '%s - - [%s] "%s %s HTTP/%s" %d %d "%s" "%s"'
"""An access line in text: the combined log format, filled by :func:`combined_fields`."""


def combined_fields(exchange: Exchange) -> tuple[str, str, str, str, str, int, int, str, str]:
    """The values of a combined-format line for a finished exchange."""
    headers = dict(exchange.headers)  # the last field of a name wins
    return (
        exchange.client[0] if exchange.client else "-",
        time.strftime("%d/%b/%Y:%H:%M:%S %z"),
        exchange.method,
        exchange.target.decode("latin-1"),
        exchange.http_version,
        exchange.status,
        exchange.bytes_sent,
        headers.get(b"referer", b"-").decode("latin-1"),
        headers.get(b"user-agent", b"-").decode("latin-1"),
    )


def log_access_text(exchange: Exchange) -> None:
    """Write the access line of ``exchange`` in the combined log format."""
    access_logger.info(COMBINED_FORMAT, *combined_fields(exchange))


def log_access_fields(exchange: Exchange) -> None:
    """Write the access line of ``exchange`` as an :class:`AccessEntry` (for JSON lines)."""
    access_logger.info("%s", AccessEntry((exchange, time.perf_counter() - exchange.started)))


def wants_access_fields(logger: logging.Logger) -> bool:
    """Whether a handler that ``logger``'s records reach formats access fields.

    True when one of their formatters has ``wants_access_fields = True``, as
    :class:`JSONFormatter` does. The server asks once, when it is created.
    """
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if getattr(handler.formatter, "wants_access_fields", False):
                return True
        if not current.propagate:
            break
        current = current.parent
    return False


class AccessEntry(tuple[Any, ...]):
    """One access line for a structured formatter: ``AccessEntry((exchange, duration_s))``.

    :meth:`fields` is what a JSON line carries; ``str(entry)`` is the combined log
    format line, for a text handler beside the JSON one. A tuple, so that making one
    runs no Python code.
    """

    __slots__ = ()

    @property
    def exchange(self) -> Exchange:
        exchange: Exchange = self[0]
        return exchange

    @property
    def duration_s(self) -> float:
        """From the request head being complete to the handler returning."""
        duration: float = self[1]
        return duration

    def __str__(self) -> str:
        return COMBINED_FORMAT % combined_fields(self[0])

    def fields(self) -> dict[str, Any]:
        """The keys a JSON access line adds (absent headers are null)."""
        exchange = self.exchange
        headers = dict(exchange.headers)
        referer = headers.get(b"referer")
        agent = headers.get(b"user-agent")
        return {
            "client": exchange.client[0] if exchange.client else None,
            "method": exchange.method,
            "path": exchange.path.decode("latin-1"),
            "query": exchange.query.decode("latin-1"),
            "status": exchange.status,
            "bytes": exchange.bytes_sent,
            "duration_ms": round(self.duration_s * 1000.0, 3),
            "http_version": exchange.http_version,
            "user_agent": None if agent is None else agent.decode("latin-1"),
            "referer": None if referer is None else referer.decode("latin-1"),
        }


_second: tuple[int, str] = (-1, "")  # the last second formatted, and its text


def _iso_utc(created: float) -> str:
    """``2026-11-29T09:06:32.123Z``: ISO 8601 in UTC, to the millisecond.

    The text of a second is made once and reused by every line within it.
    """
    global _second
    whole = int(created)
    second, text = _second
    if whole != second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _second = (whole, text)  # one assignment: safe for logging from threads
    return "%s.%03dZ" % (text, int((created - whole) * 1000))  # noqa: UP031 - fastest here


class JSONFormatter(logging.Formatter):
    """Format each record as one JSON object on one line.

    Every line has ``time`` (ISO 8601, UTC), ``level`` (lower case), ``logger`` and
    ``message``. An access line (an :class:`AccessEntry` as its only argument) adds
    the entry's :meth:`AccessEntry.fields`; a record with an exception adds
    ``exc_type``, ``exc_message`` and ``traceback`` (the whole traceback, one string).
    """

    wants_access_fields = True  # the server hands the access logger AccessEntry records

    def __init__(self) -> None:
        super().__init__()
        self._encoder = msgspec.json.Encoder(enc_hook=repr)

    def format(self, record: logging.LogRecord) -> str:
        args = record.args
        entry = args[0] if isinstance(args, tuple) and len(args) == 1 else None
        if isinstance(entry, AccessEntry):
            exchange = entry.exchange
            message = f"{exchange.method} {exchange.target.decode('latin-1')} {exchange.status}"
        else:
            entry = None
            message = record.getMessage()
        line: dict[str, Any] = {
            "time": _iso_utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        if entry is not None:
            line.update(entry.fields())
        if record.exc_info and record.exc_info[1] is not None:
            exc_type, exc, tb = record.exc_info
            line["exc_type"] = _qualified_name(exc_type or type(exc))
            line["exc_message"] = str(exc)
            line["traceback"] = "".join(traceback.format_exception(exc_type, exc, tb))
        if record.stack_info:
            line["stack"] = record.stack_info
        return self._encoder.encode(line).decode("utf-8")


def _qualified_name(cls: type[BaseException]) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


class _StderrHandler(logging.StreamHandler[TextIO]):
    """The handlers :func:`configure_logging` installs (and may re-format later)."""


def _formatter(log_format: str, text: str) -> logging.Formatter:
    return JSONFormatter() if log_format == "json" else logging.Formatter(text)


def _install(logger: logging.Logger, formatter: logging.Formatter) -> None:
    """Give ``logger`` a stderr handler with ``formatter``, unless the application
    gave it handlers of its own."""
    ours = [h for h in logger.handlers if isinstance(h, _StderrHandler)]
    if logger.handlers and not ours:
        return  # configured by the application: left alone
    for handler in ours:
        handler.setFormatter(formatter)
    if not ours:
        handler = _StderrHandler(sys.stderr)
        handler.setFormatter(formatter)
        logger.addHandler(handler)


def configure_logging(
    config: LogConfig | str = "info", *, access_log: bool = True, log_format: str | None = None
) -> None:
    """Send typhoon's logs to stderr, as text or JSON lines.

    A logger the application gave handlers of its own is left alone; calling this
    again changes the level and format of what it installed. In JSON mode the root
    logger gets a JSON handler too when it has none, so that other libraries'
    warnings are JSON lines as well.

    Example::

        configure_logging(LogConfig(log_format="json"), access_log=False)

    Args:
        config: a :class:`LogConfig`, or a level name (the older form).
        access_log: whether ``typhoon.access`` writes a line per response.
        log_format: with a level name, ``"text"`` (the default) or ``"json"``.

    Raises:
        ValueError: an unknown level or format.
    """
    if isinstance(config, str):
        config = LogConfig.of(config, log_format or "text")
    elif log_format is not None:
        raise TypeError("log_format= goes with a level name; a LogConfig already has one")
    root = logging.getLogger("typhoon")
    _install(root, _formatter(config.log_format, TEXT_FORMAT))
    if any(isinstance(h, _StderrHandler) for h in root.handlers):
        root.propagate = False
    root.setLevel(config.log_level.upper())
    access = logging.getLogger("typhoon.access")
    _install(access, _formatter(config.log_format, "%(message)s"))
    if any(isinstance(h, _StderrHandler) for h in access.handlers):
        access.propagate = False
    access.setLevel(logging.INFO if access_log else logging.WARNING)
    top = logging.getLogger()
    if config.log_format == "json":
        if not top.handlers or any(isinstance(h, _StderrHandler) for h in top.handlers):
            _install(top, JSONFormatter())
    else:
        for handler in [h for h in top.handlers if isinstance(h, _StderrHandler)]:
            top.removeHandler(handler)  # installed by an earlier call in JSON mode
