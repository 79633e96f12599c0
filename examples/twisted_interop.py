"""A Twisted line chat and a typhoon web app on one event loop, sharing one message log.

Run it with ``python examples/twisted_interop.py`` (needs ``pip install 'typhoon[twisted]'``),
then chat with ``nc 127.0.0.1 8023`` and look at http://127.0.0.1:8000/:

- Twisted side, a ``LineReceiver``: each line you type is saved and sent to every
  chat client; ``/history`` answers with the last messages. Saving and reading go
  through the typhoon side's async ``MessageLog``, by way of ``as_deferred``.
- typhoon side: ``GET /`` lists the messages, ``POST /say`` (``{"nick", "body"}``)
  speaks into the chat, and ``GET /next`` waits (up to ``?within=`` seconds) for the
  next chat line: a Deferred the Twisted side fires, awaited through ``as_future``.

``--http-port`` and ``--chat-port`` choose the ports (0 for any free one); the bound
addresses are printed on startup. Ctrl+C (or SIGTERM) drains typhoon's server, then
stops Twisted's reactor.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineReceiver

from typhoon import JSON, App, Request, Text
from typhoon.http import HTTPConfig, HTTPServer
from typhoon.net import twisted as tx

HISTORY = 20


class MessageLog:
    """The chat's messages, kept by the typhoon side (a database would be async too)."""

    def __init__(self) -> None:
        self._messages: deque[tuple[str, str]] = deque(maxlen=HISTORY)
        self._lock = asyncio.Lock()

    async def add(self, nick: str, body: str) -> None:
        async with self._lock:
            self._messages.append((nick, body))

    async def recent(self) -> list[tuple[str, str]]:
        async with self._lock:
            return list(self._messages)


class ChatLine(LineReceiver):
    """One chat client: lines in are messages, ``/history`` asks for the log."""

    def __init__(self, room: ChatRoom, nick: str) -> None:
        self.room = room
        self.nick = nick

    def connectionMade(self) -> None:
        self.room.members.add(self)
        self.send_line(f"* you are {self.nick}".encode())

    def connectionLost(self, reason: object = None) -> None:
        self.room.members.discard(self)

    def lineReceived(self, line: bytes) -> None:
        text = line.decode(errors="replace").strip()
        if text == "/history":
            tx.as_deferred(self.room.log.recent()).addCallback(self._send_history)
        elif text:
            self.room.say(self.nick, text)

    def _send_history(self, messages: list[tuple[str, str]]) -> None:
        for nick, body in messages:
            self.send_line(f"{nick}: {body}".encode())
        self.send_line(b"* end of history")

    def send_line(self, line: bytes) -> None:
        """``sendLine``, which Twisted leaves unannotated."""
        cast(Callable[[bytes], None], self.sendLine)(line)


class ChatRoom(Factory[ChatLine]):
    """The Twisted factory: builds a ``ChatLine`` per connection and fans lines out."""

    def __init__(self, log: MessageLog) -> None:
        self.log = log
        self.members: set[ChatLine] = set()
        self._listeners: list[Deferred[tuple[str, str]]] = []
        self._count = 0

    def buildProtocol(self, addr: IAddress | None) -> ChatLine:
        self._count += 1
        line = ChatLine(self, f"guest{self._count}")
        line.factory = self
        return line

    def say(self, nick: str, body: str) -> Deferred[None]:
        """Save the message (typhoon's coroutine), then send it to everyone."""

        def deliver(_: None) -> None:
            for member in list(self.members):
                member.send_line(f"{nick}: {body}".encode())
            listeners, self._listeners = self._listeners, []
            for listener in listeners:
                listener.callback((nick, body))

        return tx.as_deferred(self.log.add(nick, body)).addCallback(deliver)

    def next_message(self) -> Deferred[tuple[str, str]]:
        """A Deferred for the next message; cancelling it stops listening."""
        listener: Deferred[tuple[str, str]] = Deferred(self._listeners.remove)
        self._listeners.append(listener)
        return listener


def create_app(room: ChatRoom) -> App:
    app = App()

    @app.get("/")
    async def index(request: Request) -> Text:
        lines = [f"{nick}: {body}" for nick, body in await room.log.recent()]
        return Text("\n".join([*lines, f"({len(room.members)} in the chat)"]) + "\n")

    @app.post("/say")
    async def say(request: Request) -> JSON:
        data = await request.json()
        nick, body = str(data.get("nick") or "web"), str(data.get("body") or "").strip()
        if not body:
            return JSON({"error": "empty body"}, status=400)
        await tx.as_future(room.say(f"{nick}@web", body))
        return JSON({"delivered_to": len(room.members)})

    @app.get("/next")
    async def next_message(request: Request) -> JSON:
        within = float(request.query.get("within", "30"))
        try:
            async with asyncio.timeout(within):
                nick, body = await tx.as_future(room.next_message())
        except TimeoutError:  # the cancelled Deferred has left the room's listeners
            return JSON({"message": None})
        return JSON({"message": {"nick": nick, "body": body}})

    return app


class _ListeningPort(Protocol):
    def getHost(self) -> IPv4Address: ...


class _TCPReactor(Protocol):
    """``listenTCP``, typed (Twisted's zope interfaces are opaque to mypy)."""

    def listenTCP(self, port: int, factory: Factory[Any], *, interface: str) -> _ListeningPort: ...


async def serve(host: str, http_port: int, chat_port: int) -> int:
    """Serve both until SIGINT/SIGTERM; the reactor is already installed by ``tx.run``."""
    reactor = tx.installed_reactor()
    assert reactor is not None
    room = ChatRoom(MessageLog())
    chat = cast(_TCPReactor, reactor).listenTCP(chat_port, room, interface=host)
    server = HTTPServer(create_app(room), HTTPConfig(access_log=False))
    await server.listen_tcp(host, http_port)
    print(f"chat on tcp {host}:{chat.getHost().port}", flush=True)
    print(f"web on http://{host}:{server.port}/", flush=True)
    return await server.serve_until_signalled()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--chat-port", type=int, default=8023)
    parser.add_argument("--no-uvloop", action="store_true", help="use plain asyncio")
    args = parser.parse_args(argv)
    use_uvloop = False if args.no_uvloop else None
    return tx.run(serve(args.host, args.http_port, args.chat_port), use_uvloop=use_uvloop)


if __name__ == "__main__":
    sys.exit(main())
