"""Headless Chromium (the system's ``chromium``) driven by Playwright, and live servers.

Browsers are never downloaded: Playwright launches ``/usr/bin/chromium`` (or
``$TYPHOON_CHROMIUM``). Without it the browser tests are skipped, except under
``CI=true``, where they fail: CI must run them (``.ci/run`` installs chromium).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from playwright.async_api import Browser, async_playwright

from typhoon import App, HTTPConfig
from typhoon.http import HTTPServer


def chromium_path() -> str | None:
    path = os.environ.get("TYPHOON_CHROMIUM") or shutil.which("chromium")
    return path if path and os.access(path, os.X_OK) else None


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI must run the browser tests")
        pytest.skip(message)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            await launched.close()


Serve = Callable[[App], AbstractAsyncContextManager[str]]


@pytest.fixture
def serve() -> Serve:
    """``async with serve(app) as base_url``: the app on 127.0.0.1, drained afterwards."""

    @asynccontextmanager
    async def serving(app: App) -> AsyncIterator[str]:
        server = HTTPServer(app, HTTPConfig(access_log=False, graceful_timeout_s=5))
        await server.listen_tcp("127.0.0.1", 0)
        try:
            yield f"http://127.0.0.1:{server.port}"
        finally:
            await server.drain(5)

    return serving
