"""A TCP line chat that shares its room with the browser chat of examples/live_chat.py.

``typhoon run examples.line_chat:app`` serves the web chat on port 8000 and, beside
it on the same loop and lifecycle, a line chat on TCP port 9000
(``app.serve_also``)::

    $ nc 127.0.0.1 9000
    typhoon chat: your nick?
    ada
    hello, ada. Lines you type go to everyone, on TCP and in browsers.
    hello from a terminal
    ada: hello from a terminal
    bob: hi ada (this one came from a browser over WebSocket)

Both sides publish to, and follow, one topic of the app's pub/sub hub, so a line
typed here reaches every WebSocket, SSE and long-polling reader, and back. With
``App(pubsub="redis://…")`` that holds across processes too. When the server
drains, each TCP client is told and disconnected.
"""

from __future__ import annotations

import asyncio
from typing import Any

from examples.chat_longpoll import MAX_NICK, TOPIC, check_message
from examples.live_chat import create_app as create_web_chat
from typhoon import App, HTTPError
from typhoon.net import LineReceiver
from typhoon.realtime import SlowConsumer

TCP_ENDPOINT = "tcp:9000:interface=127.0.0.1"
MAX_PENDING = 100  # lines read but not yet published, before reading pauses


class LineChat(LineReceiver):
    """One TCP client: the first line is its nick, every later line a message."""

    delimiter = b"\n"
    max_line_length = 4096

    def __init__(self, app: App) -> None:
        super().__init__()
        self.app = app
        self.nick: str | None = None
        self._outbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._reading_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.say("typhoon chat: your nick?")

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        for task in self._tasks:
            task.cancel()

    def line_received(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").strip()
        if self.nick is None:
            self._choose_nick(text)
            return
        try:
            message = check_message({"nick": self.nick, "body": text})
        except HTTPError as exc:
            self.say(f"error: {exc.reason}")
            return
        self._outbox.put_nowait(message)
        if self._outbox.qsize() >= MAX_PENDING and self.transport is not None:
            self.transport.pause_reading()  # the hub is slower than this client types
            self._reading_paused = True

    def shutdown(self) -> None:
        """The server drains: say so, then close once the goodbye is written."""
        self.say("the server is shutting down; bye")
        super().shutdown()

    def say(self, text: str) -> None:
        self.send_line(text.encode("utf-8"))

    def _choose_nick(self, text: str) -> None:
        if not text or len(text) > MAX_NICK:
            self.say(f"a nick is 1 to {MAX_NICK} characters; your nick?")
            return
        self.nick = text
        self.say(f"hello, {text}. Lines you type go to everyone, on TCP and in browsers.")
        self._tasks = [
            asyncio.ensure_future(self._follow()),
            asyncio.ensure_future(self._publish()),
        ]

    async def _publish(self) -> None:
        """Publish this client's lines in the order typed."""
        while True:
            message = await self._outbox.get()
            await self.app.pubsub.publish(TOPIC, message)
            if self._reading_paused and self._outbox.qsize() < MAX_PENDING // 2:
                self._reading_paused = False
                if self.transport is not None:
                    self.transport.resume_reading()

    async def _follow(self) -> None:
        """Relay the room to this client, waiting while its socket is full."""
        try:
            async for message in self.app.pubsub.subscribe(TOPIC):
                self.say(f"{message.data['nick']}: {message.data['body']}")
                await self.drain()
        except SlowConsumer:  # it stopped reading while the room kept talking
            self.abort()
        except ConnectionError:
            pass


def create_app(tcp: str = TCP_ENDPOINT, **settings: Any) -> App:
    """The web chat plus the TCP line chat on ``tcp`` (``settings`` go to the App)."""
    app = create_web_chat(**settings)
    app.serve_also(tcp, LineChat, app=app)
    return app


app = create_app()
