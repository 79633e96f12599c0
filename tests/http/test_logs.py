"""Log configuration and the two line formats, on records and in-memory connections."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from typhoon.http import HTTPConfig
from typhoon.http.exchange import Exchange
from typhoon.http.logs import JSONFormatter, LogConfig, configure_logging
from typhoon.http.server import configure_logging as configure_logging_from_server
from typhoon.testing.http import connect, feed, settle

COMBINED = re.compile(
    r"^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "
    r'"GET /items/7\?color=red HTTP/1\.1" 200 5 "https://ref\.example/" "probe/1\.0"$'
)
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
REQUEST = (
    b"GET /items/7?color=red HTTP/1.1\r\nHost: t\r\nUser-Agent: probe/1.0\r\n"
    b"Referer: https://ref.example/\r\nCookie: session=SECRET-COOKIE\r\n"
    b"Authorization: Bearer SECRET-TOKEN\r\n\r\n"
)


class Hello:
    async def handle(self, exchange: Exchange) -> None:
        exchange.respond(200, [(b"content-type", b"text/plain")], b"hello")


@pytest.fixture
def typhoon_loggers() -> Iterator[None]:
    """Put typhoon's loggers (and the root's handlers) back as they were."""
    names = ["typhoon", "typhoon.access", ""]
    saved = [
        (logging.getLogger(n), list(logging.getLogger(n).handlers), logging.getLogger(n).level)
        for n in names
    ]
    propagate = {n: logging.getLogger(n).propagate for n in names}
    try:
        yield
    finally:
        for logger, handlers, level in saved:
            logger.handlers[:] = handlers
            logger.setLevel(level)
        for n, value in propagate.items():
            logging.getLogger(n).propagate = value


def capture(fmt: logging.Formatter) -> tuple[logging.Handler, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(fmt)
    return handler, out


async def serve_one(request: bytes, formatter: logging.Formatter) -> str:
    """One request over an in-memory connection with the access log on; what it logged."""
    handler, out = capture(formatter)
    access = logging.getLogger("typhoon.access")
    saved = (list(access.handlers), access.level, access.propagate)
    access.handlers[:] = [handler]
    access.setLevel(logging.INFO)
    access.propagate = False
    try:
        protocol, transport = connect(Hello(), HTTPConfig())
        feed(protocol, request)
        await settle()
        assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n")
    finally:
        access.handlers[:], level, access.propagate = saved[0], saved[1], saved[2]
        access.setLevel(level)
    return out.getvalue()


# -- LogConfig ---------------------------------------------------------------------------


def test_log_config_defaults_and_help_metadata() -> None:
    config = LogConfig()
    assert (config.log_level, config.log_format) == ("info", "text")
    fields = LogConfig.__dataclass_fields__
    assert "json" in fields["log_format"].metadata["help"]
    assert "debug" in fields["log_level"].metadata["help"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"log_level": "loud"}, "LogConfig.log_level must be one of critical, error"),
        ({"log_format": "xml"}, "LogConfig.log_format must be one of text, json, got 'xml'"),
    ],
)
def test_log_config_rejects_unknown_values(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        LogConfig(**kwargs)  # type: ignore[arg-type]


def test_log_config_of_accepts_any_case_for_the_level() -> None:
    assert LogConfig.of("WARNING", "json") == LogConfig("warning", "json")


# -- the access log ----------------------------------------------------------------------


async def test_access_line_in_text_is_the_combined_format() -> None:
    text = await serve_one(REQUEST, logging.Formatter("%(message)s"))
    assert COMBINED.match(text.rstrip("\n")), text
    assert "SECRET" not in text


async def test_access_line_in_json_has_stable_keys_and_no_secrets() -> None:
    text = await serve_one(REQUEST, JSONFormatter())
    assert text.count("\n") == 1
    line = json.loads(text)
    assert list(line) == [
        "time",
        "level",
        "logger",
        "message",
        "client",
        "method",
        "path",
        "query",
        "status",
        "bytes",
        "duration_ms",
        "http_version",
        "user_agent",
        "referer",
    ]
    duration = line.pop("duration_ms")
    assert isinstance(duration, float)
    assert 0 <= duration < 5000
    assert ISO_UTC.match(line.pop("time"))
    assert line == {
        "level": "info",
        "logger": "typhoon.access",
        "message": "GET /items/7?color=red 200",
        "client": "127.0.0.1",
        "method": "GET",
        "path": "/items/7",
        "query": "color=red",
        "status": 200,
        "bytes": 5,
        "http_version": "1.1",
        "user_agent": "probe/1.0",
        "referer": "https://ref.example/",
    }
    assert "SECRET" not in text


async def test_access_line_in_json_without_optional_headers_has_nulls() -> None:
    line = json.loads(await serve_one(b"GET / HTTP/1.0\r\n\r\n", JSONFormatter()))
    assert (line["user_agent"], line["referer"], line["query"]) == (None, None, "")
    assert line["http_version"] == "1.0"


async def test_access_log_off_makes_no_entry_and_no_timing() -> None:
    handler, out = capture(logging.Formatter("%(message)s"))
    access = logging.getLogger("typhoon.access")
    access.addHandler(handler)
    seen: list[float] = []

    class Records:
        async def handle(self, exchange: Exchange) -> None:
            seen.append(exchange.started)
            exchange.respond(204)

    try:
        protocol, _ = connect(Records(), HTTPConfig(access_log=False))
        feed(protocol, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        await settle()
    finally:
        access.removeHandler(handler)
    assert out.getvalue() == ""
    assert seen == [0.0]


# -- error lines -------------------------------------------------------------------------


def test_json_error_line_carries_the_exception_and_its_traceback() -> None:
    handler, out = capture(JSONFormatter())
    logger = logging.getLogger("typhoon.test.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise KeyError("missing 'x'\nsecond line")
        except KeyError:
            logger.exception("while handling %s %s", "GET", "/boom")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert text.count("\n") == 1  # the traceback's newlines are escaped inside the string
    line = json.loads(text)
    assert line["level"] == "error"
    assert line["logger"] == "typhoon.test.logs"
    assert line["message"] == "while handling GET /boom"
    assert line["exc_type"] == "KeyError"
    assert line["exc_message"] == str(KeyError("missing 'x'\nsecond line"))
    assert line["traceback"].startswith("Traceback (most recent call last):\n")
    assert "test_json_error_line_carries_the_exception_and_its_traceback" in line["traceback"]
    assert line["traceback"].endswith("KeyError: \"missing 'x'\\nsecond line\"\n")


def test_json_names_a_non_builtin_exception_with_its_module() -> None:
    class Oops(Exception):
        pass

    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "m", None, None)
    try:
        raise Oops("bad")
    except Oops:
        record.exc_info = sys.exc_info()
    line = json.loads(JSONFormatter().format(record))
    assert line["exc_type"] == f"{__name__}.{Oops.__qualname__}"
    assert line["exc_message"] == "bad"


def test_json_line_for_an_unserialisable_argument_uses_its_message() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "value %r", (object(),), None)
    line = json.loads(JSONFormatter().format(record))
    assert line["message"].startswith("value <object object at 0x")


# -- configure_logging -------------------------------------------------------------------


@pytest.mark.usefixtures("typhoon_loggers")
def test_configure_logging_json_then_text_switches_its_own_handlers() -> None:
    for name in ("typhoon", "typhoon.access", ""):
        logging.getLogger(name).handlers[:] = []
    configure_logging(LogConfig(log_format="json"), access_log=True)
    root = logging.getLogger("typhoon")
    access = logging.getLogger("typhoon.access")
    top = logging.getLogger()
    assert [type(h.formatter) for h in root.handlers] == [JSONFormatter]
    assert [type(h.formatter) for h in access.handlers] == [JSONFormatter]
    assert [type(h.formatter) for h in top.handlers] == [JSONFormatter]
    assert access.level == logging.INFO

    configure_logging("WARNING", access_log=False)  # the older form: a level name
    assert [type(h.formatter) for h in root.handlers] == [logging.Formatter]
    assert root.level == logging.WARNING
    assert access.level == logging.WARNING
    assert top.handlers == []  # what JSON mode added to the root is gone


@pytest.mark.usefixtures("typhoon_loggers")
def test_configure_logging_leaves_handlers_the_application_set() -> None:
    mine = logging.NullHandler()
    logging.getLogger("typhoon").handlers[:] = [mine]
    logging.getLogger("typhoon.access").handlers[:] = []
    configure_logging("info", log_format="json")
    assert logging.getLogger("typhoon").handlers == [mine]
    assert mine.formatter is None
    assert type(logging.getLogger("typhoon.access").handlers[0].formatter) is JSONFormatter


def test_configure_logging_refuses_a_format_beside_a_config() -> None:
    with pytest.raises(TypeError, match="LogConfig already has one"):
        configure_logging(LogConfig(), log_format="json")


def test_configure_logging_is_still_importable_from_server() -> None:
    assert configure_logging_from_server is configure_logging


@pytest.mark.parametrize("created", [0.0, 1.9995, 1_795_944_134.4567, 1_795_944_135.0])
def test_json_time_is_iso_8601_utc_to_the_millisecond(created: float) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.created = created
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert json.loads(JSONFormatter().format(record))["time"] == expected.replace("+00:00", "Z")


async def test_text_handler_beside_a_json_one_gets_the_combined_line() -> None:
    text_handler, text_out = capture(logging.Formatter("%(message)s"))
    json_handler, json_out = capture(JSONFormatter())
    access = logging.getLogger("typhoon.access")
    saved = (list(access.handlers), access.level, access.propagate)
    access.handlers[:] = [text_handler, json_handler]
    access.setLevel(logging.INFO)
    access.propagate = False
    try:
        protocol, _ = connect(Hello(), HTTPConfig())
        assert protocol.state.access_fields
        feed(protocol, REQUEST)
        await settle()
    finally:
        access.handlers[:] = saved[0]
        access.setLevel(saved[1])
        access.propagate = saved[2]
    assert COMBINED.match(text_out.getvalue().rstrip("\n")), text_out.getvalue()
    assert json.loads(json_out.getvalue())["path"] == "/items/7"


@pytest.mark.parametrize(("formatter", "timed"), [(JSONFormatter(), True), (None, False)])
async def test_requests_are_timed_only_for_json_lines(
    formatter: logging.Formatter | None, timed: bool
) -> None:
    seen: list[float] = []

    class Records:
        async def handle(self, exchange: Exchange) -> None:
            seen.append(exchange.started)
            exchange.respond(204)

    handler, _ = capture(formatter or logging.Formatter("%(message)s"))
    parent = logging.getLogger("typhoon")  # found through propagation
    access = logging.getLogger("typhoon.access")
    saved = (access.level, access.propagate, list(access.handlers))
    access.handlers[:] = []
    access.propagate = True
    access.setLevel(logging.INFO)
    parent.addHandler(handler)
    try:
        protocol, _ = connect(Records(), HTTPConfig())
        assert protocol.state.access_fields is timed
        feed(protocol, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        await settle()
    finally:
        parent.removeHandler(handler)
        access.setLevel(saved[0])
        access.propagate = saved[1]
        access.handlers[:] = saved[2]
    assert len(seen) == 1
    assert (seen[0] > 0) is timed


def test_json_line_carries_stack_info_when_asked() -> None:
    handler, out = capture(JSONFormatter())
    logger = logging.getLogger("typhoon.test.stack")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("where am I", stack_info=True)
    finally:
        logger.removeHandler(handler)
    line = json.loads(out.getvalue())
    assert line["stack"].startswith("Stack (most recent call last):")
    assert "test_json_line_carries_stack_info_when_asked" in line["stack"]
