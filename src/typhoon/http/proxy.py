"""Proxy-header trust: who the client is when a reverse proxy stands in front.

A proxy (nginx, a load balancer) connects to the server itself, so the connection's
peer is the proxy. It tells the server about the real client in headers:
``X-Forwarded-For``, ``X-Forwarded-Proto``, ``X-Forwarded-Host``, or the standard
``Forwarded`` (RFC 7239). Anyone can send those headers, so they are believed only
when the peer is a *trusted* proxy (:class:`ProxyConfig.forwarded_allow_ips`).

Rules
-----
* Trust is decided once per connection, from its peer address. An untrusted peer's
  forwarding headers change nothing.
* The client is found by walking the ``for`` list from the right (the proxy nearest
  the server) and skipping the addresses that are trusted proxies too; the first
  address that is not trusted is the client. If every hop is trusted, the leftmost is
  the client. Entries left of the client are the client's own words and are never
  read, so garbage there does no harm; a malformed entry reached by the walk makes
  the header ignored as a whole.
* The scheme and the host are read at the same hop as the client: in ``Forwarded``,
  from the element whose ``for`` is the client; in ``X-Forwarded-Proto`` and
  ``X-Forwarded-Host``, at as many entries from the right as trusted hops were skipped
  (a single value is the nearest proxy's). A list too short for that hop, a scheme
  other than http/https/ws/wss or an invalid host leaves that value as it was.
* When any ``X-Forwarded-*`` header is present, ``Forwarded`` is ignored: nearly every
  proxy sets ``X-Forwarded-For``, and one that does not add to a ``Forwarded`` header
  would otherwise let the client's own ``Forwarded`` through unchecked.
* ``unknown`` and obfuscated identifiers (``_hidden``) are never trusted; when one is
  the client, ``client`` is ``(identifier, 0)``.

Effects on the :class:`~typhoon.http.exchange.Exchange`: ``client`` becomes the
client's ``(host, port)`` (port 0 when none was forwarded), ``scheme`` becomes
``"https"`` for https/wss and ``"http"`` for http/ws, and the ``host`` field in
``exchange.headers`` is replaced by the forwarded host, so that everything reading the
Host header (``request.host``, allowed-hosts checks, redirects) sees the host the
client asked for.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typhoon.http.exchange import Exchange

__all__ = ["Forwarding", "ProxyConfig", "ProxyTrust", "parse_forwarded", "parse_node"]

TRUST_ALL = "*"
TRUST_UNIX = "unix"

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_HEADER_NAMES = frozenset(
    (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded")
)
_SCHEMES = {"http": "http", "ws": "http", "https": "https", "wss": "https"}
_CACHE_MAX = 4096


class Forwarding(NamedTuple):
    """What forwarding headers say about the client; None where they say nothing."""

    client: tuple[str, int] | None
    scheme: str | None
    host: str | None


_NOTHING = Forwarding(None, None, None)


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """Which peers may speak for the client through forwarding headers.

    Example::

        HTTPConfig(proxy=ProxyConfig(forwarded_allow_ips=("10.0.0.0/8",)))

    Attributes:
        forwarded_allow_ips: the trusted proxies: IP addresses (``"10.0.0.7"``),
            networks (``"10.0.0.0/8"``, ``"fd00::/8"``), ``"*"`` for every peer, and
            ``"unix"`` for peers on a Unix socket (which have no address).
        proxy_headers: read the forwarding headers at all; False ignores them from
            every peer.
    """

    forwarded_allow_ips: tuple[str, ...] = field(
        default=("127.0.0.1", "::1"),
        metadata={
            "help": "trusted proxies: IP addresses, CIDR networks, '*' (all) or 'unix' "
            "(Unix-socket peers)"
        },
    )
    proxy_headers: bool = field(
        default=True,
        metadata={"help": "believe X-Forwarded-* and Forwarded headers from trusted proxies"},
    )

    def __post_init__(self) -> None:
        entries = self.forwarded_allow_ips
        if not isinstance(entries, tuple) or not all(isinstance(e, str) for e in entries):
            raise TypeError(
                f"ProxyConfig.forwarded_allow_ips must be a tuple of strings, got {entries!r}"
            )
        for entry in entries:
            try:
                _parse_entry(entry)
            except ValueError:
                raise ValueError(
                    f"ProxyConfig.forwarded_allow_ips: {entry!r} is not an IP address, a "
                    "network (such as 10.0.0.0/8), '*' or 'unix'"
                ) from None
        if not isinstance(self.proxy_headers, bool):
            raise TypeError(f"ProxyConfig.proxy_headers must be a bool, got {self.proxy_headers!r}")


def _parse_entry(entry: str) -> _Address | _Network | str:
    text = entry.strip()
    if text in (TRUST_ALL, TRUST_UNIX):
        return text
    if "/" in text:
        return ipaddress.ip_network(text)
    return ipaddress.ip_address(text)


class ProxyTrust:
    """A :class:`ProxyConfig` made ready for use: parsed once per server.

    Args:
        config: the trusted proxies.
    """

    __slots__ = ("_addresses", "_all", "_cache", "_networks", "_unix")

    def __init__(self, config: ProxyConfig) -> None:
        self._all = False
        self._unix = False
        self._addresses: set[_Address] = set()
        self._networks: list[_Network] = []
        self._cache: dict[str, bool] = {}
        for entry in config.forwarded_allow_ips:
            parsed = _parse_entry(entry)
            if parsed == TRUST_ALL:
                self._all = True
            elif parsed == TRUST_UNIX:
                self._unix = True
            elif isinstance(parsed, ipaddress.IPv4Network | ipaddress.IPv6Network):
                self._networks.append(parsed)
            else:
                assert not isinstance(parsed, str)
                self._addresses.add(parsed)

    def trusts_peer(self, client: tuple[str, int] | None) -> bool:
        """Whether a connection's peer is trusted (None: a Unix-socket peer)."""
        if client is None:
            return self._all or self._unix
        return self.trusts(client[0])

    def trusts(self, host: str) -> bool:
        """Whether ``host`` (an IP address as text) is a trusted proxy."""
        if self._all:
            return True
        known = self._cache.get(host)
        if known is not None:
            return known
        try:
            address: _Address = ipaddress.ip_address(host)
        except ValueError:
            return False  # "unknown", an obfuscated name: never a trusted proxy
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
        trusted = address in self._addresses or any(address in net for net in self._networks)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[host] = trusted
        return trusted

    def apply(self, exchange: Exchange) -> None:
        """Rewrite ``exchange``'s client, scheme and Host from its forwarding headers.

        Call it only for a trusted peer. Malformed values are ignored; it never raises.
        """
        headers = exchange.headers
        for name, _ in headers:  # the common case, none of them, costs one pass
            if name in _HEADER_NAMES:
                break
        else:
            return
        said = self.resolve(headers)
        if said.client is not None:
            exchange.client = said.client
        if said.scheme is not None:
            exchange.scheme = said.scheme
        if said.host is not None:
            _replace_host(exchange.headers, said.host.encode("latin-1"))

    def resolve(self, headers: Iterable[tuple[bytes, bytes]]) -> Forwarding:
        """What a trusted peer's forwarding headers say (see the module's rules).

        Args:
            headers: the request's header fields, names lower-cased.

        Returns:
            The client's address, scheme (``"http"`` or ``"https"``) and host; each is
            None when the headers do not say it, or say it in a malformed way.
        """
        xff: list[bytes] = []
        xfp: list[bytes] = []
        xfh: list[bytes] = []
        fwd: list[bytes] = []
        for name, value in headers:
            if name in _HEADER_NAMES:
                if name == b"x-forwarded-for":
                    xff.append(value)
                elif name == b"x-forwarded-proto":
                    xfp.append(value)
                elif name == b"x-forwarded-host":
                    xfh.append(value)
                else:
                    fwd.append(value)
        if xff or xfp or xfh:
            client, proto, host = self._from_x_forwarded(xff, xfp, xfh)
        elif fwd:
            client, proto, host = self._from_forwarded(fwd)
        else:
            return _NOTHING
        return Forwarding(
            client,
            None if proto is None else _SCHEMES.get(proto.lower()),
            host if host is not None and _valid_host(host) else None,
        )

    def _walk(self, hops: list[str]) -> tuple[int, tuple[str, int] | None] | None:
        """Find the client in ``hops`` (left to right, as forwarded).

        Returns:
            (trusted hops skipped, the client's address), or None when the walk met a
            malformed hop.
        """
        skipped = 0
        node: tuple[str, int] | None = None
        for hop in reversed(hops):
            node = parse_node(hop)
            if node is None:
                return None
            if not self.trusts(node[0]):
                return skipped, node
            skipped += 1
        assert node is not None, "a split header has at least one entry"
        return skipped - 1, node  # every hop is trusted: the leftmost is the client

    def _from_x_forwarded(
        self, xff: list[bytes], xfp: list[bytes], xfh: list[bytes]
    ) -> tuple[tuple[str, int] | None, str | None, str | None]:
        client = None
        skipped = 0
        if xff:
            found = self._walk(_split_list(xff))
            if found is not None:
                skipped, client = found
        proto = _at_hop(_split_list(xfp), skipped) if xfp else None
        host = _at_hop(_split_list(xfh), skipped) if xfh else None
        return client, proto, host

    def _from_forwarded(
        self, fields: list[bytes]
    ) -> tuple[tuple[str, int] | None, str | None, str | None]:
        elements = parse_forwarded(b",".join(fields).decode("latin-1"))
        if not elements:
            return None, None, None
        chosen = elements[0]
        client: tuple[str, int] | None = None
        for element in reversed(elements):
            chosen = element
            hop = element.get("for")
            if hop is None:
                client = None  # this proxy kept the client's address to itself: the
                break  # connection's peer stays the client, the element's proto and host apply
            node = parse_node(hop)
            if node is None:
                return None, None, None
            client = node
            if not self.trusts(node[0]):
                break
        return client, chosen.get("proto"), chosen.get("host")


