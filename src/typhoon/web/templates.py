"""Templates: Jinja2 behind ``App(templates="templates")``, for handlers and views alike.

Rules:

* Jinja2 is the ``[templates]`` extra. It is imported here, and only when an App is
  given ``templates=``; without it that App refuses to start, naming the extra.
* Autoescaping is on for every template, whatever its extension: a variable's value
  is HTML-escaped unless the template marks it ``|safe`` (or it is ``Markup``).
* Templates are read on first use and kept; with ``auto_reload`` (the default in
  ``App(debug=True)``) an edited file is read again.
* ``RequestHandler.render`` renders through the app's ``template_renderer`` setting,
  which ``templates=`` fills unless the app names its own (any other engine).
* A function view returns ``render(request, "page.html", **context)``: an ``HTML``
  response whose template sees ``request``, ``url_for`` (prefixed with the mount's
  path) and, when static files are set up, ``static_url``, beside ``context``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from typhoon.web.response import HTML

if TYPE_CHECKING:
    from typhoon.web.request import Request

TemplateDirs = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


class SafeHTML(str):
    """Text that is HTML already: autoescaping templates insert it as it is.

    It speaks the ``__html__`` protocol Jinja2 and MarkupSafe honour, so typhoon needs
    neither to mark its own markup (``xsrf_form_html()``) safe. Build one only from
    text you escaped yourself.
    """

    __slots__ = ()

    def __html__(self) -> str:
        return str(self)


class Templates:
    """A Jinja2 environment loading templates from directories, autoescaping everything.

    Args:
        directory: a directory of templates, or several searched in order.
        auto_reload: read a template again when its file changed (development).
        globals: names every template sees.
        environment: a ``jinja2.Environment`` of your own, used as it is (its loader,
            autoescaping and extensions), instead of ``directory``.

    Example::

        templates = Templates("templates")
        html = templates.render("post.html", post=post)

    Raises:
        RuntimeError: Jinja2 is not installed.
        TypeError, ValueError: ``directory`` is missing, not a path, or not a directory.
    """

    def __init__(
        self,
        directory: TemplateDirs | None = None,
        *,
        auto_reload: bool = False,
        globals: Mapping[str, Any] | None = None,
        environment: Any = None,
    ) -> None:
        jinja2 = _jinja2()
        if environment is not None:
            if directory is not None:
                raise TypeError("Templates takes a directory or an environment, not both")
            if not isinstance(environment, jinja2.Environment):
                raise TypeError(f"environment must be a jinja2.Environment, got {environment!r}")
            self.environment = environment
        else:
            self.environment = jinja2.Environment(
                loader=jinja2.FileSystemLoader(_directories(directory)),
                autoescape=True,
                auto_reload=auto_reload,
            )
        self.environment.globals.update(globals or {})

    def __repr__(self) -> str:
        return f"<Templates {self.environment.loader!r}>"

    def render(self, name: str, /, **context: Any) -> str:
        """Render template ``name`` with ``context``.

        Raises:
            jinja2.TemplateNotFound: no such template.
        """
        return str(self.environment.get_template(name).render(**context))


def render(
    request: Request,
    name: str,
    /,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTML:
    """An HTML response: template ``name`` of ``request``'s app, rendered with ``context``.

    Besides ``context``, the template sees ``request``, ``url_for`` (the app's, inside
    any mount) and, when static files are set up, ``static_url``.

    Example::

        @app.get("/posts/{post_id:int}")
        async def post(request, post_id):
            return render(request, "post.html", post=await load(post_id))

    Raises:
        RuntimeError: the app has no templates (``App(templates=...)``).
    """
    app = request.app
    renderer = app.settings.get("template_renderer")
    if renderer is None:
        raise RuntimeError(
            f"render({name!r}): the app has no templates; "
            "set App(templates='templates') or App(template_renderer=...)"
        )
    namespace: dict[str, Any] = {"request": request, "url_for": _url_for(request)}
    static_url = app.settings.get("static_url")
    if callable(static_url):
        namespace["static_url"] = static_url
    namespace.update(context)
    return HTML(renderer(name, **namespace), status, headers)


def _url_for(request: Request) -> Any:
    root, url_for = request.root_path, request.app.url_for

    def mounted_url_for(name: str, /, *args: Any, **params: Any) -> str:
        return root + url_for(name, *args, **params)

    return mounted_url_for


def _directories(directory: TemplateDirs | None) -> list[str]:
    if directory is None:
        raise TypeError("Templates needs a directory (or an environment)")
    paths = [directory] if isinstance(directory, str | os.PathLike) else list(directory)
    found: list[str] = []
    for path in paths:
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"a template directory must be a path, got {path!r}")
        text = os.fspath(path)
        if not os.path.isdir(text):
            raise ValueError(f"template directory {text!r} does not exist or is not a directory")
        found.append(text)
    return found


def _jinja2() -> Any:
    try:
        import jinja2
    except ImportError:
        raise RuntimeError("templates need Jinja2: pip install 'typhoon[templates]'") from None
    return jinja2
