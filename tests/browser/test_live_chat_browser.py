"""The demo's live chat in headless Chromium: WebSocket, EventSource and long polling
pages on one hub see each other's messages."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from examples.live_chat import create_app
from playwright.async_api import Browser, Page, expect

from typhoon import App

Serve = Callable[[App], AbstractAsyncContextManager[str]]  # the ``serve`` fixture


async def say(page: Page, nick: str, text: str) -> None:
    await page.fill("#nick", nick)
    await page.fill("#body", text)
    await page.press("#body", "Enter")


async def test_messages_cross_websocket_sse_and_long_polling(
    browser: Browser, serve: Serve
) -> None:
    async with serve(create_app()) as base:
        pages = {}
        for transport, label in (
            ("ws", "WebSocket"),
            ("sse", "Server-Sent Events"),
            ("poll", "long polling"),
        ):
            page = await browser.new_page()
            await page.goto(f"{base}/?transport={transport}")
            await expect(page.locator("#transport")).to_have_text(label)
            pages[transport] = page
        await say(pages["ws"], "ada", "from the socket")
        await say(pages["sse"], "bob", "from the event stream")
        await say(pages["poll"], "eve", "from the poller")
        for page in pages.values():
            inbox = page.locator("#inbox p")
            await expect(inbox).to_have_count(3)
            await expect(inbox).to_contain_text(
                ["adafrom the socket", "bobfrom the event stream", "evefrom the poller"]
            )
        for page in pages.values():
            await page.close()


async def test_the_demo_serves_the_chat_under_its_prefix(browser: Browser, serve: Serve) -> None:
    from examples.demo import app

    async with serve(app) as base:
        home = await browser.new_page()
        await home.goto(base + "/")
        await home.click("text=/chat/")
        await expect(home.locator("#transport")).to_have_text("WebSocket")
        other = await browser.new_page()
        await other.goto(base + "/chat/?transport=sse")
        await expect(other.locator("#transport")).to_have_text("Server-Sent Events")
        await say(other, "ada", "through the demo")
        await expect(home.locator("#inbox p")).to_contain_text(["adathrough the demo"])
        await home.close()
        await other.close()
