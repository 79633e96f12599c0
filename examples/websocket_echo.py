"""A WebSocket echo server: every message comes back as it was sent (text or binary).

Run it with ``typhoon run examples.websocket_echo:app --port 9001``; the Autobahn
test suite (``make autobahn``) and the WebSocket benchmarks in bench/ talk to it.
Messages up to 16 MiB are accepted, as Autobahn's tests send some that large.
"""

from __future__ import annotations

from typhoon import App, WebSocket

app = App()


@app.websocket("/", max_message_size=16 * 1024 * 1024)
async def echo(ws: WebSocket) -> None:
    async for message in ws:
        await ws.send(message)
