"""A small Tornado app, ported by changing imports: see docs/coming-from-tornado.md.

``python -m examples.coming_from.tornado_port`` (or ``typhoon run
examples.coming_from.tornado_port:app --port 8888``), then::

    GET  /                    the message board (a template), newest first
    POST /post                add a message (logged-in users; XSRF-checked form)
    GET  /login, POST /login  pick a name: a signed cookie
    GET  /api/messages        the messages as JSON (?limit=N)
    WS   /ws                  every new message, as JSON, to every socket

Only the imports, ``Application`` → ``App``, the template loader and ``main()`` changed
from the Tornado original; the handlers are Tornado's API.
"""

from __future__ import annotations

from typing import Any

import jinja2

from typhoon import App, HTTPError, RequestHandler, Templates, WebSocketHandler, authenticated

TEMPLATES = {
    "board.html": (
        "<h1>Board</h1>{% if current_user %}<p>hello, {{ current_user }}</p>"
        '<form method="post" action="{{ reverse_url("post") }}">{{ xsrf_form_html() }}'
        '<input name="text"><button>post</button></form>{% endif %}'
        "<ul>{% for m in messages %}<li>{{ m.author }}: {{ m.text }}</li>{% endfor %}</ul>"
    ),
    "login.html": (
        '<form method="post">{{ xsrf_form_html() }}<input name="name">'
        "<button>log in</button></form>"
    ),
}


def jinja2_templates(templates: dict[str, str]) -> Templates:
    """Tornado's ``template_path``, with the templates kept in this file (a DictLoader)."""
    loader = jinja2.DictLoader(templates)
    return Templates(environment=jinja2.Environment(loader=loader, autoescape=True))


class MessageStore:
    """What the handlers share; passed to ``initialize()`` from the URL list."""

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        self.sockets: set[BroadcastSocket] = set()
        self.ticks = 0

    def add(self, author: str, text: str) -> dict[str, str]:
        message = {"author": author, "text": text}
        self.messages.append(message)
        for socket in list(self.sockets):
            socket.write_message(message)
        return message


class BaseHandler(RequestHandler):
    def initialize(self, store: MessageStore) -> None:
        self.store = store

    def get_current_user(self) -> str | None:
        user = self.get_signed_cookie("user")
        return user.decode() if user else None


class BoardHandler(BaseHandler):
    def get(self) -> None:
        self.render("board.html", messages=list(reversed(self.store.messages)))


class PostHandler(BaseHandler):
    @authenticated
    async def post(self) -> None:  # async: it touches the sockets, which live on the loop
        text = self.get_argument("text")  # missing: 400 "Missing argument text"
        self.store.add(self.current_user, text)
        self.redirect(self.reverse_url("board"))


class LoginHandler(BaseHandler):
    def get(self) -> None:
        self.render("login.html")

    def post(self) -> None:
        self.set_signed_cookie("user", self.get_argument("name"))
        self.redirect(self.get_argument("next", self.reverse_url("board")))


class MessagesAPI(BaseHandler):
    async def get(self) -> None:
        try:
            limit = int(self.get_argument("limit", "20"))
        except ValueError:
            raise HTTPError(400, reason="limit must be a number") from None
        self.write({"messages": self.store.messages[-limit:], "ticks": self.store.ticks})

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs["exc_info"][1] if "exc_info" in kwargs else None
        self.finish({"error": exc.reason if isinstance(exc, HTTPError) else str(status_code)})


class BroadcastSocket(WebSocketHandler):
    def initialize(self, store: MessageStore) -> None:
        self.store = store

    def open(self) -> None:
        self.store.sockets.add(self)

    def on_message(self, message: str | bytes) -> None:
        self.write_message({"echo": message if isinstance(message, str) else message.hex()})

    def on_close(self) -> None:
        self.store.sockets.discard(self)


def make_app(store: MessageStore | None = None, **settings: Any) -> App:
    store = store if store is not None else MessageStore()
    kwargs = {"store": store}
    app = App(
        [
            (r"/", BoardHandler, kwargs, "board"),
            (r"/post", PostHandler, kwargs, "post"),
            (r"/login", LoginHandler, kwargs, "login"),
            (r"/api/messages", MessagesAPI, kwargs),
            (r"/ws", BroadcastSocket, kwargs),
        ],
        cookie_secret="change me: read it from the environment",
        login_url="/login",
        xsrf_cookies=True,
        templates=jinja2_templates(TEMPLATES),
        **settings,
    )

    @app.every(60, clock=settings.get("clock"))
    async def tick() -> None:  # was: PeriodicCallback(tick, 60_000).start()
        store.ticks += 1

    return app


app = make_app()

if __name__ == "__main__":  # was: app.listen(8888); await asyncio.Event().wait()
    app.run(port=8888)
