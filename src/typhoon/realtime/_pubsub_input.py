"""What callers hand the hub, checked: arguments, published data and cursor tokens.

Internal to ``typhoon.realtime.pubsub`` (which re-exports ``Overflow``). Every check
raises ``TypeError`` or ``ValueError`` naming the argument, as the public API promises.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Final, Literal
from urllib.parse import quote, unquote

Overflow = Literal["drop_oldest", "disconnect"]
_OVERFLOWS: Final = ("drop_oldest", "disconnect")

# Ids are Redis INCR counters: they fit in a signed 64-bit integer.
MAX_ID: Final = 2**63 - 1
# The widest integer every backend can carry (msgpack's range).
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1
_MAX_DEPTH: Final = 100

# A topic in a cursor token is percent-encoded except for these printable ASCII
# characters, so a token is one header-safe line and "," / "=" / "%" stay separators.
_CURSOR_SAFE: Final = "!#$&'()*+-./:;<>?@[]^_`{|}~"
_is_digits = re.compile(r"[0-9]{1,19}").fullmatch


# -- argument checks -------------------------------------------------------------------


def check_topic(topic: object, name: str = "topic") -> str:
    if not isinstance(topic, str):
        raise TypeError(f"{name} must be a str, got {type(topic).__name__}")
    if not topic:
        raise ValueError(f"{name} must not be empty")
    if "\x00" in topic:
        raise ValueError(f"{name} must not contain NUL characters, got {topic!r}")
    try:
        topic.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be encodable as UTF-8, got {topic!r}") from None
    return topic


def check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return value


def check_id(value: object, name: str) -> int:
    value = check_int(value, name, 0)
    if value > MAX_ID:
        raise ValueError(f"{name} must be at most {MAX_ID}, got {value!r}")
    return value


def check_overflow(value: object, name: str = "overflow") -> Overflow:
    if value not in _OVERFLOWS:
        raise ValueError(f"{name} must be 'drop_oldest' or 'disconnect', got {value!r}")
    return value


def check_data(data: object) -> None:
    """Refuse what not every backend and every transport (JSON in SSE) can carry."""
    if isinstance(data, str | bytes):
        return
    stack: list[tuple[object, str, int]] = [(data, "data", 0)]
    while stack:
        value, where, depth = stack.pop()
        if value is None or isinstance(value, bool | str):
            continue
        if isinstance(value, int):
            if not _INT_MIN <= value <= _INT_MAX:
                raise ValueError(f"{where} is an integer outside the 64-bit range: {value}")
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"{where} is {value}, which JSON cannot carry")
            continue
        if depth >= _MAX_DEPTH:
            raise ValueError(f"data is nested more than {_MAX_DEPTH} levels deep (at {where})")
        if isinstance(value, list):
            stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"{where} has a non-str key {key!r}; JSON keys are strings")
                stack.append((item, f"{where}[{key!r}]", depth + 1))
            continue
        hint = " (use a list)" if isinstance(value, tuple) else ""
        raise TypeError(
            f"{where} is a {type(value).__name__}{hint}; data must be str, bytes or a "
            "JSON-able value (dict, list, str, int, float, bool, None)"
        )


def check_timeout(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"timeout must be a number of seconds, got {value!r}")
    if math.isnan(value) or value < 0:
        raise ValueError(f"timeout must be 0 or more seconds, got {value!r}")
    return None if math.isinf(value) else float(value)


# -- cursor tokens ---------------------------------------------------------------------


def format_cursor(topics: tuple[str, ...], positions: Mapping[str, int | None]) -> str:
    if len(topics) == 1:
        position = positions[topics[0]]
        return "" if position is None else str(position)
    return ",".join(
        f"{quote(topic, safe=_CURSOR_SAFE)}={position}"
        for topic in topics
        if (position := positions[topic]) is not None
    )


def parse_cursor(cursor: str, topics: tuple[str, ...]) -> dict[str, int]:
    """Read a token written by ``_format_cursor``; unknown topics are ignored."""
    token = cursor.strip()
    if not token:
        return {}
    if _is_digits(token):
        if len(topics) != 1:
            raise ValueError(
                f"malformed cursor {cursor!r}: a subscription to several topics "
                "needs a 'topic=id,topic=id' token"
            )
        return {topics[0]: _cursor_id(token, cursor)}
    positions: dict[str, int] = {}
    for part in token.split(","):
        encoded, equals, digits = part.strip().rpartition("=")
        if not equals or not encoded or not _is_digits(digits):
            raise ValueError(f"malformed cursor {cursor!r}: expected an id or 'topic=id,topic=id'")
        topic = unquote(encoded, errors="strict")
        if topic in positions:
            raise ValueError(f"malformed cursor {cursor!r}: topic {topic!r} appears twice")
        positions[topic] = _cursor_id(digits, cursor)
    return {topic: position for topic, position in positions.items() if topic in topics}


def _cursor_id(digits: str, cursor: str) -> int:
    value = int(digits)
    if value > MAX_ID:
        raise ValueError(f"malformed cursor {cursor!r}: id {digits} is out of range")
    return value
