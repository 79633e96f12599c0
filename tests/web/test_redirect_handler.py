"""RedirectHandler: Tornado's redirect-only route (web/redirect.py)."""

from __future__ import annotations

import pytest

from typhoon import App, RedirectHandler
from typhoon.testing import AsyncTestClient


def _app() -> App:
    app = App(
        [
            (r"/old", RedirectHandler, {"url": "/new"}),
            (r"/pictures/(.*)", RedirectHandler, {"url": "/photos/{0}"}),
            (r"/temp", RedirectHandler, {"url": "/elsewhere", "permanent": False}),
            (r"/keep", RedirectHandler, {"url": "/kept", "status": 308}),
            (r"/search", RedirectHandler, {"url": "/find?source=old"}),
            (r"/bad", RedirectHandler, {"url": "/x/{1}"}),
        ]
    )
    app.add_route("/u/{name}", RedirectHandler, url="/users/{name}")
    return app


@pytest.mark.parametrize(
    ("path", "status", "location"),
    [
        ("/old", 301, "/new"),
        ("/temp", 302, "/elsewhere"),
        ("/keep", 308, "/kept"),
        ("/pictures/2024/cat.jpg", 301, "/photos/2024/cat.jpg"),
        ("/u/ada", 301, "/users/ada"),
        ("/old?page=2&sort=new", 301, "/new?page=2&sort=new"),
        ("/search?q=typhoon", 301, "/find?source=old&q=typhoon"),
        # Captures are percent-encoded: they cannot add a query, a fragment or a header.
        ("/pictures/a%3Fb%23c", 301, "/photos/a%3Fb%23c"),
        ("/u/%0d%0aSet-Cookie:%20x=1", 301, "/users/%0D%0ASet-Cookie:%20x=1"),
        ("/u/caf%C3%A9", 301, "/users/caf%C3%A9"),
    ],
)
async def test_redirects_fill_the_url_with_encoded_captures_and_keep_the_query(
    path: str, status: int, location: str
) -> None:
    async with AsyncTestClient(_app()) as client:
        response = await client.get(path)
    assert (response.status_code, response.headers["location"]) == (status, location)
    assert "set-cookie" not in response.headers


async def test_head_redirects_and_other_methods_are_405() -> None:
    async with AsyncTestClient(_app()) as client:
        head = await client.head("/old")
        post = await client.post("/old")
    assert (head.status_code, head.headers["location"]) == (301, "/new")
    assert post.status_code == 405


async def test_a_url_naming_a_missing_capture_is_a_logged_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with AsyncTestClient(_app(), raise_server_exceptions=False) as client:
        response = await client.get("/bad")
    assert response.status_code == 500
    assert "IndexError" in caplog.text


async def test_a_url_that_is_not_a_string_is_refused_by_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = App([(r"/x", RedirectHandler, {"url": 42})])
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        assert (await client.get("/x")).status_code == 500
    assert "RedirectHandler url must be a str, got 42" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"ulr": "/new"}, "missing a required argument: 'url'"),
        ({"url": "/new", "permanant": False}, "got an unexpected keyword argument 'permanant'"),
        ({}, "missing a required argument: 'url'"),
    ],
)
def test_route_arguments_initialize_cannot_take_stop_the_registration(
    kwargs: dict[str, object], problem: str
) -> None:
    with pytest.raises(TypeError) as caught:
        App([(r"/old", RedirectHandler, kwargs)])
    message = str(caught.value)
    assert message.startswith("route '/old': RedirectHandler.initialize() cannot take")
    assert problem in message
