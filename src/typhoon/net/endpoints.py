"""Endpoint strings: where to listen or connect, in one line of text.

Twisted's idea, with typhoon's spelling. A *server* string names what to listen on,
a *client* string what to connect to::

    tcp:9000                          listen on port 9000, every IPv4 interface
    tcp:9000:interface=127.0.0.1      ... on one interface (backlog=N, reuse_port=yes)
    tcp6:9000                         IPv6 (interface=[::1])
    unix:/run/app.sock                a Unix socket (mode=660 sets its permissions)
    udp:5353                          a UDP port (interface=...)
    tls:9443:cert=c.pem:key=k.pem     TLS over TCP (password=, alpn=h2,http/1.1)

    tcp:example.com:80                connect to a host and port
    tcp6:[::1]:9000                   an IPv6 address, in brackets
    unix:/run/app.sock
    udp:127.0.0.1:5353
    tls:example.com:443               TLS, the host name checked (ca=, sni=, alpn=,
                                      verify=no for tests only)

Options come after the address as ``name=value`` fields separated by ``:``; a value
holding a colon escapes it as ``\\:``. Every mistake is a ``ValueError`` that quotes
the string and says which part is wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

SERVER_KINDS = ("tcp", "tcp6", "unix", "udp", "tls")
CLIENT_KINDS = SERVER_KINDS

_SERVER_OPTIONS = {
    "tcp": {"interface", "backlog", "reuse_port"},
    "tcp6": {"interface", "backlog", "reuse_port"},
    "unix": {"backlog", "mode"},
    "udp": {"interface", "reuse_port"},
    "tls": {"interface", "backlog", "reuse_port", "cert", "key", "password", "alpn"},
}
_CLIENT_OPTIONS = {
    "tcp": {"timeout", "bind"},
    "tcp6": {"timeout", "bind"},
    "unix": {"timeout"},
    "udp": {"bind"},
    "tls": {"timeout", "bind", "ca", "sni", "alpn", "verify", "cert", "key"},
}


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed endpoint string.

    Attributes:
        kind: ``"tcp"``, ``"tcp6"``, ``"unix"``, ``"udp"`` or ``"tls"``.
        host: the interface to listen on (server; None: every interface) or the host
            to connect to (client); None for Unix sockets.
        port: the port; None for Unix sockets.
        path: the socket path of a Unix endpoint, else None.
        options: the ``name=value`` fields, as given (values are strings).
        text: the string it was parsed from.
    """

    kind: str
    host: str | None
    port: int | None
    path: str | None
    options: Mapping[str, str]
    text: str

    def option(self, name: str, default: str | None = None) -> str | None:
        return self.options.get(name, default)

    def int_option(self, name: str, default: int) -> int:
        """An option that must be a non-negative integer.

        Raises:
            ValueError: naming the option and the endpoint.
        """
        value = self.options.get(name)
        if value is None:
            return default
        if not value.isdigit():
            raise ValueError(f"endpoint {self.text!r}: {name} must be an integer, got {value!r}")
        return int(value)

    def flag(self, name: str, default: bool = False) -> bool:
        """An option that is yes/no (also true/false, 1/0, on/off).

        Raises:
            ValueError: naming the option and the endpoint.
        """
        value = self.options.get(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("yes", "true", "1", "on"):
            return True
        if lowered in ("no", "false", "0", "off"):
            return False
        raise ValueError(f"endpoint {self.text!r}: {name} must be yes or no, got {value!r}")


def parse_server(text: str) -> Endpoint:
    """Parse a server endpoint string (see the module's examples).

    Raises:
        TypeError: ``text`` is not a str.
        ValueError: saying which part of the string is wrong.
    """
    kind, fields = _split(text, SERVER_KINDS)
    if kind == "unix":
        path, rest = _path_and_options(text, fields)
        return Endpoint(kind, None, None, path, _options(text, kind, rest, _SERVER_OPTIONS), text)
    if not fields or "=" in fields[0]:
        raise ValueError(f"endpoint {text!r}: the port is missing (e.g. '{kind}:9000')")
    port = _port(text, fields[0])
    options = _options(text, kind, fields[1:], _SERVER_OPTIONS)
    if kind == "tls":
        for needed in ("cert", "key"):
            if needed not in options:
                raise ValueError(f"endpoint {text!r}: tls needs {needed}=<file>")
    interface = options.get("interface")
    if interface is not None:
        interface = _unbracket(interface)
    return Endpoint(kind, interface, port, None, options, text)


def parse_client(text: str) -> Endpoint:
    """Parse a client endpoint string (see the module's examples).

    Raises:
        TypeError: ``text`` is not a str.
        ValueError: saying which part of the string is wrong.
    """
    kind, fields = _split(text, CLIENT_KINDS)
    if kind == "unix":
        path, rest = _path_and_options(text, fields)
        return Endpoint(kind, None, None, path, _options(text, kind, rest, _CLIENT_OPTIONS), text)
    if len(fields) < 2 or "=" in fields[0] or "=" in fields[1]:
        raise ValueError(
            f"endpoint {text!r}: a client endpoint needs a host and a port "
            f"(e.g. '{kind}:example.com:80')"
        )
    host = _unbracket(fields[0])
    if not host:
        raise ValueError(f"endpoint {text!r}: the host is empty")
    port = _port(text, fields[1])
    if port == 0:
        raise ValueError(f"endpoint {text!r}: cannot connect to port 0")
    return Endpoint(kind, host, port, None, _options(text, kind, fields[2:], _CLIENT_OPTIONS), text)


def _split(text: str, kinds: tuple[str, ...]) -> tuple[str, list[str]]:
    """The kind and the ``:``-separated fields after it (``\\:`` kept as a colon)."""
    if not isinstance(text, str):
        raise TypeError(f"an endpoint must be a str, got {type(text).__name__}")
    fields = _fields(text)
    kind = fields[0].lower()
    if kind not in kinds:
        raise ValueError(
            f"endpoint {text!r}: unknown kind {fields[0]!r}; expected one of {', '.join(kinds)}"
        )
    return kind, fields[1:]


def _fields(text: str) -> list[str]:
    """Split at unescaped colons; a colon inside [brackets] (an IPv6 host) is kept."""
    fields: list[str] = []
    current: list[str] = []
    depth = 0
    chars = iter(text)
    for char in chars:
        if char == "\\":
            current.append(next(chars, "\\"))
        elif char == "[":
            depth += 1
            current.append(char)
        elif char == "]":
            depth -= 1
            current.append(char)
        elif char == ":" and depth <= 0:
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


def _path_and_options(text: str, fields: list[str]) -> tuple[str, list[str]]:
    if not fields or not fields[0] or "=" in fields[0]:
        raise ValueError(
            f"endpoint {text!r}: the socket path is missing (e.g. 'unix:/run/app.sock')"
        )
    return fields[0], fields[1:]


def _unbracket(host: str) -> str:
    """``[::1]`` -> ``::1`` (an IPv6 address is bracketed so that its colons stay)."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _port(text: str, field: str) -> int:
    if not field.isdigit() or not 0 <= int(field) <= 65535:
        raise ValueError(f"endpoint {text!r}: port must be a number from 0 to 65535, got {field!r}")
    return int(field)


def _options(
    text: str, kind: str, fields: list[str], allowed: Mapping[str, set[str]]
) -> dict[str, str]:
    options: dict[str, str] = {}
    for field in fields:
        name, equals, value = field.partition("=")
        name = name.strip().lower()
        if not equals or not name:
            raise ValueError(f"endpoint {text!r}: expected name=value, got {field!r}")
        if name not in allowed[kind]:
            known = ", ".join(sorted(allowed[kind]))
            raise ValueError(f"endpoint {text!r}: unknown option {name!r} for {kind} ({known})")
        if name in options:
            raise ValueError(f"endpoint {text!r}: option {name!r} given twice")
        options[name] = value
    return options
