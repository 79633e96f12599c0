"""``as_application``: which interface an object speaks, for ``typhoon run --interface``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.interop import fastapi_app, flask_app

from typhoon import App
from typhoon.cli.interfaces import as_application
from typhoon.http.asgi import ASGIHost
from typhoon.http.wsgi import WSGIHost


async def raw_asgi(scope: Any, receive: Any, send: Any) -> None:
    return None


def raw_wsgi(environ: Any, start_response: Callable[..., Any]) -> list[bytes]:
    return []


class AsgiClass:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        return None


class WsgiClass:
    def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
        return []


def test_auto_detects_each_kind() -> None:
    app = App()
    assert as_application(app) is app
    asgi_apps: list[Any] = [raw_asgi, AsgiClass(), fastapi_app.app]
    wsgi_apps: list[Any] = [raw_wsgi, WsgiClass(), flask_app.app]
    for obj in asgi_apps:
        host = as_application(obj)
        assert isinstance(host, ASGIHost)
        assert host.app is obj
    for obj in wsgi_apps:
        wsgi_host = as_application(obj, threads=3)
        assert isinstance(wsgi_host, WSGIHost)
        assert wsgi_host.app is obj
        assert wsgi_host.threads == 3
    # a host is a typhoon application already
    already = ASGIHost(raw_asgi)
    assert as_application(already) is already


def test_the_interface_can_be_forced() -> None:
    assert isinstance(as_application(raw_asgi, "asgi"), ASGIHost)
    assert isinstance(as_application(raw_wsgi, "wsgi"), WSGIHost)
    assert isinstance(as_application(fastapi_app.app, "asgi"), ASGIHost)
    app = App()
    assert as_application(app, "typhoon") is app


@pytest.mark.parametrize(
    ("obj", "found"),
    [
        (lambda x: x, "a sync callable taking 1 positional parameter"),
        (lambda *args: None, "taking any number of positional parameters"),
        (AsgiClass, "the class AsgiClass (pass an instance)"),
        (42, "a int, which is not callable"),
        (lambda environ, start_response, extra: [], "a sync callable taking 3"),
    ],
)
def test_auto_refuses_what_it_cannot_tell_and_says_what_it_found(obj: Any, found: str) -> None:
    with pytest.raises(ValueError, match="cannot tell how to serve") as refused:
        as_application(obj)
    assert found in str(refused.value)


def test_bad_choices_are_value_errors() -> None:
    with pytest.raises(ValueError, match="interface must be one of"):
        as_application(raw_asgi, "rsgi")
    with pytest.raises(ValueError, match="is not a typhoon application: found an async callable"):
        as_application(raw_asgi, "typhoon")
    with pytest.raises(ValueError, match="--interface wsgi needs an application callable"):
        as_application(42, "wsgi")
