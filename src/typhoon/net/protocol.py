"""The base of typhoon's raw protocols: the transport, write flow control, STARTTLS, drain.

Subclass :class:`Protocol` instead of ``asyncio.Protocol`` and a connection gains:

* ``self.transport``, set when the connection is made and None once it is lost;
* ``await self.drain()``, which waits while the peer is slow to read;
* ``await self.start_tls(context, server_side=...)``, to switch a live connection to
  TLS (STARTTLS in SMTP, IMAP, XMPP...);
* ``shutdown()`` and ``abort()``, which make it a :class:`typhoon.net.server.Drainable`:
  a listener's ``drain()`` asks every connection to shut down, then aborts stragglers.

A subclass that overrides ``connection_made``, ``connection_lost``, ``pause_writing`` or
``resume_writing`` calls ``super()`` first. None of the state lives in ``__init__``, so
a subclass may define its own ``__init__`` without calling the base one.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, cast


class Protocol(asyncio.Protocol):
    """An ``asyncio.Protocol`` that keeps its transport and knows its write flow.

    Example::

        class Greeter(Protocol):
            def connection_made(self, transport):
                super().connection_made(transport)
                self.transport.write(b"hello\\r\\n")

            def shutdown(self):
                self.transport.write(b"server going down\\r\\n")
                super().shutdown()

    Attributes:
        transport: the connection's transport while it is open (the TLS one after
            :meth:`start_tls`), None before it is made and after it is lost.
    """

    transport: asyncio.Transport | None = None
    _writing_paused = False
    _lost = False
    _writable: asyncio.Future[None] | None = None  # resolved when writing resumes or is lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._lost = True
        self._wake_writers()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_writers()

    def _wake_writers(self) -> None:
        # The waiters learn why they woke from _lost, so the future never holds an
        # exception that nobody might retrieve.
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    @property
    def peer(self) -> Any:
        """The peer's address (the transport's ``peername``), None when not connected."""
        return self.transport.get_extra_info("peername") if self.transport is not None else None

    async def drain(self) -> None:
        """Wait until the transport wants more data; return at once if it already does.

        Call it after a large write: it returns immediately unless the transport's
        buffer is over its high-water mark, and then waits until it is below the
        low-water mark again.

        Raises:
            ConnectionResetError: the connection is lost (before or while waiting).
        """
        if self._lost:
            raise ConnectionResetError("the connection is lost")
        if not self._writing_paused:
            return
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._writable)  # one waiter's cancellation spares the others
        if self._lost:
            raise ConnectionResetError("the connection was lost while waiting to write")

    async def start_tls(
        self,
        context: ssl.SSLContext,
        *,
        server_side: bool,
        server_hostname: str | None = None,
    ) -> None:
        """Switch this connection to TLS (STARTTLS); afterwards ``self.transport`` is TLS.

        The rule for the bytes around the switch: call it from the handler of the
        message that switches (a server after writing its go-ahead to the peer's
        STARTTLS command, a client on reading that go-ahead), and start it at once,
        e.g. as a task created there. Then:

        * Nothing more is read from the socket before the upgrade takes over, so the
          peer's handshake goes to TLS, never to ``data_received``.
        * Bytes that came in the same read *after* the switching message are
          plaintext the peer had no business sending: they are still in your own
          parse buffer, and you must drop them, never act on them as if they had
          come over TLS (a man in the middle could have injected them).
        * Data that arrives once the handshake is done, before this coroutine
          resumes, is held and delivered to ``data_received`` when ``self.transport``
          is already the TLS transport, so replies are always encrypted.

        It stops reading at once, then waits for :meth:`drain`, so that writing is
        not paused across the switch.

        Args:
            context: the TLS context (a server's holds its certificate).
            server_side: True on the side that accepted the connection.
            server_hostname: the name a client checks the certificate against
                (and sends as SNI); None on a server.

        Raises:
            ConnectionResetError: the connection is not open or was lost meanwhile.
            ssl.SSLError: the handshake failed; the connection is then closed.
            TypeError: ``context`` is not an ``ssl.SSLContext``, or the transport
                cannot do TLS; the connection is left as it was.
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("start_tls() needs an open connection")
        # The protocol the transport reports to: this one, or the wrapper that serve()
        # put in front of it to count connections and time their silence.
        receiver = cast(asyncio.Protocol, transport.get_protocol())
        holding = _Holding(receiver)
        loop = asyncio.get_running_loop()
        transport.pause_reading()  # what the peer sends from now on is for TLS
        try:
            await self.drain()
            upgraded = await loop.start_tls(
                transport,
                holding,
                context,
                server_side=server_side,
                server_hostname=server_hostname,
            )
        except BaseException as exc:
            holding.release()
            if transport.get_protocol() is receiver:
                transport.resume_reading()  # refused before TLS took over: nothing changed
                raise
            transport.abort()
            # The TLS layer does not report a loss that comes mid-handshake, so report
            # it here (once: a loss the TLS layer did report, or will, is not repeated).
            loop.call_soon(holding.connection_lost, exc if isinstance(exc, Exception) else None)
            raise
        if upgraded is None:  # lost between the handshake and now
            holding.release()
            raise ConnectionResetError("the connection was lost during start_tls()")
        self.transport = upgraded
        upgraded.set_protocol(receiver)
        holding.release()

    def shutdown(self) -> None:
        """Say goodbye and close: by default, close once buffered writes are flushed.

        A listener's ``drain()`` calls it on every connection; override it to finish
        the work in hand or to tell the peer first, then call ``super().shutdown()``.
        """
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close now, dropping anything not yet written."""
        if self.transport is not None:
            self.transport.abort()


class _Holding(asyncio.Protocol):
    """What the TLS layer talks to during :meth:`Protocol.start_tls`.

    Until :meth:`release` it keeps what arrives (data, end of input, the loss) and
    passes on only the write flow; then it hands over what it kept, in order, and
    forwards everything after. The loss is forwarded once, however often reported.
    """

    def __init__(self, receiver: asyncio.Protocol) -> None:
        self._receiver = receiver
        self._held: list[bytes] | None = []  # None once released
        self._eof = False
        self._lost: tuple[Exception | None] | None = None  # the loss, kept until released
        self._lost_told = False

    def release(self) -> None:
        held, self._held = self._held, None
        if held is None:
            return
        if held:
            self._receiver.data_received(b"".join(held))
        if self._eof:
            self._receiver.eof_received()
        if self._lost is not None:
            self.connection_lost(self._lost[0])

    def data_received(self, data: bytes) -> None:
        if self._held is None:
            self._receiver.data_received(data)
        else:
            self._held.append(data)

    def eof_received(self) -> bool | None:
        if self._held is None:
            return self._receiver.eof_received()
        self._eof = True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._held is not None:
            self._lost = (exc,)
        elif not self._lost_told:
            self._lost_told = True
            self._receiver.connection_lost(exc)

    def pause_writing(self) -> None:
        self._receiver.pause_writing()

    def resume_writing(self) -> None:
        self._receiver.resume_writing()
