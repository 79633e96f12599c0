"""The demo app that ``make demo`` serves; it grows with every feature."""

from __future__ import annotations

import platform

from typhoon import HTML, App, Request, __version__

app = App()

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>typhoon demo</title></head>
<body>
  <h1>typhoon {version}</h1>
  <p>A Python web framework and asynchronous networking engine.</p>
  <ul>
    <li><a href="/api/info">/api/info</a> &mdash; a JSON endpoint</li>
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
