"""Proxy-header trust: the Forwarded parser, the trust walk, and real servers behind it.

The parser and resolution tests are pure (no loop); the server tests talk to an
HTTPServer on 127.0.0.1 through real sockets.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from typhoon.http import Exchange, HTTPConfig, HTTPServer
from typhoon.http.proxy import (
    Forwarding,
    ProxyConfig,
    ProxyTrust,
    parse_forwarded,
    parse_node,
)

# -- the Forwarded parser ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("for=192.0.2.60", [{"for": "192.0.2.60"}]),
        ("For=192.0.2.60;PROTO=https", [{"for": "192.0.2.60", "proto": "https"}]),
        (
            'for=192.0.2.43, for="[2001:db8:cafe::17]"',
            [{"for": "192.0.2.43"}, {"for": "[2001:db8:cafe::17]"}],
        ),
        ('for="[2001:db8::1]:4711"', [{"for": "[2001:db8::1]:4711"}]),
        (
            "for=192.0.2.60;proto=http;by=203.0.113.43",
            [{"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"}],
        ),
        ('for="_gazonk"', [{"for": "_gazonk"}]),
        ("for=unknown", [{"for": "unknown"}]),
        ('for="a\\"b;c,d"', [{"for": 'a"b;c,d'}]),  # quoted-pair, separators in quotes
        ('host="example.com:8443"', [{"host": "example.com:8443"}]),
        (
            "for=1.2.3.4 ; proto=https , for=5.6.7.8",
            [{"for": "1.2.3.4", "proto": "https"}, {"for": "5.6.7.8"}],
        ),
        ("for=1.2.3.4,,for=5.6.7.8", [{"for": "1.2.3.4"}, {"for": "5.6.7.8"}]),
        ("for=1.2.3.4;", [{"for": "1.2.3.4"}]),
        ("", []),
        ("  ", []),
        ('for=""', [{"for": ""}]),
        # malformed
        ("for", None),
        ("for=", None),
        ("=1.2.3.4", None),
        ('for="1.2.3.4', None),  # unterminated quote
        ("for=1.2.3.4 x", None),
        ("for=[::1]", None),  # brackets are not a token: IPv6 must be quoted
        ("for=1.2.3.4;for=5.6.7.8", None),  # a parameter twice in one element
        ("for = 1.2.3.4", None),  # no whitespace around '='
        ('for="\x01"', None),
    ],
)
def test_parse_forwarded(value: str, expected: list[dict[str, str]] | None) -> None:
    assert parse_forwarded(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.60", ("192.0.2.60", 0)),
        ("192.0.2.60:8080", ("192.0.2.60", 8080)),
        ("[2001:db8:cafe::17]", ("2001:db8:cafe::17", 0)),
        ("[2001:DB8:cafe:0::17]:4711", ("2001:db8:cafe::17", 4711)),
        ("2001:db8::1", ("2001:db8::1", 0)),  # X-Forwarded-For's bare IPv6
        ("unknown", ("unknown", 0)),
        ("_hidden", ("_hidden", 0)),
        ("_hidden:_port", ("_hidden", 0)),
        ("10.0.0.1:_port", ("10.0.0.1", 0)),
        (" 10.0.0.1 ", ("10.0.0.1", 0)),
        # malformed
        ("", None),
        ("example.com", None),
        ("10.0.0.1:", None),
        ("10.0.0.1:99999", None),
        ("10.0.0.1:8x", None),
        ("[10.0.0.1]", None),
        ("[::1", None),
        ("[::1]x", None),
        ("[::1]:", None),
        ("256.0.0.1", None),
        ("_", None),
    ],
)
def test_parse_node(text: str, expected: tuple[str, int] | None) -> None:
    assert parse_node(text) == expected


_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._", min_size=1, max_size=8)
_quotable = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=12,
)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(st.lists(st.dictionaries(_token, _quotable, min_size=1, max_size=4), min_size=1, max_size=4))
def test_parse_forwarded_reads_back_what_was_written(elements: list[dict[str, str]]) -> None:
    value = ", ".join(";".join(f"{k}={_quote(v)}" for k, v in e.items()) for e in elements)
    assert parse_forwarded(value) == elements


@given(st.text(alphabet=st.characters(max_codepoint=0xFF)))
def test_parse_forwarded_never_raises(value: str) -> None:
    result = parse_forwarded(value)
    assert result is None or all(isinstance(element, dict) for element in result)


@given(st.text(alphabet=st.characters(max_codepoint=0xFF)))
def test_parse_node_never_raises(value: str) -> None:
    node = parse_node(value)
    assert node is None or 0 <= node[1] <= 65535


_header_names = st.sampled_from(
    [b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded", b"host"]
)
_header_values = st.one_of(
    st.binary(max_size=40),
    st.lists(
        st.sampled_from(
            [b"1.2.3.4", b"127.0.0.1", b"[::1]:80", b"unknown", b"_x", b"for=", b'"', b"https"]
        ),
        max_size=5,
    ).map(b", ".join),
)


@given(st.lists(st.tuples(_header_names, _header_values), max_size=6))
def test_resolve_never_raises(headers: list[tuple[bytes, bytes]]) -> None:
    said = TRUST_LOCAL.resolve(headers)
    assert said.scheme in (None, "http", "https")


# -- resolving: which hop is the client --------------------------------------------------

TRUST_LOCAL = ProxyTrust(ProxyConfig())
TRUST_NETWORKS = ProxyTrust(ProxyConfig(forwarded_allow_ips=("10.0.0.0/8", "127.0.0.1")))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], Forwarding(None, None, None)),
        ([(b"x-forwarded-for", b"203.0.113.7")], Forwarding(("203.0.113.7", 0), None, None)),
        (
            [
                (b"x-forwarded-for", b"203.0.113.7"),
                (b"x-forwarded-proto", b"HTTPS"),
                (b"x-forwarded-host", b"example.com"),
            ],
            Forwarding(("203.0.113.7", 0), "https", "example.com"),
        ),
        # the client spoofs a hop; the proxy appends the real address: the real one wins
        (
            [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.7")],
            Forwarding(("203.0.113.7", 0), None, None),
        ),
        # multiple hops: trusted proxies (10/8) are skipped from the right
        (
            [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.7, 10.1.2.3, 10.9.9.9")],
            Forwarding(("203.0.113.7", 0), None, None),
        ),
        # several fields form one list
        (
            [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-for", b"10.1.2.3")],
            Forwarding(("203.0.113.7", 0), None, None),
        ),
        # every hop trusted: the leftmost is the client
        (
            [(b"x-forwarded-for", b"10.0.0.1, 10.0.0.2")],
            Forwarding(("10.0.0.1", 0), None, None),
        ),
        # proto and host at the client's hop: two proxies appended, one skipped
        (
            [
                (b"x-forwarded-for", b"203.0.113.7, 10.1.2.3"),
                (b"x-forwarded-proto", b"https, http"),
                (b"x-forwarded-host", b"example.com, inner.local"),
            ],
            Forwarding(("203.0.113.7", 0), "https", "example.com"),
        ),
        # a list too short for the client's hop leaves them alone
        (
            [(b"x-forwarded-for", b"203.0.113.7, 10.1.2.3"), (b"x-forwarded-proto", b"https")],
            Forwarding(("203.0.113.7", 0), None, None),
        ),
        # malformed: garbage left of the client is never read
        (
            [(b"x-forwarded-for", b"<script>, 203.0.113.7")],
            Forwarding(("203.0.113.7", 0), None, None),
        ),
        # malformed: a hop the walk reaches makes the header ignored
        ([(b"x-forwarded-for", b"203.0.113.7, nonsense")], Forwarding(None, None, None)),
        ([(b"x-forwarded-for", b"")], Forwarding(None, None, None)),
        ([(b"x-forwarded-proto", b"gopher")], Forwarding(None, None, None)),
        ([(b"x-forwarded-proto", b"wss")], Forwarding(None, "https", None)),
        ([(b"x-forwarded-proto", b"ws")], Forwarding(None, "http", None)),
        ([(b"x-forwarded-host", b"bad host\x01")], Forwarding(None, None, None)),
        ([(b"x-forwarded-host", b"[::1]:8080")], Forwarding(None, None, "[::1]:8080")),
        ([(b"x-forwarded-for", b"\xff\xfe")], Forwarding(None, None, None)),
        # Forwarded
        (
            [(b"forwarded", b'for="[2001:db8::7]:4711";proto=https;host=example.com')],
            Forwarding(("2001:db8::7", 4711), "https", "example.com"),
        ),
        (
            [(b"forwarded", b"for=6.6.6.6;proto=http, for=203.0.113.7;proto=https, for=10.0.0.5")],
            Forwarding(("203.0.113.7", 0), "https", None),
        ),
        ([(b"forwarded", b'for="_hidden";proto=https')], Forwarding(("_hidden", 0), "https", None)),
        ([(b"forwarded", b"for=unknown")], Forwarding(("unknown", 0), None, None)),
        (
            [(b"forwarded", b"for=10.0.0.1;proto=https, for=10.0.0.2")],
            Forwarding(("10.0.0.1", 0), "https", None),
        ),
        # an element without for=: the peer stays the client, its proto and host apply
        (
            [(b"forwarded", b"proto=https;host=example.com")],
            Forwarding(None, "https", "example.com"),
        ),
        ([(b"forwarded", b'for="oops')], Forwarding(None, None, None)),
        ([(b"forwarded", b"for=203.0.113.7, for=not-an-ip")], Forwarding(None, None, None)),
        # both kinds: X-Forwarded-* wins, Forwarded is ignored
        (
            [(b"forwarded", b"for=6.6.6.6;proto=https"), (b"x-forwarded-for", b"203.0.113.7")],
            Forwarding(("203.0.113.7", 0), None, None),
        ),
    ],
)
def test_resolve(headers: list[tuple[bytes, bytes]], expected: Forwarding) -> None:
    assert TRUST_NETWORKS.resolve(headers) == expected


def test_trust_entries() -> None:
    trust = ProxyTrust(ProxyConfig(forwarded_allow_ips=("192.168.0.0/16", "::1", "unix")))
    assert trust.trusts("192.168.44.1")
    assert trust.trusts("::ffff:192.168.44.1")  # an IPv4 peer on a dual-stack socket
    assert trust.trusts("::1")
    assert not trust.trusts("192.169.0.1")
    assert not trust.trusts("unknown")
    assert trust.trusts_peer(None)  # a Unix-socket peer
    assert not ProxyTrust(ProxyConfig()).trusts_peer(None)
    for i in range(5000):  # the per-address cache stays bounded
        assert not trust.trusts(f"203.0.{i // 256}.{i % 256}")
    everyone = ProxyTrust(ProxyConfig(forwarded_allow_ips=("*",)))
    assert everyone.trusts("203.0.113.7")
    assert everyone.trusts_peer(None)


@pytest.mark.parametrize(
    "entries", [("10.0.0.0/33",), ("localhost",), ("10.0.0.1/8",), ("",), ("all",)]
)
def test_proxy_config_rejects_a_bad_entry_naming_the_field(entries: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=r"ProxyConfig\.forwarded_allow_ips"):
        ProxyConfig(forwarded_allow_ips=entries)


def test_proxy_config_rejects_wrong_types() -> None:
    with pytest.raises(TypeError, match=r"ProxyConfig\.forwarded_allow_ips"):
        ProxyConfig(forwarded_allow_ips="127.0.0.1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"ProxyConfig\.proxy_headers"):
        ProxyConfig(proxy_headers="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"HTTPConfig\.proxy"):
        HTTPConfig(proxy=("127.0.0.1",))  # type: ignore[arg-type]


# -- a real server behind the headers ----------------------------------------------------


class Echo:
    """Answers with what the exchange says about the client, as JSON."""

    async def handle(self, exchange: Exchange) -> None:
        host = next((value for name, value in exchange.headers if name == b"host"), None)
        body = {
            "client": list(exchange.client) if exchange.client else None,
            "scheme": exchange.scheme,
            "host": host.decode("latin-1") if host is not None else None,
        }
        exchange.respond(200, [(b"content-type", b"application/json")], json.dumps(body).encode())


async def ask(port: int, headers: bytes = b"", *, version: bytes = b"1.1") -> dict[str, Any]:
    """Send one GET through a real socket with ``headers``; return the JSON answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        host = b"Host: origin.test\r\n" if version == b"1.1" else b""
        writer.write(
            b"GET /x HTTP/" + version + b"\r\n" + host + headers + b"Connection: close\r\n\r\n"
        )
        data = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), data
    answer: dict[str, Any] = json.loads(body)
    return answer


