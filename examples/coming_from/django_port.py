"""A small Django site, ported: see docs/coming-from-django.md.

``typhoon run examples.coming_from.django_port:app``, then::

    GET  /books/                  the list, as HTML (?page=N, page_size from the settings)
    GET  /books/{book_id}/        one book; 404 when there is none
    POST /books/add/              an HTML form post (title, author): 303 to the new book
    GET  /api/books/              the list as JSON (an "included" URLconf under /api)
    GET  /api/books/{book_id}/    one book as JSON

What Django keeps in settings.py is App's arguments here, what it keeps in urls.py is
a list of ``Route`` objects, and MIDDLEWARE is a list of functions.
"""

from __future__ import annotations

import html
import time
from dataclasses import asdict, dataclass
from typing import Any

from typhoon import App, CallNext, HTTPError, Redirect, Request, Response, Route, RouteGroup
from typhoon.web.middleware import SecurityHeaders, TrustedHosts

# -- "models.py": no ORM yet, so a dataclass and a dict stand in for the database -----------


@dataclass
class Book:
    id: int
    title: str
    author: str


class Library:
    """What a Django model manager would give you: get, list, create."""

    def __init__(self) -> None:
        self.books: dict[int, Book] = {}

    def create(self, title: str, author: str) -> Book:
        book = Book(len(self.books) + 1, title, author)
        self.books[book.id] = book
        return book

    def all(self) -> list[Book]:
        return [self.books[key] for key in sorted(self.books)]


def get_object_or_404(library: Library, book_id: int) -> Book:
    """Django's shortcut, in four lines."""
    book = library.books.get(book_id)
    if book is None:
        raise HTTPError(404, f"no book {book_id}")  # Django's Http404
    return book


# -- "views.py": function views, sync or async ---------------------------------------------


def book_list(request: Request) -> str:
    """A plain ``def`` view, like most Django views: it runs on the app's thread pool."""
    library: Library = request.app.settings["library"]
    page_size: int = request.app.settings["page_size"]
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        raise HTTPError(400, "page must be a number") from None
    books = library.all()[(page - 1) * page_size : page * page_size]
    items = "".join(
        f'<li><a href="{request.app.url_for("book-detail", book_id=book.id)}">'
        f"{html.escape(book.title)}</a></li>"
        for book in books
    )
    return f"<h1>Books</h1><ul>{items}</ul>"


async def book_detail(request: Request, book_id: int) -> str:
    book = get_object_or_404(request.app.settings["library"], book_id)
    return f"<h1>{html.escape(book.title)}</h1><p>by {html.escape(book.author)}</p>"


async def book_add(request: Request) -> Response:
    form = await request.form()  # request.POST
    title, author = str(form.get("title", "")).strip(), str(form.get("author", "")).strip()
    if not title or not author:
        raise HTTPError(400, "title and author are both required")
    book = request.app.settings["library"].create(title, author)
    return Redirect(request.app.url_for("book-detail", book_id=book.id), status=303)


async def api_book_list(request: Request) -> list[dict[str, Any]]:
    return [asdict(book) for book in request.app.settings["library"].all()]  # JsonResponse


async def api_book_detail(request: Request, book_id: int) -> dict[str, Any]:
    return asdict(get_object_or_404(request.app.settings["library"], book_id))


# -- "urls.py" -------------------------------------------------------------------------------

urlpatterns = [
    Route("/books/", book_list, name="book-list"),
    Route("/books/{book_id:int}/", book_detail, name="book-detail"),
    Route("/books/add/", book_add, methods=["POST"], name="book-add"),
]

api = RouteGroup("/api", name="api")  # include("api.urls") under "api/"
api.add_route("/books/", api_book_list, name="book-list")
api.add_route("/books/{book_id:int}/", api_book_detail, name="book-detail")


# -- MIDDLEWARE ------------------------------------------------------------------------------


async def timing_middleware(request: Request, call_next: CallNext) -> Response:
    """Django's ``def middleware(get_response)`` closure, as one async function."""
    started = time.perf_counter()
    response = await call_next(request)  # never raises: errors arrive as responses
    response.set_header("x-elapsed-ms", f"{(time.perf_counter() - started) * 1000:.1f}")
    return response


# -- "settings.py" ---------------------------------------------------------------------------


def create_app(*, debug: bool = False, library: Library | None = None) -> App:
    app = App(
        urlpatterns,
        debug=debug,  # DEBUG
        cookie_secret="change me: read it from the environment",  # SECRET_KEY
        redirect_slashes=True,  # APPEND_SLASH
        middleware=[
            TrustedHosts(["localhost", "127.0.0.1", "testserver"]),  # ALLOWED_HOSTS
            SecurityHeaders(),  # SecurityMiddleware
            timing_middleware,
        ],
        # anything else is a setting of your own, read back as request.app.settings[...]
        page_size=20,
        library=library if library is not None else Library(),
    )
    app.include(api)
    return app


app = create_app()

if __name__ == "__main__":
    app.run(port=8000)
