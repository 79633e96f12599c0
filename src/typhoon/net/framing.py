"""Framing helpers: lines, length-prefixed messages and netstrings, as Protocols.

Twisted users know them as LineReceiver, Int8/16/32StringReceiver and
NetstringReceiver; here they are :class:`typhoon.net.Protocol` subclasses (so
``drain``, ``start_tls`` and ``shutdown`` come with them) with snake_case names.
Subclass one and define what to do with each message::

    class Chat(LineReceiver):
        def line_received(self, line: bytes) -> None:
            self.send_line(b"you said: " + line)

Rules they share:

* Buffering is linear in the input: the bytes already searched are never searched
  again, and consumed bytes are dropped once per read, however small the pieces.
* A message over its limit, or malformed input, calls a hook whose default closes the
  connection (``line_length_exceeded``, ``length_exceeded``, ``protocol_error``);
  nothing more is parsed after the transport starts closing.
"""

from __future__ import annotations

import struct

from typhoon.net.protocol import Protocol


class _Framed(Protocol):
    """What the framing protocols share: the receive buffer (the rest is :class:`Protocol`)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def _closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class LineReceiver(_Framed):
    """Calls :meth:`line_received` for each line (without its delimiter).

    Attributes:
        delimiter: what ends a line (``b"\\r\\n"``).
        max_line_length: the longest line accepted, in bytes (16 KiB); a longer one
            calls :meth:`line_length_exceeded` (which closes the connection).

    :meth:`set_raw_mode` switches to :meth:`raw_data_received` for what follows (a file
    after a header, say); :meth:`set_line_mode` switches back, re-reading ``extra``.
    """

    delimiter = b"\r\n"
    max_line_length = 16384

    def __init__(self) -> None:
        super().__init__()
        self._scanned = 0  # bytes of the buffer known to hold no delimiter
        self._raw = False

    def data_received(self, data: bytes) -> None:
        if self._raw:
            self.raw_data_received(data)
            return
        buffer = self._buffer
        buffer += data
        self._take_lines()

    def _take_lines(self) -> None:
        buffer, delimiter = self._buffer, self.delimiter
        start = 0
        search = max(self._scanned - len(delimiter) + 1, 0)
        while not self._closing():
            end = buffer.find(delimiter, search)
            if end < 0:
                break
            line = bytes(buffer[start:end])
            start = search = end + len(delimiter)
            if len(line) > self.max_line_length:
                del buffer[:start]
                self._scanned = 0
                self.line_length_exceeded(line)
                return
            self.line_received(line)
            if self._raw:  # the rest of the buffer is raw data
                rest = bytes(buffer[start:])
                buffer.clear()
                self._scanned = 0
                if rest:
                    self.raw_data_received(rest)
                return
        del buffer[:start]
        self._scanned = len(buffer)
        if len(buffer) > self.max_line_length + len(delimiter) and not self._closing():
            line = bytes(buffer)
            buffer.clear()
            self._scanned = 0
            self.line_length_exceeded(line)

    def line_received(self, line: bytes) -> None:
        """A whole line came; override."""
        raise NotImplementedError(f"{type(self).__name__} must define line_received()")

    def raw_data_received(self, data: bytes) -> None:
        """Bytes received in raw mode; override if you use :meth:`set_raw_mode`."""
        raise NotImplementedError(f"{type(self).__name__} must define raw_data_received()")

    def line_length_exceeded(self, line: bytes) -> None:
        """A line (or an unfinished one) is over ``max_line_length``: close by default."""
        self._close()

    def send_line(self, line: bytes) -> None:
        """Write ``line`` and the delimiter."""
        if self.transport is not None:
            self.transport.writelines((line, self.delimiter))

    def set_raw_mode(self) -> None:
        """Deliver what follows to :meth:`raw_data_received` until :meth:`set_line_mode`."""
        self._raw = True

    def set_line_mode(self, extra: bytes = b"") -> None:
        """Back to lines; ``extra`` (bytes read past the raw part) is parsed as lines."""
        self._raw = False
        if extra:
            self._buffer += extra
            self._take_lines()


class LengthPrefixed(_Framed):
    """Calls :meth:`string_received` for each message prefixed by its length.

    Attributes:
        prefix: the struct format of the length (``"!I"``, 32-bit big-endian).
        max_length: the largest message accepted (1 MiB); a larger announced length
            calls :meth:`length_exceeded` (which closes) before any of it is buffered.
    """

    prefix = "!I"
    max_length = 1 << 20

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        size = struct.calcsize(self.prefix)
        pos = 0
        while len(buffer) - pos >= size and not self._closing():
            (length,) = struct.unpack_from(self.prefix, buffer, pos)
            if length > self.max_length:
                buffer.clear()
                self.length_exceeded(length)
                return
            end = pos + size + length
            if end > len(buffer):
                break
            message = bytes(buffer[pos + size : end])
            pos = end
            self.string_received(message)
        del buffer[:pos]

    def string_received(self, data: bytes) -> None:
        """A whole message came; override."""
        raise NotImplementedError(f"{type(self).__name__} must define string_received()")

    def length_exceeded(self, length: int) -> None:
        """A message announced more than ``max_length`` bytes: close by default."""
        self._close()

    def send_string(self, data: bytes) -> None:
        """Write ``data`` with its length prefix.

        Raises:
            ValueError: ``data`` is too long for the prefix.
        """
        try:
            head = struct.pack(self.prefix, len(data))
        except struct.error:
            raise ValueError(
                f"a message of {len(data)} bytes does not fit the {self.prefix!r} prefix"
            ) from None
        if self.transport is not None:
            self.transport.writelines((head, data))


class Int8Prefixed(LengthPrefixed):
    """Length-prefixed messages with an 8-bit length."""

    prefix = "!B"


class Int16Prefixed(LengthPrefixed):
    """Length-prefixed messages with a 16-bit big-endian length."""

    prefix = "!H"


class Int32Prefixed(LengthPrefixed):
    """Length-prefixed messages with a 32-bit big-endian length."""

    prefix = "!I"


class NetstringReceiver(_Framed):
    """Calls :meth:`string_received` for each netstring (``b"5:hello,"``).

    Attributes:
        max_length: the largest netstring accepted (1 MiB).

    A malformed netstring (a non-digit length, a leading zero, a missing ``,``) or a
    length over ``max_length`` calls :meth:`protocol_error`, which closes.
    """

    max_length = 1 << 20

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        pos = 0
        digits_max = len(str(self.max_length))
        while pos < len(buffer) and not self._closing():
            colon = buffer.find(b":", pos, pos + digits_max + 1)
            if colon < 0:
                if len(buffer) - pos > digits_max:
                    self._error("the length is too long or not followed by ':'")
                    return
                break
            digits = bytes(buffer[pos:colon])
            if not digits.isdigit() or (len(digits) > 1 and digits[:1] == b"0"):
                self._error(f"bad length {digits!r}")
                return
            length = int(digits)
            if length > self.max_length:
                self._error(f"length {length} is over max_length {self.max_length}")
                return
            end = colon + 1 + length
            if end >= len(buffer):
                break  # the payload or its ',' is still to come
            if buffer[end] != 0x2C:  # ","
                self._error("a netstring must end with ','")
                return
            message = bytes(buffer[colon + 1 : end])
            pos = end + 1
            self.string_received(message)
        del buffer[:pos]

    def _error(self, reason: str) -> None:
        self._buffer.clear()
        self.protocol_error(reason)

    def string_received(self, data: bytes) -> None:
        """A whole netstring came; override."""
        raise NotImplementedError(f"{type(self).__name__} must define string_received()")

    def protocol_error(self, reason: str) -> None:
        """Malformed input (``reason`` says how): close by default."""
        self._close()

    def send_string(self, data: bytes) -> None:
        """Write ``data`` as a netstring."""
        if self.transport is not None:
            self.transport.writelines((b"%d:" % len(data), data, b","))