async def test_trusted_peer_x_forwarded_headers_are_applied() -> None:
    async with HTTPServer(Echo(), HTTPConfig(access_log=False)) as server:
        await server.listen_tcp("127.0.0.1", 0)
        plain = await ask(server.port)
        forwarded = await ask(
            server.port,
            b"X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n"
            b"X-Forwarded-Host: example.com\r\n",
        )
    assert plain["client"][0] == "127.0.0.1"
    assert (plain["scheme"], plain["host"]) == ("http", "origin.test")
    assert forwarded == {"client": ["203.0.113.7", 0], "scheme": "https", "host": "example.com"}


async def test_trusted_peer_forwarded_header_is_applied() -> None:
    async with HTTPServer(Echo(), HTTPConfig(access_log=False)) as server:
        await server.listen_tcp("127.0.0.1", 0)
        answer = await ask(
            server.port,
            b'Forwarded: for="[2001:db8::7]:4711";proto=https;host="example.com:8443"\r\n',
        )
    assert answer == {
        "client": ["2001:db8::7", 4711],
        "scheme": "https",
        "host": "example.com:8443",
    }


async def test_untrusted_peer_cannot_spoof_the_client() -> None:
    config = HTTPConfig(access_log=False, proxy=ProxyConfig(forwarded_allow_ips=("10.0.0.0/8",)))
    async with HTTPServer(Echo(), config) as server:
        await server.listen_tcp("127.0.0.1", 0)
        answer = await ask(
            server.port,
            b"X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n"
            b"X-Forwarded-Host: evil.test\r\nForwarded: for=6.6.6.6;proto=https\r\n",
        )
    assert answer["client"][0] == "127.0.0.1"
    assert (answer["scheme"], answer["host"]) == ("http", "origin.test")


