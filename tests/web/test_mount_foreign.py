"""App.mount with an application that is not a typhoon App (the ASGI and WSGI hosts)."""

from __future__ import annotations

import pytest

from typhoon import App
from typhoon.http.exchange import Exchange
from typhoon.testing import AsyncTestClient


class Foreign:
    """A minimal Mountable: answers with the path it saw and its root path."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def handle_mounted(self, exchange: Exchange, root_path: str) -> None:
        body = f"{exchange.path.decode()} under {root_path}".encode()
        exchange.respond(203, [(b"content-type", b"text/plain")], body)

    async def startup(self) -> None:
        self.events.append("startup")

    async def shutdown(self) -> None:
        self.events.append("shutdown")

    def draining(self) -> None:
        self.events.append("draining")


async def test_a_foreign_app_answers_under_its_prefix_with_middleware_around_it() -> None:
    foreign = Foreign()
    app, outer = App(), App()
    app.mount("/legacy", foreign)
    outer.mount("/v1", app)
    seen: list[int] = []

    @outer.after_request
    def record(request: object, response: object) -> None:
        seen.append(response.status)  # type: ignore[attr-defined]

    @app.get("/native")
    async def native(request: object) -> str:
        return "native"

    async with AsyncTestClient(outer) as client:
        response = await client.get("/v1/legacy/items?x=1")
        assert response.status_code == 203
        assert response.text == "/v1/legacy/items under /v1/legacy"
        assert (await client.get("/v1/native")).text == "native"
        assert (await client.get("/v1/legacyx")).status_code == 404
    assert seen == [203, 200, 404]
    assert foreign.events == ["startup", "shutdown"]


def test_mount_refuses_what_cannot_be_mounted() -> None:
    with pytest.raises(TypeError, match="mountable application"):
        App().mount("/x", object())  # type: ignore[arg-type]
