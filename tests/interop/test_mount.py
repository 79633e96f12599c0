"""A typhoon App mounting a Flask app at /flask and a FastAPI app at /fastapi."""

from __future__ import annotations

import httpx
from tests.interop import fastapi_app, flask_app
from tests.interop.servers import serving
from websockets.asyncio.client import connect

from typhoon import App, Request
from typhoon.http.asgi import ASGIHost
from typhoon.http.wsgi import WSGIHost


def _site() -> App:
    app = App()
    app.mount("/flask", WSGIHost(flask_app.app, threads=2))
    app.mount("/fastapi", ASGIHost(fastapi_app.app))

    @app.get("/")
    async def home(request: Request) -> str:
        return "typhoon home"

    return app


async def test_mounted_apps_see_their_prefix_in_links_and_paths() -> None:
    fastapi_app.EVENTS.clear()
    async with serving(_site()) as server:
        assert fastapi_app.EVENTS == ["startup"]  # the mounted app's lifespan follows the App's
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            assert (await client.get("/")).text == "typhoon home"

            index = await client.get("/flask/")
            assert index.text == '<a href="/flask/hello/world">hello</a>'
            assert (await client.get("/flask/hello/world")).text == "Hello, world!"
            where = (await client.get("/flask/where", params={"q": "1"})).json()
            assert where == {
                "script_name": "/flask",
                "path_info": "/where",
                "url": "/flask/where",
                "query": "1",
            }
            form = await client.post("/flask/form", data={"name": "Bo", "age": "7"})
            assert form.text == "Bo is 7"

            assert (await client.get("/fastapi/items/3?q=x")).json() == {"item_id": 3, "q": "x"}
            where = (await client.get("/fastapi/where")).json()
            assert where["root_path"] == "/fastapi"
            assert where["path"] == "/fastapi/where"
            assert where["url_for"] == f"http://127.0.0.1:{server.port}/fastapi/where"
            assert (await client.get("/fastapi/state")).json() == {
                "greeting": "hello from lifespan"
            }
            assert (await client.get("/elsewhere")).status_code == 404

        async with connect(f"ws://127.0.0.1:{server.port}/fastapi/ws") as ws:
            await ws.send("mounted")
            assert await ws.recv() == "echo: mounted"
    assert fastapi_app.EVENTS == ["startup", "shutdown"]
