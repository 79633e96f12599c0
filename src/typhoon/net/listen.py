"""Listening and connecting on endpoints: ``await serve("tcp:9000", Echo)``.

A protocol is an ``asyncio.Protocol`` (or ``DatagramProtocol`` for UDP) class, or any
callable that makes one; keyword arguments given to :func:`serve` or :func:`connect`
are passed to it, so a class and its arguments replace Twisted's Factory::

    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data)

    listener = await serve("tcp:9000", Echo)
    ...
    await listener.close()

TLS uses safe defaults: TLS 1.2 or newer, the system's trust store (or ``ca=``), the
host name checked unless ``verify=no`` (tests only).
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import ssl
from collections.abc import Callable
from typing import Any

from typhoon.net.endpoints import Endpoint, parse_client, parse_server

ProtocolFactory = Callable[..., asyncio.BaseProtocol]


class Listener:
    """What :func:`serve` returns: the bound sockets, and a way to stop.

    Attributes:
        endpoint: the parsed endpoint.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        server: asyncio.AbstractServer | None,
        datagram: asyncio.BaseTransport | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._server = server
        self._datagram = datagram

    def __repr__(self) -> str:
        return f"<Listener {self.endpoint.text!r}>"

    @property
    def sockets(self) -> list[socket.socket]:
        if self._datagram is not None:
            sock = self._datagram.get_extra_info("socket")
            return [sock] if sock is not None else []
        return list(getattr(self._server, "sockets", ()) or ())

    @property
    def port(self) -> int:
        """The port of the first IP socket (useful after listening on port 0).

        Raises:
            RuntimeError: a Unix socket has no port.
        """
        for sock in self.sockets:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                return int(sock.getsockname()[1])
        raise RuntimeError(f"{self.endpoint.text!r} has no port")

    async def close(self) -> None:
        """Stop listening (connections already accepted are left alone)."""
        if self._datagram is not None:
            self._datagram.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> Listener:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _factory(protocol: ProtocolFactory, kwargs: dict[str, Any]) -> Callable[[], Any]:
    if not callable(protocol):
        raise TypeError(f"protocol must be a Protocol class or a callable, got {protocol!r}")
    return functools.partial(protocol, **kwargs) if kwargs else protocol


async def serve(endpoint: str | Endpoint, protocol: ProtocolFactory, **kwargs: Any) -> Listener:
    """Listen on ``endpoint``; each connection gets ``protocol(**kwargs)``.

    Raises:
        ValueError: a malformed endpoint string (naming the wrong part).
        OSError: the address cannot be bound.
    """
    spec = parse_server(endpoint) if isinstance(endpoint, str) else endpoint
    factory = _factory(protocol, kwargs)
    loop = asyncio.get_running_loop()
    kind = spec.kind
    if kind == "udp":
        transport, _ = await loop.create_datagram_endpoint(
            factory,
            local_addr=(spec.host or "0.0.0.0", spec.port or 0),
            reuse_port=spec.flag("reuse_port") or None,
        )
        return Listener(spec, None, transport)
    if kind == "unix":
        assert spec.path is not None
        server = await loop.create_unix_server(
            factory, spec.path, backlog=spec.int_option("backlog", 2048)
        )
        mode = spec.option("mode")
        if mode is not None:
            try:
                os.chmod(spec.path, int(mode, 8))
            except ValueError:
                server.close()
                raise ValueError(
                    f"endpoint {spec.text!r}: mode must be octal digits, got {mode!r}"
                ) from None
        return Listener(spec, server)
    host = spec.host or ("::" if kind == "tcp6" else "0.0.0.0")
    server = await loop.create_server(
        factory,
        host,
        spec.port,
        family=socket.AF_INET6 if kind == "tcp6" else socket.AF_UNSPEC,
        backlog=spec.int_option("backlog", 2048),
        reuse_port=spec.flag("reuse_port") or None,
        ssl=server_tls(spec) if kind == "tls" else None,
    )
    return Listener(spec, server)


async def connect(
    endpoint: str | Endpoint, protocol: ProtocolFactory, **kwargs: Any
) -> tuple[asyncio.BaseTransport, Any]:
    """Connect to ``endpoint`` with ``protocol(**kwargs)``; return (transport, protocol).

    Raises:
        ValueError: a malformed endpoint string.
        OSError: the connection failed; TimeoutError past ``timeout=`` (30 s).
    """
    spec = parse_client(endpoint) if isinstance(endpoint, str) else endpoint
    factory = _factory(protocol, kwargs)
    loop = asyncio.get_running_loop()
    timeout = spec.int_option("timeout", 30)
    kind = spec.kind
    if kind == "unix":
        assert spec.path is not None
        async with asyncio.timeout(timeout):
            return await loop.create_unix_connection(factory, spec.path)
    host, port = spec.host, spec.port
    assert host is not None  # parse_client guarantees a host and a port
    assert port is not None
    if kind == "udp":
        return await loop.create_datagram_endpoint(factory, remote_addr=(host, port))
    tls = client_tls(spec) if kind == "tls" else None
    async with asyncio.timeout(timeout):
        return await loop.create_connection(
            factory,
            host,
            port,
            family=socket.AF_INET6 if kind == "tcp6" else socket.AF_UNSPEC,
            ssl=tls,
            server_hostname=(spec.option("sni") or host) if tls is not None else None,
        )


def server_tls(spec: Endpoint) -> ssl.SSLContext:
    """The server-side TLS context of a ``tls:`` endpoint (TLS 1.2+, ALPN if asked)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    cert, key = spec.option("cert"), spec.option("key")
    try:
        context.load_cert_chain(cert or "", key, spec.option("password"))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"endpoint {spec.text!r}: cannot load cert/key: {exc}") from None
    _alpn(context, spec)
    return context


def client_tls(spec: Endpoint) -> ssl.SSLContext:
    """The client-side TLS context of a ``tls:`` endpoint."""
    context = ssl.create_default_context(cafile=spec.option("ca"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not spec.flag("verify", True):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    cert = spec.option("cert")
    if cert is not None:
        context.load_cert_chain(cert, spec.option("key"))
    _alpn(context, spec)
    return context


def _alpn(context: ssl.SSLContext, spec: Endpoint) -> None:
    alpn = spec.option("alpn")
    if alpn:
        context.set_alpn_protocols([name for name in alpn.split(",") if name])
