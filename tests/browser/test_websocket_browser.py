"""A real browser's WebSocket against typhoon: handshake, compression, echo, Origin."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from playwright.async_api import Browser

from typhoon import HTML, App, Request, WebSocket

Serve = Callable[[App], AbstractAsyncContextManager[str]]  # the ``serve`` fixture

PAGE = """<!doctype html><meta charset="utf-8"><title>ws</title>
<script>
window.results = [];
function open(url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      ws.send("héllo");
      ws.send(new Uint8Array([1, 2, 255]));
      ws.send("x".repeat(100000));
    };
    ws.onmessage = (event) => {
      const data = event.data;
      window.results.push(typeof data === "string" ? data.slice(0, 20) + ":" + data.length
                                                   : Array.from(new Uint8Array(data)).join(","));
      if (window.results.length === 3) { ws.close(1000, "done"); }
    };
    ws.onclose = (event) => resolve(event.code);
  });
}
</script>"""


def echo_app() -> App:
    app = App()

    @app.get("/")
    async def page(request: Request) -> HTML:
        return HTML(PAGE)

    @app.websocket("/echo")
    async def echo(ws: WebSocket) -> None:
        async for message in ws:
            await ws.send(message)

    return app


async def test_chromium_talks_to_a_typhoon_websocket(browser: Browser, serve: Serve) -> None:
    async with serve(echo_app()) as base:
        page = await browser.new_page()
        await page.goto(base + "/")
        ws_url = base.replace("http://", "ws://") + "/echo"
        code = await page.evaluate("(url) => open(url)", ws_url)
        results = await page.evaluate("window.results")
        await page.close()
    assert code == 1000
    assert results == ["héllo:5", "1,2,255", "x" * 20 + ":100000"]


async def test_a_page_from_another_origin_is_refused(browser: Browser, serve: Serve) -> None:
    async with serve(echo_app()) as base, serve(echo_app()) as other:
        page = await browser.new_page()
        await page.goto(other + "/")  # the page's origin is the other server
        ws_url = base.replace("http://", "ws://") + "/echo"
        code = await page.evaluate("(url) => open(url)", ws_url)
        results = await page.evaluate("window.results")
        await page.close()
    assert code == 1006  # the handshake got 403: the browser reports an abnormal close
    assert results == []
