"""HTTPS: the server's TLS settings, its TLS context, HSTS and the HTTP-to-HTTPS redirect.

:class:`TLSConfig` says where the certificate and key are and how HTTPS is served:

* alone: the server's port speaks TLS (``typhoon run app:app --certfile c.pem``);
* beside plain HTTP: ``ssl_port`` adds an HTTPS port, serving the same application or,
  with ``ssl_app``, another one (Cyclone's ``--ssl-app``), in the same process and the
  same lifecycle;
* ``redirect_http_port`` adds a plain port that answers every request with a 308 to the
  same host, path and query over HTTPS;
* ``hsts_max_age_s`` adds ``Strict-Transport-Security`` to every response sent over
  the server's own TLS (never over plain HTTP: behind a TLS-terminating proxy, use
  ``typhoon.web.middleware.SecurityHeaders``, which follows ``request.scheme``).

The context accepts TLS 1.2 and newer only. A certificate or key that cannot be loaded
is a ``ValueError`` at start that names the setting to fix.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from typhoon.http.exchange import Exchange

__all__ = ["HTTPSRedirect", "TLSConfig"]

_TEXT = ((b"content-type", b"text/plain; charset=utf-8"),)


class _NoPassword(Exception):
    """The key is encrypted and no password was given (never prompt on a terminal)."""


def _port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """How the server speaks HTTPS.

    Example::

        TLSConfig(certfile="cert.pem", keyfile="key.pem", hsts_max_age_s=31536000)

    Attributes:
        certfile: the certificate chain (PEM); None turns TLS off, and then every other
            field must be left unset.
        keyfile: the private key (PEM); None when it is in ``certfile``.
        keyfile_password: the password of an encrypted key.
        ssl_port: serve HTTPS on this port beside plain HTTP on the main one; None
            makes the main port HTTPS.
        ssl_app: the application (``module:attr``) served on ``ssl_port`` instead of
            the main one; needs ``ssl_port``.
        redirect_http_port: also listen on this plain port and answer every request with
            308 to the same host, path and query over HTTPS.
        hsts_max_age_s: send ``Strict-Transport-Security: max-age=N`` on HTTPS responses.
        hsts_include_subdomains: add ``includeSubDomains`` to that header.
    """

    certfile: str | None = field(
        default=None, metadata={"help": "certificate chain (PEM); enables HTTPS"}
    )
    keyfile: str | None = field(
        default=None, metadata={"help": "private key (PEM), when not in the certfile"}
    )
    keyfile_password: str | None = field(
        default=None, metadata={"help": "password of an encrypted private key"}
    )
    ssl_port: int | None = field(
        default=None,
        metadata={"help": "serve HTTPS on this port, beside plain HTTP on the main port"},
    )
    ssl_app: str | None = field(
        default=None,
        metadata={"help": "application (module:attr) served on the HTTPS port instead"},
    )
    redirect_http_port: int | None = field(
        default=None,
        metadata={"help": "plain HTTP port that redirects every request to HTTPS (308)"},
    )
    hsts_max_age_s: int | None = field(
        default=None,
        metadata={"help": "send Strict-Transport-Security: max-age=N over HTTPS"},
    )
    hsts_include_subdomains: bool = field(
        default=False, metadata={"help": "add includeSubDomains to Strict-Transport-Security"}
    )

    def __post_init__(self) -> None:
        for name in ("certfile", "keyfile", "keyfile_password", "ssl_app"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"TLSConfig.{name} must be a non-empty string, got {value!r}")
        for name in ("ssl_port", "redirect_http_port"):
            value = getattr(self, name)
            if value is not None and not _port(value):
                raise ValueError(f"TLSConfig.{name} must be a port (0-65535), got {value!r}")
        age = self.hsts_max_age_s
        if age is not None and (isinstance(age, bool) or not isinstance(age, int) or age < 0):
            raise ValueError(f"TLSConfig.hsts_max_age_s must be an integer >= 0, got {age!r}")
        if not isinstance(self.hsts_include_subdomains, bool):
            raise TypeError(
                "TLSConfig.hsts_include_subdomains must be a bool, "
                f"got {self.hsts_include_subdomains!r}"
            )
        if self.certfile is None:
            for name in (
                "keyfile",
                "keyfile_password",
                "ssl_port",
                "ssl_app",
                "redirect_http_port",
                "hsts_max_age_s",
            ):
                if getattr(self, name) is not None:
                    raise ValueError(f"TLSConfig.{name} is set but TLSConfig.certfile is not")
        if self.ssl_app is not None:
            if self.ssl_port is None:
                raise ValueError("TLSConfig.ssl_app needs TLSConfig.ssl_port (its HTTPS port)")
            if not self.ssl_app.partition(":")[0]:
                raise ValueError(
                    f"TLSConfig.ssl_app must look like 'module:attr', got {self.ssl_app!r}"
                )

    @property
    def enabled(self) -> bool:
        """Whether HTTPS is on (a certificate is given)."""
        return self.certfile is not None

    @property
    def hsts_header(self) -> bytes | None:
        """The ``Strict-Transport-Security`` value to send, or None."""
        if self.hsts_max_age_s is None:
            return None
        value = b"max-age=%d" % self.hsts_max_age_s
        return value + b"; includeSubDomains" if self.hsts_include_subdomains else value

    def server_context(self) -> ssl.SSLContext:
        """Build the server's TLS context (TLS 1.2+) from the certificate and key.

        Raises:
            ValueError: TLS is off, or a file cannot be read or loaded, or the password
                is missing or wrong; the message names the setting
                (``TLSConfig.certfile``, ``.keyfile`` or ``.keyfile_password``).
        """
        certfile = self.certfile
        if certfile is None:
            raise ValueError("TLSConfig.certfile is not set: TLS is off")
        keyfile = self.keyfile
        _check_readable("certfile", certfile)
        try:  # a context of its own: does the file hold a certificate at all?
            ssl.create_default_context(cafile=certfile)
        except ssl.SSLError:
            raise ValueError(f"TLSConfig.certfile: {certfile!r} holds no PEM certificate") from None
        if keyfile is not None:
            _check_readable("keyfile", keyfile)
        key_setting = "keyfile" if keyfile is not None else "certfile"
        key_path = keyfile if keyfile is not None else certfile
        asked = False

        def password() -> str:
            nonlocal asked
            asked = True
            if self.keyfile_password is None:
                raise _NoPassword
            return self.keyfile_password

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(certfile, keyfile, password)
        except _NoPassword:
            raise ValueError(
                f"TLSConfig.keyfile_password: the key in {key_path!r} is encrypted; "
                "give its password"
            ) from None
        except ssl.SSLError as exc:
            if exc.reason == "KEY_VALUES_MISMATCH":
                raise ValueError(
                    f"TLSConfig.{key_setting}: the key in {key_path!r} does not match the "
                    f"certificate in {certfile!r}"
                ) from None
            if asked:
                raise ValueError(
                    f"TLSConfig.keyfile_password: wrong password for the key in {key_path!r}"
                ) from None
            raise ValueError(
                f"TLSConfig.{key_setting}: {key_path!r} holds no usable private key ({exc})"
            ) from None
        return context


def _check_readable(setting: str, path: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ValueError(f"TLSConfig.{setting}: cannot read {path!r}: {exc.strerror}") from None


class HTTPSRedirect:
    """An application that sends every request to the same URL over HTTPS (308).

    The host comes from the ``Host`` header (its port replaced by ``https_port``,
    left out when it is 443); path and query are kept as received. A request without
    a Host (HTTP/1.0) gets 400: there is no URL to send it to.

    Args:
        https_port: the port of the HTTPS server.
    """

    def __init__(self, https_port: int) -> None:
        self.https_port = https_port
        self._suffix = "" if https_port == 443 else f":{https_port}"

    def location(self, host: str, path: bytes, query: bytes) -> str:
        """The HTTPS URL for ``host`` (as in a Host header), ``path`` and ``query``."""
        # an IPv6 literal keeps its brackets; a port is dropped
        name = host[: host.index("]") + 1] if host[:1] == "[" else host.partition(":")[0]
        target = path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        return f"https://{name}{self._suffix}{target}"

    async def handle(self, exchange: Exchange) -> None:
        host = next((value for name, value in exchange.headers if name == b"host"), b"")
        if not host or host.startswith(b":"):
            exchange.respond(400, _TEXT, b"400 Bad Request: no Host to redirect to\n")
            return
        path = exchange.path if exchange.path[:1] == b"/" else b"/"  # "*" has no URL
        url = self.location(host.decode("latin-1"), path, exchange.query)
        exchange.respond(308, ((b"location", url.encode("latin-1")), *_TEXT), b"")
