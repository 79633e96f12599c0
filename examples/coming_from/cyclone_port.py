"""A small Cyclone app, ported: see docs/coming-from-cyclone.md.

``typhoon run examples.coming_from.cyclone_port:app``, then::

    GET  /          a page that follows /events with EventSource
    POST /publish   {"text": str} (or a ``text`` form field): publish on the "news" topic
    GET  /events    Server-Sent Events: every "news" message; resumes with Last-Event-ID
    POST /rpc       JSON-RPC 2.0: ``add(a, b)``, ``publish(text)``

With ``App(pubsub="redis://127.0.0.1:6379/0")`` (``create_app(pubsub=...)``) every
process publishing or streaming shares the topic: Cyclone's ``cyclone.redis``
subscriber, wired for you.

typhoon has no JSON-RPC handler yet: ``JsonRpcHandler`` below is a stand-in, small
enough to copy, for ``cyclone.jsonrpc.JsonrpcRequestHandler``.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from typhoon import App, HTTPError, RequestHandler
from typhoon.realtime import SSEHandler, Subscription

TOPIC = "news"
logger = logging.getLogger(__name__)

PAGE = """<!DOCTYPE html><title>news</title><ul id="news"></ul>
<script>
new EventSource("/events").onmessage = (e) => {
  const li = document.createElement("li");
  li.textContent = JSON.parse(e.data).text;
  document.getElementById("news").append(li);
};
</script>"""


class IndexHandler(RequestHandler):
    def get(self) -> None:
        self.write(PAGE)


class PublishHandler(RequestHandler):
    async def post(self) -> None:  # was: @defer.inlineCallbacks, yield redis.publish(...)
        if self.request.content_type == "application/json":
            data = await self.request.json()
            text = data.get("text") if isinstance(data, dict) else None
        else:
            text = self.get_body_argument("text", None)
        if not isinstance(text, str) or not text.strip():
            self.set_status(400)
            self.finish({"error": "text must be a non-empty string"})
            return
        message = await self.app.pubsub.publish(TOPIC, {"text": text.strip()})
        self.write({"id": message.id})


class NewsStream(SSEHandler):
    """Was ``cyclone.sse.SSEHandler`` with ``bind()``/``unbind()`` and ``sendEvent``."""

    heartbeat = 15.0
    subscription: Subscription | None = None

    async def open(self) -> None:  # was: bind()
        self.subscription = self.app.pubsub.subscribe(TOPIC)
        if self.last_event_id is not None:  # the browser reconnected: replay what it missed
            self.subscription.resume_from(self.last_event_id)
        async for message in self.subscription:
            await self.send_event(message.data, id=self.subscription.cursor)  # sendEvent
        self.close()  # the hub drained (shutdown): end the response

    def on_close(self) -> None:  # was: unbind()
        if self.subscription is not None:
            self.subscription.close()


class JsonRpcHandler(RequestHandler):
    """A minimal JSON-RPC 2.0 endpoint: define ``jsonrpc_<method>`` (plain or async).

    Handles one call per request (no batches, no notifications): parse errors are
    -32700, a malformed call -32600, an unknown method -32601, arguments that do not
    fit -32602, and an exception in the method -32603 (logged, never shown).
    """

    async def post(self) -> None:
        try:
            call = await self.request.json()
        except HTTPError:  # malformed JSON
            self.finish(_rpc_error(None, -32700, "parse error"))
            return
        call_id = call.get("id") if isinstance(call, dict) else None
        name = call.get("method") if isinstance(call, dict) else None
        params = call.get("params", []) if isinstance(call, dict) else None
        if not isinstance(name, str) or not isinstance(params, list | dict):
            self.finish(_rpc_error(call_id, -32600, "invalid request"))
            return
        method = getattr(self, f"jsonrpc_{name}", None)
        if method is None:
            self.finish(_rpc_error(call_id, -32601, f"method not found: {name}"))
            return
        args, kwargs = (params, {}) if isinstance(params, list) else ([], params)
        try:
            inspect.signature(method).bind(*args, **kwargs)
        except TypeError as exc:
            self.finish(_rpc_error(call_id, -32602, f"invalid params: {exc}"))
            return
        try:
            result = method(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        except Exception:
            logger.exception("JSON-RPC method %s failed", name)
            self.finish(_rpc_error(call_id, -32603, "internal error"))
            return
        self.finish({"jsonrpc": "2.0", "id": call_id, "result": result})


def _rpc_error(call_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": call_id, "error": {"code": code, "message": message}}


class NewsRpc(JsonRpcHandler):
    def jsonrpc_add(self, a: float, b: float) -> float:
        return a + b

    async def jsonrpc_publish(self, text: str) -> int:
        message = await self.app.pubsub.publish(TOPIC, {"text": text})
        return int(message.id)


def create_app(pubsub: Any = None) -> App:
    """``pubsub``: None (in memory), a ``redis://`` URL, or a hub object."""
    return App(
        [
            (r"/", IndexHandler),
            (r"/publish", PublishHandler),
            (r"/events", NewsStream),
            (r"/rpc", NewsRpc),
        ],
        pubsub=pubsub,
    )


app = create_app()

if __name__ == "__main__":
    app.run(port=8888)
