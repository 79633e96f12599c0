"""Signed values: round trips, tampering, expiry, key rotation, bad input (never raises)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from typhoon.web.cookies import format_set_cookie
from typhoon.web.signing import (
    TOKEN_BYTES,
    create_signed_value,
    decode_signed_value,
    mask_token,
    signed_value_key_version,
    unmask_token,
)

NOW = 1_700_000_000.0
DAY = 86400


def test_signing_round_trips_str_and_bytes() -> None:
    for value in ("42", "é ✓", b"\x00\xff binary", ""):
        signed = create_signed_value("key", "user", value, now=NOW)
        expected = value.encode() if isinstance(value, str) else value
        assert decode_signed_value("key", "user", signed, now=NOW) == expected
        assert decode_signed_value("key", "user", signed.encode(), now=NOW) == expected


def test_signing_value_format_carries_version_key_version_and_timestamp() -> None:
    signed = create_signed_value({3: "k"}, "user", "hi", now=NOW)
    version, key_version, stamp, payload, signature = signed.split("|")
    assert (version, key_version, stamp, payload) == ("2", "3", str(int(NOW)), "aGk")
    assert len(signature) == 64
    assert signed_value_key_version(signed) == 3
    format_set_cookie("user", signed)  # a valid cookie value as it is


def test_signing_refuses_other_names_keys_and_tampering() -> None:
    signed = create_signed_value("key", "user", "42", now=NOW)
    assert decode_signed_value("key", "admin", signed, now=NOW) is None
    assert decode_signed_value("other", "user", signed, now=NOW) is None
    forged = signed.replace("|NDI|", "|NDM|")  # "43"
    assert decode_signed_value("key", "user", forged, now=NOW) is None


def test_signing_name_is_length_prefixed_so_pipes_cannot_shift_fields() -> None:
    signed = create_signed_value("key", "a|b", "v", now=NOW)
    assert decode_signed_value("key", "a|b", signed, now=NOW) == b"v"
    assert decode_signed_value("key", "a", signed, now=NOW) is None


def test_signing_expiry_and_future_timestamps() -> None:
    signed = create_signed_value("key", "user", "42", now=NOW)
    assert decode_signed_value("key", "user", signed, now=NOW + 30 * DAY) == b"42"
    assert decode_signed_value("key", "user", signed, now=NOW + 32 * DAY) is None
    assert decode_signed_value("key", "user", signed, max_age_days=1, now=NOW + 2 * DAY) is None
    assert decode_signed_value("key", "user", signed, now=NOW - 40 * DAY) is None  # from the future


def test_signing_key_rotation() -> None:
    old = create_signed_value({1: "old"}, "user", "ann", now=NOW)
    both = {1: "old", 2: "new"}
    new = create_signed_value(both, "user", "ann", now=NOW)  # the newest version by default
    assert signed_value_key_version(new) == 2
    assert decode_signed_value(both, "user", old, now=NOW) == b"ann"
    assert decode_signed_value(both, "user", new, now=NOW) == b"ann"
    assert decode_signed_value({2: "new"}, "user", old, now=NOW) is None  # retired
    assert signed_value_key_version(create_signed_value(both, "u", "x", key_version=1)) == 1
    # A single key is version 0: a versioned value does not verify against it.
    assert decode_signed_value("old", "user", old, now=NOW) is None
    assert decode_signed_value({0: "old"}, "user", create_signed_value("old", "user", "a")) == b"a"


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        "2|0|1|x",
        "1|0|1700000000|NDI|" + "0" * 64,
        "2|0|1700000000|NDI|" + "0" * 63,
        "2|0|1700000000|NDI|" + "A" * 64,
        "2|+0|1700000000|NDI|" + "0" * 64,
        "2|0|1_700_000_000|NDI|" + "0" * 64,
        "2|99999999999|1700000000|NDI|" + "0" * 64,
        b"\xff\xfe",
        "2|0|1700000000|NDI|" + "é" * 64,
        42,
    ],
)
def test_signing_malformed_values_are_none_never_errors(value: Any) -> None:
    assert decode_signed_value("key", "user", value, now=NOW) is None
    signed_value_key_version(value)  # never raises either


@pytest.mark.parametrize(
    ("secret", "kwargs", "error", "message"),
    [
        ("", {}, ValueError, "cookie_secret must not be empty"),
        ({}, {}, ValueError, "must not be an empty dict"),
        ({1: ""}, {}, ValueError, r"cookie_secret\[1\] must not be empty"),
        ({"1": "k"}, {}, TypeError, "versions must be ints >= 0"),
        ({1: 5}, {}, TypeError, r"cookie_secret\[1\] must be str or bytes"),
        (5, {}, TypeError, "cookie_secret must be str, bytes or"),
        ({1: "k"}, {"key_version": 2}, ValueError, r"key_version 2 is not a version.*\[1\]"),
        ("k", {"key_version": 1}, ValueError, "key_version 1 is not a version"),
    ],
)
def test_signing_misconfiguration_raises(
    secret: Any, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        create_signed_value(secret, "user", "v", **kwargs)


def test_signing_rejects_bad_names_values_and_min_version() -> None:
    with pytest.raises(TypeError, match="name must be a str"):
        create_signed_value("k", b"user", "v")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="value must be str or bytes, got int"):
        create_signed_value("k", "user", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_version must be 1, 2 or None"):
        decode_signed_value("k", "user", "x", min_version=3)
    signed = create_signed_value("k", "user", "v")
    assert decode_signed_value("k", "user", signed, min_version=2) == b"v"


def test_signing_uses_the_current_time_by_default() -> None:
    signed = create_signed_value("k", "user", "v")
    assert abs(int(signed.split("|")[2]) - time.time()) < 5
    assert decode_signed_value("k", "user", signed) == b"v"


def test_mask_token_differs_every_time_and_unmasks_to_the_raw_token() -> None:
    raw = bytes(range(TOKEN_BYTES))
    first, second = mask_token(raw), mask_token(raw)
    assert first != second
    assert unmask_token(first) == unmask_token(second) == raw
    assert first.startswith("2|")
    with pytest.raises(ValueError, match=f"raw must be {TOKEN_BYTES} bytes, got 3"):
        mask_token(b"abc")


@pytest.mark.parametrize(
    "token",
    [None, "", "2|00|00", "1|" + "0" * 32 + "|" + "0" * 32, "2|" + "g" * 32 + "|" + "0" * 32],
)
def test_unmask_token_malformed_is_none(token: str | None) -> None:
    assert unmask_token(token) is None


@settings(max_examples=200, deadline=None)
@given(
    value=st.binary(max_size=200) | st.text(max_size=100),
    name=st.text(min_size=1, max_size=20),
    key=st.binary(min_size=1, max_size=64),
)
def test_signing_property_any_value_round_trips(value: bytes | str, name: str, key: bytes) -> None:
    signed = create_signed_value(key, name, value, now=NOW)
    expected = value.encode() if isinstance(value, str) else value
    assert decode_signed_value(key, name, signed, now=NOW) == expected


@settings(max_examples=300, deadline=None)
@given(
    value=st.binary(max_size=64),
    position=st.integers(min_value=0),
    replacement=st.integers(min_value=0, max_value=255),
)
def test_signing_property_any_single_byte_corruption_is_none(
    value: bytes, position: int, replacement: int
) -> None:
    secret = {1: b"old key", 2: b"new key"}
    signed = create_signed_value(secret, "session", value, key_version=1, now=NOW).encode()
    index = position % len(signed)
    if signed[index] == replacement:
        replacement = (replacement + 1) % 256
    corrupted = signed[:index] + bytes([replacement]) + signed[index + 1 :]
    assert decode_signed_value(secret, "session", corrupted, now=NOW) is None
    assert decode_signed_value(secret, "session", corrupted.decode("latin-1"), now=NOW) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_signing_property_arbitrary_input_never_raises(value: str | bytes) -> None:
    assert decode_signed_value("key", "user", value, now=NOW) is None