def _split_list(fields: list[bytes]) -> list[str]:
    """The comma-separated entries of several header fields, in order, stripped."""
    return [item.strip() for item in b",".join(fields).decode("latin-1").split(",")]


def _at_hop(entries: list[str], skipped: int) -> str | None:
    index = len(entries) - 1 - skipped
    return (entries[index] or None) if index >= 0 else None


def _replace_host(headers: list[tuple[bytes, bytes]], host: bytes) -> None:
    for i, (name, _) in enumerate(headers):
        if name == b"host":
            headers[i] = (b"host", host)
            return
    headers.append((b"host", host))


# -- parsing -----------------------------------------------------------------------------

# RFC 3986 host (IP-literal / IPv4address / reg-name) and an optional port; not empty.
_valid_host = re.compile(
    r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]{1,5})?"
).fullmatch
_OBFUSCATED = re.compile(r"_[A-Za-z0-9._-]+").fullmatch
_PORT = re.compile(r"[0-9]{1,5}").fullmatch


def parse_node(text: str) -> tuple[str, int] | None:
    """Parse one hop: ``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``::1``, ``unknown``,
    ``_obfuscated`` (RFC 7239 §6), with an optional numeric or obfuscated port.

    Returns:
        (host, port) with the port 0 when absent or obfuscated, or None when malformed.
    """
    text = text.strip()
    port_text = ""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:] if rest else ""
        if rest and not port_text:
            return None
        if ":" not in host:
            return None  # brackets hold IPv6 only
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        if not port_text:
            return None
    else:
        host = text  # IPv4, a bare IPv6, unknown or an obfuscated name
    if host == "unknown" or _OBFUSCATED(host):
        pass
    else:
        try:
            host = str(ipaddress.ip_address(host))
        except ValueError:
            return None
    if not port_text or _OBFUSCATED(port_text):
        return host, 0
    if not _PORT(port_text) or int(port_text) > 65535:
        return None
    return host, int(port_text)