async def test_proxy_headers_off_ignores_even_a_trusted_peer() -> None:
    config = HTTPConfig(access_log=False, proxy=ProxyConfig(proxy_headers=False))
    async with HTTPServer(Echo(), config) as server:
        await server.listen_tcp("127.0.0.1", 0)
        answer = await ask(server.port, b"X-Forwarded-For: 203.0.113.7\r\n")
    assert answer["client"][0] == "127.0.0.1"


async def test_cidr_trust_and_multiple_hops() -> None:
    config = HTTPConfig(
        access_log=False, proxy=ProxyConfig(forwarded_allow_ips=("127.0.0.0/8", "10.0.0.0/8"))
    )
    async with HTTPServer(Echo(), config) as server:
        await server.listen_tcp("127.0.0.1", 0)
        answer = await ask(
            server.port,
            b"X-Forwarded-For: 6.6.6.6, 198.51.100.2\r\n"
            b"X-Forwarded-For: 10.0.0.9, 10.200.0.1\r\n"
            b"X-Forwarded-Proto: http, https, http, http\r\n",
        )
    assert answer["client"] == ["198.51.100.2", 0]
    assert answer["scheme"] == "https"


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Forwarded-For: not an address\r\n",
        b"X-Forwarded-For: 1.2.3.4:99999\r\n",
        b"X-Forwarded-For: ,,,\r\n",
        b"X-Forwarded-Proto: javascript\r\n",
        b"X-Forwarded-Host: a b\r\n",
        b'Forwarded: for="unterminated\r\n',
        b"Forwarded: for=[::1]\r\n",
        b"Forwarded: ;;;===\r\n",
        b"X-Forwarded-For: \xff\xfe\xfd\r\n",
    ],
)
async def test_malformed_forwarding_headers_change_nothing(headers: bytes) -> None:
    async with HTTPServer(Echo(), HTTPConfig(access_log=False)) as server:
        await server.listen_tcp("127.0.0.1", 0)
        answer = await ask(server.port, headers)
    assert answer["client"][0] == "127.0.0.1"
    assert (answer["scheme"], answer["host"]) == ("http", "origin.test")


async def test_forwarded_host_is_added_to_an_http_1_0_request_without_host() -> None:
    async with HTTPServer(Echo(), HTTPConfig(access_log=False)) as server:
        await server.listen_tcp("127.0.0.1", 0)
        answer = await ask(server.port, b"X-Forwarded-Host: example.com\r\n", version=b"1.0")
    assert answer["host"] == "example.com"


@pytest.mark.parametrize(("entries", "client"), [(("unix",), ["203.0.113.7", 0]), ((), None)])
async def test_unix_socket_peers_are_trusted_with_the_unix_entry(
    entries: tuple[str, ...], client: list[object] | None
) -> None:
    directory = tempfile.mkdtemp(prefix="typhoon-proxy-", dir="/tmp")  # AF_UNIX path limit
    path = os.path.join(directory, "s.sock")
    config = HTTPConfig(access_log=False, proxy=ProxyConfig(forwarded_allow_ips=entries))
    try:
        async with HTTPServer(Echo(), config) as server:
            await server.listen_unix(path)
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(
                b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.7\r\n"
                b"Connection: close\r\n\r\n"
            )
            data = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            await writer.wait_closed()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    assert json.loads(data.partition(b"\r\n\r\n")[2])["client"] == client
