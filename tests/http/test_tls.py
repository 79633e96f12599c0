"""HTTPS: TLSConfig's checks, loading the certificate, HSTS, and the redirect port.

Certificates are made at test time with openssl (tests/conftest.py); the servers listen
on 127.0.0.1 and are reached through real sockets.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import tempfile
from pathlib import Path
from typing import Any

import pytest

from typhoon.http import Exchange, HTTPConfig, HTTPServer, serve
from typhoon.http.tls import HTTPSRedirect, TLSConfig

QUIET = HTTPConfig(access_log=False)


class Hello:
    """Answers with the scheme the exchange was received over."""

    def __init__(self, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        self.headers = headers

    async def handle(self, exchange: Exchange) -> None:
        exchange.respond(200, self.headers, exchange.scheme.encode())


async def fetch(
    port: int, request: bytes, *, cafile: Path | None = None
) -> tuple[bytes, dict[bytes, list[bytes]], bytes]:
    """Send ``request`` (it should ask to close) and return (status line, headers, body)."""
    context = None if cafile is None else ssl.create_default_context(cafile=str(cafile))
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="localhost" if context else None
    )
    try:
        writer.write(request)
        data = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ssl.SSLError, ConnectionError):
            pass  # the server may close without a TLS close_notify answer
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers: dict[bytes, list[bytes]] = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, body


GET = b"GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com:8080\r\nConnection: close\r\n\r\n"


# -- TLSConfig ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"keyfile": "k.pem"}, "keyfile"),
        ({"keyfile_password": "x"}, "keyfile_password"),
        ({"ssl_port": 8443}, "ssl_port"),
        ({"redirect_http_port": 80}, "redirect_http_port"),
        ({"hsts_max_age_s": 60}, "hsts_max_age_s"),
        ({"certfile": "c.pem", "ssl_app": "other:app"}, "ssl_app"),
        ({"certfile": "c.pem", "ssl_port": 8443, "ssl_app": ":app"}, "ssl_app"),
        ({"certfile": ""}, "certfile"),
        ({"certfile": "c.pem", "ssl_port": 70000}, "ssl_port"),
        ({"certfile": "c.pem", "redirect_http_port": -1}, "redirect_http_port"),
        ({"certfile": "c.pem", "ssl_port": True}, "ssl_port"),
        ({"certfile": "c.pem", "hsts_max_age_s": -5}, "hsts_max_age_s"),
        ({"certfile": "c.pem", "hsts_max_age_s": 1.5}, "hsts_max_age_s"),
        ({"certfile": "c.pem", "hsts_include_subdomains": 1}, "hsts_include_subdomains"),
    ],
)
def test_tls_config_rejects_bad_values_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises((ValueError, TypeError), match=rf"TLSConfig\.{field}"):
        TLSConfig(**kwargs)


def test_tls_config_defaults_mean_tls_off() -> None:
    config = TLSConfig()
    assert not config.enabled
    assert config.hsts_header is None
    with pytest.raises(ValueError, match=r"TLSConfig\.certfile"):
        config.server_context()


def test_tls_config_hsts_header() -> None:
    assert TLSConfig(certfile="c", hsts_max_age_s=600).hsts_header == b"max-age=600"
    with_subdomains = TLSConfig(certfile="c", hsts_max_age_s=0, hsts_include_subdomains=True)
    assert with_subdomains.hsts_header == b"max-age=0; includeSubDomains"


# -- loading the certificate and key -----------------------------------------------------


def test_server_context_is_tls_1_2_or_newer(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    context = TLSConfig(certfile=str(cert), keyfile=str(key)).server_context()
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_encrypted_key_loads_with_its_password(
    encrypted_certificate: tuple[Path, Path, str],
) -> None:
    cert, key, password = encrypted_certificate
    TLSConfig(certfile=str(cert), keyfile=str(key), keyfile_password=password).server_context()


def test_wrong_password_is_an_error_naming_the_password(
    encrypted_certificate: tuple[Path, Path, str],
) -> None:
    cert, key, _ = encrypted_certificate
    config = TLSConfig(certfile=str(cert), keyfile=str(key), keyfile_password="wrong")
    with pytest.raises(ValueError, match=r"^TLSConfig\.keyfile_password: wrong password"):
        config.server_context()


def test_missing_password_is_an_error_not_a_prompt(
    encrypted_certificate: tuple[Path, Path, str],
) -> None:
    cert, key, _ = encrypted_certificate
    config = TLSConfig(certfile=str(cert), keyfile=str(key))
    with pytest.raises(ValueError, match=r"^TLSConfig\.keyfile_password: .* is encrypted"):
        config.server_context()


def test_missing_files_are_errors_naming_the_setting(
    certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = certificate
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(ValueError, match=r"^TLSConfig\.certfile: cannot read .*nope\.pem"):
        TLSConfig(certfile=missing, keyfile=str(key)).server_context()
    with pytest.raises(ValueError, match=r"^TLSConfig\.keyfile: cannot read .*nope\.pem"):
        TLSConfig(certfile=str(cert), keyfile=missing).server_context()


def test_files_with_the_wrong_content_are_errors_naming_the_setting(
    certificate: tuple[Path, Path],
    encrypted_certificate: tuple[Path, Path, str],
    tmp_path: Path,
) -> None:
    cert, key = certificate
    junk = tmp_path / "junk.pem"
    junk.write_text("not a PEM file\n")
    with pytest.raises(ValueError, match=r"^TLSConfig\.certfile: .* holds no PEM certificate"):
        TLSConfig(certfile=str(junk), keyfile=str(key)).server_context()
    with pytest.raises(ValueError, match=r"^TLSConfig\.keyfile: .* holds no usable private key"):
        TLSConfig(certfile=str(cert), keyfile=str(junk)).server_context()
    with pytest.raises(ValueError, match=r"^TLSConfig\.certfile: .* holds no usable private key"):
        TLSConfig(certfile=str(cert)).server_context()  # no key in the certificate file
    other_cert, _, _ = encrypted_certificate
    with pytest.raises(ValueError, match=r"^TLSConfig\.keyfile: .* does not match"):
        TLSConfig(certfile=str(other_cert), keyfile=str(key)).server_context()


async def test_listen_with_a_bad_certificate_fails_before_starting(tmp_path: Path) -> None:
    started: list[str] = []

    class Tracked(Hello):
        async def startup(self) -> None:
            started.append("startup")

        async def shutdown(self) -> None:
            started.append("shutdown")

    server = HTTPServer(Tracked(), QUIET)
    with pytest.raises(ValueError, match=r"TLSConfig\.certfile"):
        await server.listen_tcp("127.0.0.1", 0, tls=TLSConfig(certfile=str(tmp_path / "x")))
    assert started == []
    assert server.sockets == []


# -- serving HTTPS -----------------------------------------------------------------------


async def test_https_request_is_served_with_scheme_https(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    tls = TLSConfig(certfile=str(cert), keyfile=str(key))
    async with HTTPServer(Hello(), QUIET) as server:
        await server.listen_tcp("127.0.0.1", 0, tls=tls)
        assert server.tls_port == server.port
        status, headers, body = await fetch(server.tls_port, GET, cafile=cert)
    assert status == b"HTTP/1.1 200 OK"
    assert body == b"https"
    assert b"strict-transport-security" not in headers  # only when asked for


async def test_hsts_is_sent_over_https_only(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    tls = TLSConfig(
        certfile=str(cert), keyfile=str(key), hsts_max_age_s=600, hsts_include_subdomains=True
    )
    async with HTTPServer(Hello(), QUIET) as server:
        await server.listen_tcp("127.0.0.1", 0)
        await server.listen_tcp("127.0.0.1", 0, tls=tls)
        plain = await fetch(server.port, GET)
        secure = await fetch(server.tls_port, GET, cafile=cert)
        error = await fetch(server.tls_port, b"GET / HTTP/1.1\r\n\r\n", cafile=cert)  # no Host
    assert (plain[0], plain[2]) == (b"HTTP/1.1 200 OK", b"http")
    assert b"strict-transport-security" not in plain[1]
    assert (secure[0], secure[2]) == (b"HTTP/1.1 200 OK", b"https")
    assert secure[1][b"strict-transport-security"] == [b"max-age=600; includeSubDomains"]
    assert error[0].startswith(b"HTTP/1.1 400 ")
    assert error[1][b"strict-transport-security"] == [b"max-age=600; includeSubDomains"]


async def test_hsts_is_sent_when_the_app_sets_its_own_server_header(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    tls = TLSConfig(certfile=str(cert), keyfile=str(key), hsts_max_age_s=60)
    async with HTTPServer(Hello(((b"server", b"mine"),)), QUIET) as server:
        await server.listen_tcp("127.0.0.1", 0, tls=tls)
        _, headers, _ = await fetch(server.tls_port, GET, cafile=cert)
    assert headers[b"server"] == [b"mine"]
    assert headers[b"strict-transport-security"] == [b"max-age=60"]


async def test_a_plain_request_to_the_https_port_gets_no_answer(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    async with HTTPServer(Hello(), QUIET) as server:
        await server.listen_tcp("127.0.0.1", 0, tls=TLSConfig(certfile=str(cert), keyfile=str(key)))
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tls_port)
        writer.write(GET)
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await writer.wait_closed()
    assert not data.startswith(b"HTTP/1.1 200")


# -- the redirect port -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "location"),
    [
        (GET, b"https://example.com:8443/a/b?x=1&y=%20"),
        (
            b"GET /p HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\nConnection: close\r\n\r\n",
            b"https://[2001:db8::1]:8443/p",
        ),
        (
            b"POST /form?next=/home HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n"
            b"Connection: close\r\n\r\nabc",
            b"https://example.com:8443/form?next=/home",
        ),
        (
            b"GET http://example.com/abs?q HTTP/1.1\r\nHost: example.com\r\n"
            b"Connection: close\r\n\r\n",
            b"https://example.com:8443/abs?q",
        ),
        (
            b"GET /old HTTP/1.0\r\nHost: example.com:80\r\n\r\n",
            b"https://example.com:8443/old",
        ),
    ],
)
async def test_redirect_port_answers_308_to_the_same_url_over_https(
    request_bytes: bytes, location: bytes
) -> None:
    async with HTTPServer(HTTPSRedirect(8443), QUIET) as server:
        await server.listen_tcp("127.0.0.1", 0)
        status, headers, _ = await fetch(server.port, request_bytes)
    assert status == b"HTTP/1.1 308 Permanent Redirect"
    assert headers[b"location"] == [location]
    assert b"strict-transport-security" not in headers  # never over plain HTTP


@pytest.mark.parametrize(
    "request_bytes",
    [b"GET /a HTTP/1.0\r\n\r\n", b"GET /a HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n"],
)
async def test_redirect_port_answers_400_without_a_host(request_bytes: bytes) -> None:
    async with HTTPServer(HTTPSRedirect(8443), QUIET) as server:
        await server.listen_tcp("127.0.0.1", 0)
        status, _, _ = await fetch(server.port, request_bytes)
    assert status == b"HTTP/1.1 400 Bad Request"


def test_redirect_to_port_443_leaves_the_port_out() -> None:
    assert HTTPSRedirect(443).location("example.com:80", b"/x", b"a=1") == (
        "https://example.com/x?a=1"
    )


async def test_https_over_a_unix_socket_and_an_inherited_socket(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    tls = TLSConfig(certfile=str(cert), keyfile=str(key))
    client_tls = ssl.create_default_context(cafile=str(cert))
    directory = tempfile.mkdtemp(prefix="typhoon-tls-", dir="/tmp")  # AF_UNIX path limit
    path = os.path.join(directory, "s.sock")
    listening = socket.create_server(("127.0.0.1", 0))
    try:
        async with HTTPServer(Hello(), QUIET) as server:
            await server.listen_unix(path, tls=tls)
            await server.listen_socket(listening, tls=tls)
            reader, writer = await asyncio.open_unix_connection(
                path, ssl=client_tls, server_hostname="localhost"
            )
            writer.write(GET)
            over_unix = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            _, _, inherited = await fetch(server.tls_port, GET, cafile=cert)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    assert over_unix.startswith(b"HTTP/1.1 200 OK")
    assert over_unix.endswith(b"https")
    assert inherited == b"https"


async def test_abort_closes_every_connection_now() -> None:
    async with HTTPServer(Hello(), QUIET) as server:
        await server.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert (await reader.readuntil(b"http")).startswith(b"HTTP/1.1 200")
        server.abort()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()


async def test_serve_refuses_a_tls_app_without_an_ssl_port() -> None:
    with pytest.raises(ValueError, match=r"tls_app needs TLSConfig\.ssl_port"):
        await serve(Hello(), port=0, tls=TLSConfig(), tls_app=Hello())


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("ssl_sock", r"ssl_sock needs TLSConfig\.ssl_port"),
        ("redirect_sock", r"redirect_sock needs TLSConfig\.redirect_http_port"),
    ],
)
async def test_serve_refuses_an_inherited_socket_for_a_port_not_set(
    certificate: tuple[Path, Path], which: str, message: str
) -> None:
    cert, key = certificate
    tls = TLSConfig(str(cert), str(key))
    with socket.socket() as sock:
        ssl_sock, redirect_sock = (sock, None) if which == "ssl_sock" else (None, sock)
        with pytest.raises(ValueError, match=message):
            await serve(Hello(), port=0, tls=tls, ssl_sock=ssl_sock, redirect_sock=redirect_sock)


async def test_serve_stops_the_started_apps_when_a_later_port_fails(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    events: list[str] = []

    class Tracked(Hello):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        async def startup(self) -> None:
            events.append(f"{self.name} startup")

        async def shutdown(self) -> None:
            events.append(f"{self.name} shutdown")

    with socket.create_server(("127.0.0.1", 0)) as busy:
        tls = TLSConfig(
            certfile=str(cert),
            keyfile=str(key),
            ssl_port=0,
            ssl_app="unused:app",
            redirect_http_port=busy.getsockname()[1],
        )
        with pytest.raises(OSError, match="address already in use"):
            await serve(Tracked("plain"), port=0, config=QUIET, tls=tls, tls_app=Tracked("secure"))
    assert sorted(events) == [
        "plain shutdown",
        "plain startup",
        "secure shutdown",
        "secure startup",
    ]
