"""``App(templates=...)``: Jinja2 for handlers and function views (web/templates.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import jinja2
import pytest

from typhoon import App, RequestHandler, Templates, render
from typhoon.testing import AsyncTestClient


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    directory = tmp_path / "templates"
    directory.mkdir()
    (directory / "post.html").write_text("<h1>{{ title }}</h1>{{ body|safe }}")
    (directory / "links.html").write_text(
        "{{ url_for('post', post_id=7) }} {{ static_url('app.css') }} {{ request.path }}"
    )
    (directory / "handler.html").write_text(
        "{{ title }} {{ reverse_url('page') }} {{ handler.__class__.__name__ }} "
        "{{ xsrf_form_html() }}"
    )
    (directory / "site.txt").write_text("{{ site }}: {{ title }}")
    return directory


async def test_a_view_renders_an_autoescaped_template(templates: Path) -> None:
    app = App(templates=str(templates))

    @app.get("/")
    async def home(request: Any) -> Any:
        return render(request, "post.html", title="<script>x</script>", body="<b>ok</b>")

    async with AsyncTestClient(app) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<h1>&lt;script&gt;x&lt;/script&gt;</h1><b>ok</b>"


async def test_every_template_is_autoescaped_whatever_its_extension(templates: Path) -> None:
    app = App(templates=Templates(templates, globals={"site": "typhoon"}))
    assert app.templates is not None
    assert app.templates.render("site.txt", title="a & b") == "typhoon: a &amp; b"


async def test_render_takes_a_status_and_headers(templates: Path) -> None:
    app = App(templates=templates)  # a Path works too

    @app.get("/gone")
    async def gone(request: Any) -> Any:
        return render(request, "post.html", status=410, headers={"x-why": "moved"}, title="t")

    async with AsyncTestClient(app) as client:
        response = await client.get("/gone")
    assert (response.status_code, response.headers["x-why"]) == (410, "moved")


async def test_templates_see_request_url_for_inside_a_mount_and_static_url(
    templates: Path, tmp_path: Path
) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "app.css").write_text("body{}")
    blog = App(templates=templates, static=str(tmp_path / "static"))

    @blog.get("/posts/{post_id:int}", name="post")
    async def post(request: Any, post_id: int) -> Any:
        return render(request, "links.html")

    site = App()
    site.mount("/blog", blog)
    async with AsyncTestClient(site) as client:
        response = await client.get("/blog/posts/1")
    url, static, path = response.text.split()
    assert url == "/blog/posts/7"
    assert static.startswith("/static/app.css?v=")
    assert path == "/posts/1"


async def test_a_handler_renders_with_its_namespace(templates: Path) -> None:
    class Page(RequestHandler):
        async def get(self) -> None:
            self.render("handler.html", title="<hi>")

    app = App([(r"/page", Page, {}, "page")], templates=templates, cookie_secret="s" * 32)
    async with AsyncTestClient(app) as client:
        response = await client.get("/page")
    assert response.status_code == 200
    assert response.text.startswith("&lt;hi&gt; /page Page <input type=")


async def test_an_explicit_template_renderer_wins(templates: Path) -> None:
    def renderer(name: str, **namespace: Any) -> str:
        return f"mine:{name}"

    app = App(templates=templates, template_renderer=renderer)

    @app.get("/")
    async def home(request: Any) -> Any:
        return render(request, "post.html")

    async with AsyncTestClient(app) as client:
        assert (await client.get("/")).text == "mine:post.html"


async def test_debug_reads_an_edited_template_again(templates: Path) -> None:
    page = templates / "post.html"
    for debug, expected in ((True, "<h1>v2</h1>"), (False, "<h1>v1</h1>")):
        page.write_text("<h1>v1</h1>")
        app = App(templates=templates, debug=debug)
        assert app.templates is not None
        assert app.templates.render("post.html") == "<h1>v1</h1>"
        page.write_text("<h1>v2</h1>")
        stat = page.stat()
        os.utime(page, (stat.st_atime, stat.st_mtime + 10))
        assert app.templates.render("post.html") == expected


async def test_a_missing_template_is_a_logged_500(
    templates: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = App(templates=templates)

    @app.get("/")
    async def home(request: Any) -> Any:
        return render(request, "nope.html")

    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        assert (await client.get("/")).status_code == 500
    assert "TemplateNotFound: 'nope.html' not found" in caplog.text


async def test_render_without_templates_says_how_to_set_them() -> None:
    app = App()

    @app.get("/")
    async def home(request: Any) -> Any:
        return render(request, "page.html")

    async with AsyncTestClient(app) as client:
        with pytest.raises(RuntimeError, match=r"set App\(templates='templates'\)"):
            await client.get("/")


def test_an_own_jinja2_environment_is_used_as_it_is() -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"a": "{{ x }}"}), autoescape=False)
    templates = Templates(environment=env)
    assert templates.environment is env
    assert templates.render("a", x="<b>") == "<b>"
    assert "DictLoader" in repr(templates)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((), {}, TypeError, "Templates needs a directory"),
        (("missing-dir",), {}, ValueError, "template directory 'missing-dir' does not exist"),
        (([42],), {}, TypeError, "a template directory must be a path, got 42"),
        ((), {"environment": "env"}, TypeError, "environment must be a jinja2.Environment"),
        (("x",), {"environment": jinja2.Environment()}, TypeError, "not both"),
    ],
)
def test_bad_arguments_are_refused_by_name(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Templates(*args, **kwargs)


def test_without_jinja2_an_app_with_templates_names_the_extra(
    templates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)  # what an import finds when it is absent
    with pytest.raises(RuntimeError, match=r"pip install 'typhoon\[templates\]'"):
        App(templates=templates)
    App()  # an app without templates never imports it


def test_an_app_with_a_missing_template_directory_does_not_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist or is not a directory"):
        App(templates=str(tmp_path / "nowhere"))


async def test_not_found_stops_a_handler_with_a_404() -> None:
    class Post(RequestHandler):
        async def get(self, post_id: str) -> None:
            post = {"1": "first"}.get(post_id) or self.not_found(f"no post {post_id}")
            self.write(post)

    app = App([(r"/posts/(\d+)", Post)])
    async with AsyncTestClient(app) as client:
        found, missing = await client.get("/posts/1"), await client.get("/posts/2")
    assert (found.status_code, found.text) == (200, "first")
    assert missing.status_code == 404
    assert "<h1>404: no post 2</h1>" in missing.text
