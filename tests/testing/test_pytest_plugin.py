"""The pytest plugin: ``client`` and ``async_client`` fixtures built from an ``app`` fixture."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = --import-mode=importlib -p no:cacheprovider
"""

_APP = """
import pytest
from typhoon import App, Request, Text

EVENTS = []


def make_app():
    app = App()

    @app.on_startup
    async def started():
        EVENTS.append("startup")

    @app.on_shutdown
    async def stopped():
        EVENTS.append("shutdown")

    @app.get("/")
    async def home(request: Request):
        return Text("home")

    @app.get("/cookie")
    async def cookie(request: Request):
        response = Text("set")
        response.set_cookie("seen", "yes")
        return response

    return app
"""


def _run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makeini(_INI)
    pytester.makepyfile(test_app=source)
    # The plugin loads through its pytest11 entry point, as in a user's project.
    # hypothesis is not needed inside, and re-importing it costs a second per run.
    return pytester.runpytest("-p", "no:hypothesispytest", "-q")


def test_plugin_client_fixtures_serve_the_app_fixture(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        _APP
        + """

@pytest.fixture
def app():
    return make_app()


def test_sync(client):
    assert EVENTS[-1] == "startup"
    assert client.get("/").text == "home"
    client.get("/cookie")
    assert client.cookies["seen"] == "yes"


async def test_async(async_client):
    response = await async_client.get("/")
    assert (response.status_code, response.text) == (200, "home")


def test_shutdown_ran_after_each_test():
    assert EVENTS == ["startup", "shutdown", "startup", "shutdown"]


def test_each_test_gets_a_fresh_cookie_jar(client):
    assert dict(client.cookies) == {}
""",
    )
    result.assert_outcomes(passed=4)


def test_plugin_without_app_fixture_fails_with_a_clear_message(
    pytester: pytest.Pytester,
) -> None:
    result = _run(
        pytester,
        """
def test_sync(client):
    pass


async def test_async(async_client):
    pass
""",
    )
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*the typhoon 'client' fixture needs an 'app' fixture*",
            "*the typhoon 'async_client' fixture needs an 'app' fixture*",
        ]
    )


def test_plugin_app_fixture_of_the_wrong_type_fails_clearly(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
import pytest


@pytest.fixture
def app():
    return "not an app"


def test_sync(client):
    pass
""",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the 'app' fixture must return a typhoon App*'not an app'*"])


def test_plugin_user_fixture_of_the_same_name_wins(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        _APP
        + """

@pytest.fixture
def app():
    return make_app()


@pytest.fixture
def client():
    return "mine"


def test_own_client(client):
    assert client == "mine"
""",
    )
    result.assert_outcomes(passed=1)


def test_plugin_app_fixture_missing_its_own_dependency_is_reported_as_such(
    pytester: pytest.Pytester,
) -> None:
    result = _run(
        pytester,
        """
import pytest


@pytest.fixture
def app(database):
    return None


def test_sync(client):
    pass
""",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'database' not found*"])
    result.stdout.no_fnmatch_line("*needs an 'app' fixture*")
