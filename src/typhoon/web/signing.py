"""Signed values (for signed cookies) with key rotation, and masked XSRF tokens.

A signed value is ASCII text, safe as a cookie value::

    2|<key version>|<timestamp>|<value, base64url without padding>|<signature, hex>

The signature is HMAC-SHA256 over the first four fields *and the cookie name*, so a
value signed for one cookie is refused under another. The key version names the key
that signed it: ``cookie_secret`` may be one key (version 0) or ``{version: key}``;
new values are signed with the newest version (or the one chosen with
``key_version``) while values signed with any version still present keep verifying.
Rotate by adding a new version, then drop the old one once its cookies have expired.

Rules: decoding never raises on what a client sent. A tampered, expired, malformed,
foreign-named or unknown-version value is simply ``None``. Misconfiguration (an empty
secret, a missing key version) raises ``ValueError`` or ``TypeError`` at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping

Secret = str | bytes | Mapping[int, str | bytes]

FORMAT_VERSION = 2
"""The format version this module writes (the first field of a value)."""

_DAY_S = 86400
_MAX_FUTURE_S = 31 * _DAY_S  # a timestamp further ahead than this is refused
TOKEN_BYTES = 16
"""The length of a raw XSRF token."""

_TOKEN = re.compile(r"2\|([0-9a-f]{32})\|([0-9a-f]{32})")  # 2 hex digits per TOKEN_BYTES
_VALUE = re.compile(
    r"2\|(?P<kv>[0-9]{1,9})\|(?P<ts>[0-9]{1,12})\|(?P<b64>[A-Za-z0-9_-]*)\|(?P<sig>[0-9a-f]{64})"
)


def create_signed_value(
    secret: Secret,
    name: str,
    value: str | bytes,
    *,
    key_version: int | None = None,
    now: float | None = None,
) -> str:
    """Sign ``value`` for the cookie (or field) called ``name``.

    Args:
        secret: one key, or ``{version: key}`` for rotation.
        name: what the value is for; it must be the same when decoding.
        value: the payload (``str`` is encoded as UTF-8).
        key_version: the version of ``secret`` to sign with; the highest by default.
            Ignored (must be None or 0) with a single key.
        now: the timestamp to embed, for tests; the current time by default.

    Returns:
        The signed value, ASCII text that a cookie may carry.

    Raises:
        ValueError: the secret is empty or the key version is not in it.
        TypeError: the secret, name or value has the wrong type.

    Example::

        token = create_signed_value("s3cret", "user", "42")
        assert decode_signed_value("s3cret", "user", token) == b"42"
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if isinstance(value, str):
        payload = value.encode()
    elif isinstance(value, bytes | bytearray | memoryview):
        payload = bytes(value)
    else:
        raise TypeError(f"value must be str or bytes, got {type(value).__name__}")
    version, key = _signing_key(secret, key_version)
    stamp = int(time.time() if now is None else now)
    encoded = base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")
    head = f"{FORMAT_VERSION}|{version}|{stamp}|{encoded}"
    return f"{head}|{_signature(key, name, head)}"


def decode_signed_value(
    secret: Secret,
    name: str,
    value: str | bytes | None,
    *,
    max_age_days: float = 31,
    min_version: int | None = None,
    now: float | None = None,
) -> bytes | None:
    """Return the payload of a signed value, or None when it does not verify.

    Args:
        secret: the key, or ``{version: key}``; any version present verifies.
        name: the name the value was signed for.
        value: what the client sent (None gives None).
        max_age_days: refuse values signed longer ago than this.
        min_version: the oldest format version accepted (1 or 2, Tornado's meaning;
            this module only reads version 2, so both accept the same values).
        now: the current time, for tests.

    Raises:
        ValueError: the secret is empty, or ``min_version`` is not 1, 2 or None.

    Example::

        decode_signed_value({1: "old", 2: "new"}, "user", cookie)  # b"42" or None
    """
    if min_version is not None and min_version not in (1, 2):
        raise ValueError(f"min_version must be 1, 2 or None, got {min_version!r}")
    keys = _keys(secret)
    parsed = _parse(value)
    if parsed is None:
        return None
    version, stamp, encoded, signature, head = parsed
    key = keys.get(version)
    if key is None:
        return None
    if not hmac.compare_digest(signature, _signature(key, name, head)):
        return None
    current = time.time() if now is None else now
    if stamp < current - max_age_days * _DAY_S or stamp > current + _MAX_FUTURE_S:
        return None
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):  # pragma: no cover - the signature vouches for it
        return None


