"""A long-polling chat: ``typhoon run examples.chat_longpoll:app`` and open two browsers.

It behaves like the classic long-polling chat: the page shows the recent messages,
sends new ones with a POST, and keeps one request open that returns as soon as
someone writes (or after 30 s with nothing, and then asks again). Messages live in
the app's pub/sub hub, whose replay buffer is the chat's history and whose message
ids are the cursors the browser sends back. With ``App(pubsub="redis://…")`` every
server process shares one chat.

Routes::

    GET  /                    the page
    POST /a/message/new       {"nick": str, "body": str} (JSON) -> the message
    GET  /a/message/updates   ?cursor=N -> {"messages": [...], "cursor": N}

POST bodies must be JSON: a cross-site HTML form cannot send JSON without a CORS
preflight, so no CSRF token is needed.
"""

from __future__ import annotations

import html
from typing import Any

from typhoon import HTML, JSON, App, HTTPError, Request

TOPIC = "chat"
MAX_BODY = 1000  # characters in one message
MAX_NICK = 40
POLL_TIMEOUT_S = 30.0


def message_view(message: Any) -> dict[str, Any]:
    """The JSON a browser gets for one hub message."""
    return {"id": message.id, **message.data}


def check_message(data: Any) -> dict[str, str]:
    """A posted chat message, validated: ``{"nick": …, "body": …}``.

    Raises:
        HTTPError: 400 naming the field that is missing, empty or too long.
    """
    if not isinstance(data, dict):
        raise HTTPError(400, "the body must be a JSON object")
    checked: dict[str, str] = {}
    for field, limit in (("nick", MAX_NICK), ("body", MAX_BODY)):
        value = data.get(field)
        if not isinstance(value, str) or not value.strip():
            raise HTTPError(400, f"{field} must be a non-empty string")
        if len(value) > limit:
            raise HTTPError(400, f"{field} is longer than {limit} characters")
        checked[field] = value.strip()
    return checked


def parse_cursor(request: Request) -> int | None:
    """The ``cursor`` query argument: None when absent.

    Raises:
        HTTPError: 400 when it is not a non-negative integer.
    """
    raw = request.query.get("cursor")
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise HTTPError(400, f"cursor must be a non-negative integer, got {raw!r}")
    return int(raw)


PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>typhoon long-polling chat</title>
<style>
  body {{ font-family: sans-serif; max-width: 40em; margin: 2em auto; }}
  #inbox p {{ margin: .2em 0; }} #inbox b {{ margin-right: .5em; }}
</style></head>
<body>
  <h1>Chat</h1>
  <div id="inbox">{history}</div>
  <form id="form">
    <input id="nick" placeholder="nick" value="guest" size="10">
    <input id="body" placeholder="message" autocomplete="off" size="50" autofocus>
    <button>Send</button>
  </form>
  <script>
  let cursor = {cursor};
  const inbox = document.getElementById("inbox");
  function show(message) {{
    const line = document.createElement("p");
    const nick = document.createElement("b");
    nick.textContent = message.nick;
    line.append(nick, message.body);
    line.id = "m" + message.id;
    inbox.append(line);
  }}
  async function poll() {{
    while (true) {{
      try {{
        const response = await fetch("{prefix}/a/message/updates?cursor=" + cursor);
        if (!response.ok) throw new Error(response.status);
        const update = await response.json();
        update.messages.forEach(show);
        cursor = update.cursor;
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
    await fetch("{prefix}/a/message/new", {{
      method: "POST", headers: {{"content-type": "application/json"}},
      body: JSON.stringify(message),
    }});
  }});
  poll();
  </script>
</body>
</html>
"""


def render_history(messages: list[Any]) -> str:
    return "".join(
        f'<p id="m{m.id}"><b>{html.escape(m.data["nick"])}</b>{html.escape(m.data["body"])}</p>'
        for m in messages
    )


def create_app(*, page: bool = True, **settings: Any) -> App:
    """The chat as an App; ``settings`` go to it (``pubsub="redis://…"``, say).

    ``page=False`` leaves ``/`` free for another page (examples/live_chat.py).
    """
    app = App(**settings)

    async def chat_page(request: Request) -> HTML:
        history = await request.app.pubsub.history(TOPIC)
        cursor = history[-1].id if history else 0
        return HTML(
            PAGE.format(history=render_history(history), cursor=cursor, prefix=request.root_path)
        )

    if page:
        app.add_route("/", chat_page, ["GET"])

    @app.post("/a/message/new")
    async def new_message(request: Request) -> JSON:
        data = check_message(await request.json())
        message = await request.app.pubsub.publish(TOPIC, data)
        return JSON(message_view(message))

    @app.get("/a/message/updates")
    async def updates(request: Request) -> dict[str, Any]:
        # The hub waits for the next message. If the browser goes away meanwhile (it
        # closes its connection: long_lived() takes that EOF as a disconnect), the
        # request is cancelled and the wait with it.
        request.long_lived()
        messages, cursor = await request.app.pubsub.wait(
            TOPIC, after=parse_cursor(request), timeout=POLL_TIMEOUT_S
        )
        return {"messages": [message_view(m) for m in messages], "cursor": cursor}

    return app


app = create_app()
