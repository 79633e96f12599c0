"""Framing protocols fed whole and in 1-, 2- and 7-byte pieces; bad input closes."""

from __future__ import annotations

import pytest

from typhoon.net.framing import (
    Int8Prefixed,
    Int16Prefixed,
    Int32Prefixed,
    LengthPrefixed,
    LineReceiver,
    NetstringReceiver,
)
from typhoon.testing import MemoryTransport

PIECES = [None, 1, 2, 7]


def attach(protocol: object) -> MemoryTransport:
    transport = MemoryTransport()
    transport.set_protocol(protocol)  # type: ignore[arg-type]
    protocol.connection_made(transport)  # type: ignore[attr-defined]
    return transport


def feed(protocol: object, data: bytes, chunk: int | None) -> None:
    step = chunk or max(len(data), 1)
    for start in range(0, len(data), step):
        protocol.data_received(data[start : start + step])  # type: ignore[attr-defined]


class Lines(LineReceiver):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[bytes] = []
        self.raw: list[bytes] = []

    def line_received(self, line: bytes) -> None:
        self.lines.append(line)
        if line == b"RAW":
            self.set_raw_mode()
        else:
            self.send_line(b"> " + line)

    def raw_data_received(self, data: bytes) -> None:
        self.raw.append(data)
        joined = b"".join(self.raw)
        if b"END" in joined:
            before, _, after = joined.partition(b"END")
            self.raw = [before]
            self.set_line_mode(after)


@pytest.mark.parametrize("chunk", PIECES)
async def test_lines_in_any_pieces(chunk: int | None) -> None:
    protocol = Lines()
    transport = attach(protocol)
    feed(protocol, b"one\r\ntwo\r\n\r\nthree\r\n", chunk)
    assert protocol.lines == [b"one", b"two", b"", b"three"]
    assert bytes(transport.written) == b"> one\r\n> two\r\n> \r\n> three\r\n"


@pytest.mark.parametrize("chunk", PIECES)
async def test_raw_mode_and_back(chunk: int | None) -> None:
    protocol = Lines()
    attach(protocol)
    feed(protocol, b"a\r\nRAW\r\nbinary\r\ndataENDb\r\nc\r\n", chunk)
    assert protocol.lines == [b"a", b"RAW", b"b", b"c"]
    assert b"".join(protocol.raw) == b"binary\r\ndata"


@pytest.mark.parametrize("chunk", PIECES)
async def test_a_line_over_the_limit_closes(chunk: int | None) -> None:
    class Short(Lines):
        max_line_length = 10

    protocol = Short()
    transport = attach(protocol)
    feed(protocol, b"ok\r\n" + b"x" * 11 + b"\r\nnever\r\n", chunk)
    assert protocol.lines == [b"ok"]
    assert transport.is_closing()


async def test_an_endless_line_closes_without_growing() -> None:
    class Short(Lines):
        max_line_length = 100

    protocol = Short()
    transport = attach(protocol)
    for _ in range(1000):
        protocol.data_received(b"x" * 7)
        if transport.is_closing():
            break
    assert transport.is_closing()
    assert len(protocol._buffer) <= 102


async def test_other_delimiters() -> None:
    class NewlineLines(Lines):
        delimiter = b"\n"

    protocol = NewlineLines()
    attach(protocol)
    feed(protocol, b"a\nb\n", 1)
    assert protocol.lines == [b"a", b"b"]


class Strings(LengthPrefixed):
    def __init__(self) -> None:
        super().__init__()
        self.strings: list[bytes] = []

    def string_received(self, data: bytes) -> None:
        self.strings.append(data)


@pytest.mark.parametrize("chunk", PIECES)
@pytest.mark.parametrize(
    ("base", "head"),
    [(Int8Prefixed, b"\x03"), (Int16Prefixed, b"\x00\x03"), (Int32Prefixed, b"\x00\x00\x00\x03")],
)
async def test_length_prefixed_in_any_pieces(chunk: int | None, base: type, head: bytes) -> None:
    kind = type("Received", (Strings, base), {})
    protocol = kind()
    transport = attach(protocol)
    feed(protocol, head + b"abc" + head[:-1] + b"\x00" + head + b"xyz", chunk)
    assert protocol.strings == [b"abc", b"", b"xyz"]
    protocol.send_string(b"hi")
    assert bytes(transport.written) == head[:-1] + b"\x02hi"


@pytest.mark.parametrize("chunk", PIECES)
async def test_an_announced_length_over_the_limit_closes_before_buffering(
    chunk: int | None,
) -> None:
    class Small(Strings):
        max_length = 10

    protocol = Small()
    transport = attach(protocol)
    feed(protocol, b"\x00\x00\x00\x02ok" + b"\x00\x00\x10\x00" + b"y" * 50, chunk)
    assert protocol.strings == [b"ok"]
    assert transport.is_closing()
    assert len(protocol._buffer) <= 50


async def test_send_string_too_long_for_the_prefix() -> None:
    class Tiny(Strings, Int8Prefixed):
        pass

    protocol = Tiny()
    attach(protocol)
    with pytest.raises(ValueError, match="does not fit the '!B' prefix"):
        protocol.send_string(b"x" * 256)


class Netstrings(NetstringReceiver):
    def __init__(self) -> None:
        super().__init__()
        self.strings: list[bytes] = []
        self.errors: list[str] = []

    def string_received(self, data: bytes) -> None:
        self.strings.append(data)

    def protocol_error(self, reason: str) -> None:
        self.errors.append(reason)
        super().protocol_error(reason)


@pytest.mark.parametrize("chunk", PIECES)
async def test_netstrings_in_any_pieces(chunk: int | None) -> None:
    protocol = Netstrings()
    transport = attach(protocol)
    feed(protocol, b"5:hello,0:,12:hello world!,", chunk)
    assert protocol.strings == [b"hello", b"", b"hello world!"]
    protocol.send_string(b"abc")
    assert bytes(transport.written) == b"3:abc,"
    assert not transport.is_closing()


@pytest.mark.parametrize("chunk", PIECES)
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"x:abc,", "bad length b'x'"),
        (b"05:hello,", "bad length b'05'"),
        (b"3:abcX", "must end with ','"),
        (b"9999999:", "over max_length"),
        (b"123456789012", "not followed by ':'"),
    ],
)
async def test_bad_netstrings_close(chunk: int | None, data: bytes, reason: str) -> None:
    protocol = Netstrings()
    transport = attach(protocol)
    feed(protocol, b"2:ok," + data, chunk)
    assert protocol.strings == [b"ok"]
    assert transport.is_closing()
    assert reason in protocol.errors[0]


async def test_missing_hooks_say_what_to_define() -> None:
    for base, name in ((LineReceiver, "line_received"), (NetstringReceiver, "string_received")):
        protocol = base()
        attach(protocol)
        with pytest.raises(NotImplementedError, match=name):
            protocol.data_received(b"1:a," if base is NetstringReceiver else b"a\r\n")
