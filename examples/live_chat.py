"""A live chat over WebSocket, with Server-Sent Events and long polling as fallbacks.

``make demo`` mounts it at ``/chat``. All three transports follow one topic of the
app's pub/sub hub, so a message sent through any of them reaches every reader::

    GET  /                  the page: WebSocket first, then SSE, then long polling
                            (``?transport=ws|sse|poll`` picks one)
    WS   /ws?cursor=N       messages as JSON text, both ways
    GET  /events            an SSE stream: data is the message's JSON, id its cursor
                            (Last-Event-ID resumes it)
    POST /a/message/new     and ``GET /a/message/updates``: from examples/chat_longpoll.py
"""

from __future__ import annotations

from typing import Any

import msgspec

from examples.chat_longpoll import TOPIC, check_message, message_view, render_history
from examples.chat_longpoll import create_app as create_longpoll_app
from typhoon import HTML, App, HTTPError, Request, WebSocketHandler
from typhoon.realtime import EventStream


class ChatSocket(WebSocketHandler):
    """Sends the topic's messages to the browser; publishes what it says."""

    async def open(self) -> None:
        cursor = self.get_argument("cursor")
        after = int(cursor) if cursor and cursor.isdigit() else None
        await self.subscribe(TOPIC, after=after)

    async def on_pubsub_message(self, message: Any) -> None:
        await self.write_message(message_view(message))

    async def on_message(self, message: str | bytes) -> None:
        try:
            data = check_message(msgspec.json.decode(message))
        except (msgspec.DecodeError, HTTPError) as exc:
            reason = getattr(exc, "reason", None) or "the message must be JSON"
            await self.write_message({"error": reason})
            return
        await self.publish(TOPIC, data)


PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>typhoon live chat</title>
<style>
  body {{ font-family: sans-serif; max-width: 40em; margin: 2em auto; }}
  #inbox p {{ margin: .2em 0; }} #inbox b {{ margin-right: .5em; }}
  #transport {{ color: #666; }}
</style></head>
<body>
  <h1>Live chat <small id="transport">connecting…</small></h1>
  <div id="inbox">{history}</div>
  <form id="form">
    <input id="nick" placeholder="nick" value="guest" size="10">
    <input id="body" placeholder="message" autocomplete="off" size="50" autofocus>
    <button>Send</button>
  </form>
  <script>
  const prefix = "{prefix}";
  let cursor = {cursor};
  let socket = null;
  const inbox = document.getElementById("inbox");
  const label = document.getElementById("transport");
  const wanted = new URLSearchParams(location.search).get("transport");

  function show(message) {{
    if (message.error) {{ label.textContent = message.error; return; }}
    if (message.id <= cursor || document.getElementById("m" + message.id)) return;
    cursor = message.id;
    const line = document.createElement("p");
    const nick = document.createElement("b");
    nick.textContent = message.nick;
    line.append(nick, message.body);
    line.id = "m" + message.id;
    inbox.append(line);
  }}

  function useWebSocket(fallback) {{
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + prefix + "/ws?cursor=" + cursor);
    let opened = false;
    ws.onopen = () => {{ opened = true; socket = ws; label.textContent = "WebSocket"; }};
    ws.onmessage = (event) => show(JSON.parse(event.data));
    ws.onclose = () => {{
      socket = null;
      if (opened) setTimeout(() => useWebSocket(fallback), 1000); else fallback();
    }};
  }}

  function useEventSource(fallback) {{
    if (!window.EventSource) return fallback();
    const source = new EventSource(prefix + "/events");
    source.onopen = () => {{ label.textContent = "Server-Sent Events"; }};
    source.onmessage = (event) => {{
      show({{id: Number(event.lastEventId), ...JSON.parse(event.data)}});
    }};
    source.onerror = () => {{ if (source.readyState === EventSource.CLOSED) fallback(); }};
  }}

  async function useLongPolling() {{
    label.textContent = "long polling";
    while (true) {{
      try {{
        const response = await fetch(prefix + "/a/message/updates?cursor=" + cursor);
        if (!response.ok) throw new Error(response.status);
        (await response.json()).messages.forEach(show);
      }} catch (error) {{
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }}
    }}
  }}

  document.getElementById("form").addEventListener("submit", async (event) => {{
    event.preventDefault();
    const body = document.getElementById("body");
    const message = {{nick: document.getElementById("nick").value, body: body.value}};
    body.value = "";
    if (socket) {{ socket.send(JSON.stringify(message)); return; }}
    await fetch(prefix + "/a/message/new", {{
      method: "POST", headers: {{"content-type": "application/json"}},
      body: JSON.stringify(message),
    }});
  }});

  if (wanted === "poll") useLongPolling();
  else if (wanted === "sse") useEventSource(useLongPolling);
  else useWebSocket(() => useEventSource(useLongPolling));
  </script>
</body>
</html>
"""


def create_app(**settings: Any) -> App:
    """The chat as an App (``settings`` go to it, e.g. ``pubsub="redis://…"``)."""
    app = create_longpoll_app(page=False, **settings)
    app.add_route("/ws", ChatSocket)

    @app.get("/")
    async def page(request: Request) -> HTML:
        history = await request.app.pubsub.history(TOPIC)
        cursor = history[-1].id if history else 0
        return HTML(
            PAGE.format(history=render_history(history), cursor=cursor, prefix=request.root_path)
        )

    @app.get("/events")
    async def events(request: Request) -> EventStream:
        # Each event's data is the message's JSON and its id the hub's cursor, so a
        # browser that reconnects sends Last-Event-ID and misses nothing.
        return EventStream(request.app.pubsub.subscribe(TOPIC))

    return app


app = create_app()
