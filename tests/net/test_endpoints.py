"""Endpoint strings: what each form means, and a clear error for each mistake."""

from __future__ import annotations

import pytest

from typhoon.net.endpoints import Endpoint, parse_client, parse_server


def test_server_forms() -> None:
    tcp = parse_server("tcp:9000")
    assert (tcp.kind, tcp.host, tcp.port, tcp.path) == ("tcp", None, 9000, None)
    local = parse_server("tcp:9000:interface=127.0.0.1:backlog=10:reuse_port=yes")
    assert (local.host, local.int_option("backlog", 100), local.flag("reuse_port")) == (
        "127.0.0.1",
        10,
        True,
    )
    assert parse_server("tcp6:0:interface=[::1]").host == "::1"
    unix = parse_server("unix:/run/app.sock:mode=660")
    assert (unix.path, unix.option("mode")) == ("/run/app.sock", "660")
    assert parse_server("udp:5353").kind == "udp"
    tls = parse_server("tls:9443:cert=c.pem:key=k.pem:alpn=h2,http/1.1")
    assert (tls.port, tls.option("cert"), tls.option("alpn")) == (9443, "c.pem", "h2,http/1.1")
    assert parse_server(r"unix:/tmp/a\:b.sock").path == "/tmp/a:b.sock"
    assert parse_server("TCP:80").kind == "tcp"


def test_client_forms() -> None:
    tcp = parse_client("tcp:example.com:80:timeout=5")
    assert (tcp.host, tcp.port, tcp.int_option("timeout", 30)) == ("example.com", 80, 5)
    assert parse_client("tcp6:[::1]:9000").host == "::1"
    assert parse_client("unix:/run/app.sock").path == "/run/app.sock"
    tls = parse_client("tls:example.com:443:verify=no:sni=other.example")
    assert (tls.flag("verify", True), tls.option("sni")) == (False, "other.example")
    assert isinstance(tls, Endpoint)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sctp:9000", "unknown kind 'sctp'"),
        ("tcp", "the port is missing"),
        ("tcp:interface=x", "the port is missing"),
        ("tcp:http", "port must be a number from 0 to 65535, got 'http'"),
        ("tcp:70000", "port must be a number from 0 to 65535, got '70000'"),
        ("tcp:80:interfce=x", "unknown option 'interfce' for tcp"),
        ("tcp:80:interface", "expected name=value, got 'interface'"),
        ("tcp:80:backlog=1:backlog=2", "option 'backlog' given twice"),
        ("unix:", "the socket path is missing"),
        ("tls:443:cert=c.pem", "tls needs key=<file>"),
        ("udp:53:cert=x", "unknown option 'cert' for udp"),
    ],
)
def test_server_mistakes_say_which_part(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="endpoint") as info:
        parse_server(text)
    assert message in str(info.value)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tcp:9000", "needs a host and a port"),
        ("tcp::80", "the host is empty"),
        ("tcp:example.com:0", "cannot connect to port 0"),
        ("tcp:example.com:x", "port must be a number"),
        ("tls:example.com:443:verfy=no", "unknown option 'verfy' for tls"),
    ],
)
def test_client_mistakes_say_which_part(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="endpoint") as info:
        parse_client(text)
    assert message in str(info.value)


def test_option_conversions_name_the_option() -> None:
    endpoint = parse_server("tcp:80:backlog=many:reuse_port=maybe")
    with pytest.raises(ValueError, match="backlog must be an integer, got 'many'"):
        endpoint.int_option("backlog", 100)
    with pytest.raises(ValueError, match="reuse_port must be yes or no, got 'maybe'"):
        endpoint.flag("reuse_port")
    assert endpoint.option("interface") is None
    with pytest.raises(TypeError, match="must be a str"):
        parse_server(9000)  # type: ignore[arg-type]