def signed_value_key_version(value: str | bytes | None) -> int | None:
    """The key version a signed value claims (not verified), or None if malformed."""
    parsed = _parse(value)
    return None if parsed is None else parsed[0]


def _parse(value: str | bytes | None) -> tuple[int, int, str, str, str] | None:
    if isinstance(value, bytes | bytearray):
        try:
            value = bytes(value).decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    match = _VALUE.fullmatch(value)
    if match is None:
        return None
    head = value[: match.start("sig") - 1]
    return int(match["kv"]), int(match["ts"]), match["b64"], match["sig"], head


def _signature(key: bytes, name: str, head: str) -> str:
    # The name is length-prefixed: cookie names may contain "|".
    message = f"{len(name)}:{name}|{head}".encode("utf-8", "surrogateescape")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _keys(secret: Secret) -> dict[int, bytes]:
    """``{version: key bytes}``; a single key is version 0."""
    if isinstance(secret, str | bytes):
        return {0: _key_bytes(secret, "cookie_secret")}
    if not isinstance(secret, Mapping):
        raise TypeError(
            f"cookie_secret must be str, bytes or {{version: key}}, got {type(secret).__name__}"
        )
    if not secret:
        raise ValueError("cookie_secret must not be an empty dict")
    keys: dict[int, bytes] = {}
    for version, key in secret.items():
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise TypeError(f"cookie_secret versions must be ints >= 0, got {version!r}")
        keys[version] = _key_bytes(key, f"cookie_secret[{version}]")
    return keys


def _key_bytes(key: object, label: str) -> bytes:
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, bytes):
        raise TypeError(f"{label} must be str or bytes, got {type(key).__name__}")
    if not key:
        raise ValueError(f"{label} must not be empty")
    return key


def _signing_key(secret: Secret, key_version: int | None) -> tuple[int, bytes]:
    keys = _keys(secret)
    if key_version is None:
        version = max(keys)
    elif key_version in keys and not isinstance(key_version, bool):
        version = key_version
    else:
        raise ValueError(
            f"key_version {key_version!r} is not a version of cookie_secret "
            f"(versions: {sorted(keys)})"
        )
    return version, keys[version]


def mask_token(raw: bytes) -> str:
    """Mask a raw token: ``2|<mask>|<token XOR mask>`` in hex, different at every call.

    A page that repeats a secret byte for byte can leak it through compression
    (BREACH); a masked token never repeats, yet :func:`unmask_token` recovers it.

    Raises:
        ValueError: ``raw`` is not :data:`TOKEN_BYTES` long.

    Example::

        raw = secrets.token_bytes(TOKEN_BYTES)
        assert unmask_token(mask_token(raw)) == raw
    """
    if len(raw) != TOKEN_BYTES:
        raise ValueError(f"raw must be {TOKEN_BYTES} bytes, got {len(raw)}")
    mask = secrets.token_bytes(TOKEN_BYTES)
    masked = bytes(a ^ b for a, b in zip(raw, mask, strict=True))
    return f"2|{mask.hex()}|{masked.hex()}"


def unmask_token(token: str | None) -> bytes | None:
    """The raw token inside a masked one, or None for anything malformed (never raises)."""
    if not isinstance(token, str):
        return None
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    mask, masked = bytes.fromhex(match[1]), bytes.fromhex(match[2])
    return bytes(a ^ b for a, b in zip(mask, masked, strict=True))
