"""pytest fixtures for typhoon apps: ``client`` and ``async_client``.

Both are built from an ``app`` fixture that the project defines (in ``conftest.py``
or the test module), and run the app's startup and shutdown around each test.

Example::

    # conftest.py
    import pytest
    from myproject import create_app

    @pytest.fixture
    def app():
        return create_app()

    # test_home.py
    def test_home(client):
        assert client.get("/").status_code == 200

    async def test_home_async(async_client):
        assert (await async_client.get("/")).status_code == 200

Installing typhoon registers the plugin (the ``pytest11`` entry point); without it,
load it with ``-p typhoon.testing.pytest_plugin`` or
``pytest_plugins = ["typhoon.testing.pytest_plugin"]`` in the root ``conftest.py``.
``async_client`` needs pytest-asyncio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from typhoon.http.app_api import Application
from typhoon.testing.client import AsyncTestClient, TestClient

_NO_APP = (
    "the typhoon {fixture!r} fixture needs an 'app' fixture returning your application; "
    "define one in conftest.py:\n\n"
    "    @pytest.fixture\n"
    "    def app():\n"
    "        return create_app()\n"
)


def _app(request: pytest.FixtureRequest, fixture: str) -> Application:
    """The value of the project's ``app`` fixture, or a clear failure."""
    missing = False
    try:
        app = request.getfixturevalue("app")
    except pytest.FixtureLookupError as exc:
        if exc.argname != "app":
            raise  # the app fixture exists but needs a fixture that does not
        missing = True  # failed outside this block, so no "during handling" noise
    if missing:
        pytest.fail(_NO_APP.format(fixture=fixture), pytrace=False)
    if not callable(getattr(app, "handle", None)):
        pytest.fail(
            f"the 'app' fixture must return a typhoon App (or an object with an async "
            f"handle(exchange) method), got {app!r}",
            pytrace=False,
        )
    result: Application = app
    return result


@pytest.fixture
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A :class:`~typhoon.testing.TestClient` for the ``app`` fixture, started and stopped."""
    with TestClient(_app(request, "client")) as test_client:
        yield test_client


async def _async_client(request: pytest.FixtureRequest) -> AsyncIterator[AsyncTestClient]:
    """An :class:`~typhoon.testing.AsyncTestClient` for the ``app`` fixture, started and
    stopped."""
    async with AsyncTestClient(_app(request, "async_client")) as test_client:
        yield test_client


def _async_fixture() -> Callable[..., Any]:
    try:
        import pytest_asyncio
    except ImportError:

        @pytest.fixture(name="async_client")
        def missing(request: pytest.FixtureRequest) -> None:
            pytest.fail(
                "the typhoon 'async_client' fixture needs pytest-asyncio: "
                "pip install pytest-asyncio",
                pytrace=False,
            )

        return missing
    return pytest_asyncio.fixture(_async_client, name="async_client")


async_client = _async_fixture()
