"""The demo app that ``make demo`` serves; it grows with every feature.

- ``/``: this page;
- ``/api/info``: a JSON endpoint (a Flask-style function view);
- ``/tornado``: ``examples/tornado_hello.py``'s handler, a Tornado handler ported by imports;
- ``/rest/items``: ``examples/rest_app.py``, a Flask-style REST API, mounted as a sub-app;
- ``/chat/``: ``examples/live_chat.py``, a live chat over WebSocket, with Server-Sent
  Events and long polling as fallbacks, all fed by one pub/sub hub (mounted too).
"""

from __future__ import annotations

import platform

from examples.live_chat import create_app as create_chat_app
from examples.rest_app import create_app as create_rest_app
from examples.tornado_hello import MainHandler
from typhoon import HTML, App, Request, __version__
from typhoon.web.middleware import GZip, SecurityHeaders

app = App(middleware=[SecurityHeaders(), GZip()])
app.add_route("/tornado", MainHandler)
app.mount("/rest", create_rest_app())
app.mount("/chat", create_chat_app())

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>typhoon demo</title></head>
<body>
  <h1>typhoon {version}</h1>
  <p>A Python web framework and asynchronous networking engine.</p>
  <ul>
    <li><a href="/api/info">/api/info</a> &mdash; a JSON endpoint (a function view)</li>
    <li><a href="/tornado">/tornado</a> &mdash; a Tornado-style <code>RequestHandler</code></li>
    <li><a href="/rest/items">/rest/items</a> &mdash; a Flask-style REST API mounted at
      <code>/rest</code>; try <code>curl -X POST -d '{{"name": "tea", "price": 3}}'
      http://127.0.0.1:8000/rest/items</code></li>
    <li><a href="/chat/">/chat/</a> &mdash; a live chat: WebSocket, with Server-Sent Events
      and long polling as fallbacks (<a href="/chat/?transport=sse">SSE</a>,
      <a href="/chat/?transport=poll">long polling</a>), on one pub/sub hub; open it in two
      windows</li>
  </ul>
</body>
</html>
"""


@app.get("/")
async def home(request: Request) -> HTML:
    return HTML(PAGE.format(version=__version__))


@app.get("/api/info")
async def info(request: Request) -> dict[str, str]:
    return {"name": "typhoon", "version": __version__, "python": platform.python_version()}