_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_PAIR = re.compile(rf"[ \t]*({_TOKEN})=({_TOKEN}|{_QUOTED})[ \t]*")
_OWS = re.compile(r"[ \t]*")
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


def parse_forwarded(value: str) -> list[dict[str, str]] | None:
    """Parse a ``Forwarded`` header (RFC 7239 §4): its elements, left to right.

    Each element maps its parameter names (lower-cased) to their values (quoted
    strings unquoted). Several header fields are parsed joined with commas. Empty
    elements (``a=1,,b=2``) are skipped.

    Example::

        >>> parse_forwarded('for="[2001:db8::1]:4711";proto=https, for=10.0.0.1')
        [{'for': '[2001:db8::1]:4711', 'proto': 'https'}, {'for': '10.0.0.1'}]

    Returns:
        The elements, or None when the value is malformed (a parameter without a
        value, a stray character, an unterminated quote, a parameter twice in one
        element).
    """
    elements: list[dict[str, str]] = []
    current: dict[str, str] = {}
    pos, end = 0, len(value)
    while True:
        match = _PAIR.match(value, pos)
        if match is not None:
            name = match[1].lower()
            if name in current:
                return None
            raw = match[2]
            current[name] = _QUOTED_PAIR.sub(r"\1", raw[1:-1]) if raw[:1] == '"' else raw
            pos = match.end()
        else:
            ows = _OWS.match(value, pos)
            assert ows is not None  # it matches the empty string
            pos = ows.end()
        if pos == end:
            break
        separator = value[pos]
        if separator == ",":
            if current:
                elements.append(current)
            current = {}
        elif separator != ";":
            return None
        pos += 1
    if current:
        elements.append(current)
    return elements
