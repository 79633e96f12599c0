"""The smallest typhoon app: ``typhoon run examples.hello:app``."""

from __future__ import annotations

from typhoon import App, Request

app = App()


@app.get("/")
async def hello(request: Request) -> str:
    return "Hello, world!"


@app.get("/json")
async def hello_json(request: Request) -> dict[str, str]:
    return {"message": "Hello, world!"}
