"""Linear buffering in typhoon.net.framing: short lines fed in small pieces.

Feeds N MB of 30-byte lines to a LineReceiver in pieces of a few bytes (and a few
length-prefixed and netstring messages the same way), and prints the time per MB at
10 and 20 MB. Linear buffering shows as the same time per MB at both sizes; a parser
that rescans or copies its whole buffer on each piece would take four times as long
for twice the input::

    python bench/framing.py                # 10 and 20 MB, pieces of 7 bytes
    python bench/framing.py --piece 1      # one byte at a time (slow, but still linear)
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

from typhoon.net.framing import Int32Prefixed, LineReceiver, NetstringReceiver

LINE = b"x" * 28 + b"\r\n"


class _Null(asyncio.Transport):
    def write(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False


class Lines(LineReceiver):
    count = 0

    def line_received(self, line: bytes) -> None:
        self.count += 1


class Prefixed(Int32Prefixed):
    count = 0

    def string_received(self, data: bytes) -> None:
        self.count += 1


class Netstrings(NetstringReceiver):
    count = 0

    def string_received(self, data: bytes) -> None:
        self.count += 1


def stream(kind: str, megabytes: int) -> bytes:
    payload = b"x" * 26
    unit = {
        "lines": LINE,
        "length-prefixed": len(payload).to_bytes(4, "big") + payload,
        "netstrings": b"26:" + payload + b",",
    }[kind]
    return unit * (megabytes * 1_000_000 // len(unit))


def seconds(make: Callable[[], Any], data: bytes, piece: int) -> tuple[float, int]:
    protocol = make()
    protocol.connection_made(_Null())
    view = memoryview(data)
    feed = protocol.data_received
    start = time.perf_counter()
    for offset in range(0, len(data), piece):
        feed(bytes(view[offset : offset + piece]))
    return time.perf_counter() - start, protocol.count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--piece", type=int, default=7, help="bytes per data_received call")
    parser.add_argument("--sizes", default="10,20", help="megabytes, comma-separated")
    args = parser.parse_args()
    makers: dict[str, Callable[[], Any]] = {
        "lines": Lines,
        "length-prefixed": Prefixed,
        "netstrings": Netstrings,
    }
    print(f"pieces of {args.piece} bytes")
    for kind, make in makers.items():
        figures = []
        for size in (int(s) for s in args.sizes.split(",")):
            took, count = seconds(make, stream(kind, size), args.piece)
            figures.append(f"{size} MB: {took:.2f} s ({took / size:.3f} s/MB, {count:,} messages)")
        print(f"{kind:16} " + "; ".join(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
