"""typhoon function views for the benchmark scenarios."""

from __future__ import annotations

from typhoon import JSON, App, Request, Text

app = App()


@app.get("/plaintext")
async def plaintext(request: Request) -> Text:
    return Text("Hello, World!")


@app.get("/json")
async def json(request: Request) -> JSON:
    return JSON({"message": "Hello, World!"})
