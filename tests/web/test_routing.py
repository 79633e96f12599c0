"""The router on its own: path compiling, converters, matching rules, reverse URLs.

Pure unit tests: no event loop, no protocol. Resolution is given the decoded path, as
``Request.path`` hands it to the router.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from typhoon.web import routing
from typhoon.web.routing import (
    DEFAULT_CONVERTERS,
    MethodNotAllowed,
    NotFound,
    Route,
    Router,
    SlashRedirect,
    check_converters,
    compile_path,
)


def view(request: Any, *args: Any, **params: Any) -> None:
    """An endpoint; the router never calls it."""


class Slug:
    """A user converter: lower-case words joined by dashes."""

    regex = "[a-z0-9]+(?:-[a-z0-9]+)*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: Any) -> str:
        text = str(value)
        if not re.fullmatch(self.regex, text):
            raise ValueError(f"not a slug: {text!r}")
        return text


class Even:
    """A user converter whose to_python refuses odd numbers (so the route does not match)."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number % 2:
            raise ValueError("odd")
        return number

    def to_url(self, value: Any) -> str:
        return str(value)


CONVERTERS = {**DEFAULT_CONVERTERS, **check_converters({"slug": Slug, "even": Even()})}


def _router(*routes: Route, redirect_slashes: bool = False) -> Router:
    router = Router(redirect_slashes=redirect_slashes)
    for route in routes:
        router.add(route)
    return router


def _route(path: str, name: str | None = None, **options: Any) -> Route:
    return Route(path, view, name=name, converters=CONVERTERS, **options)


def _params(router: Router, path: str, method: str = "GET") -> tuple[str | None, Any, Any]:
    route, args, params = router.resolve(method, path)
    return route.name, args, params


# -- compile_path and converters -------------------------------------------------------------


def test_compile_path_static_has_no_regex() -> None:
    compiled = compile_path("/about/team.html")
    assert compiled.is_static
    assert compiled.regex is None
    assert compiled.template == "/about/team.html"


@pytest.mark.parametrize(
    ("path", "url", "expected"),
    [
        ("/s/{v}", "/s/hello world", "hello world"),
        ("/s/{v:str}", "/s/é", "é"),
        ("/i/{v:int}", "/i/0042", 42),
        ("/f/{v:float}", "/f/1.25", 1.25),
        ("/f/{v:float}", "/f/3", 3.0),
        ("/p/{v:path}", "/p/a/b/c.txt", "a/b/c.txt"),
        (
            "/u/{v:uuid}",
            "/u/12345678-1234-5678-1234-56789ABCDEF0",
            uuid.UUID("12345678-1234-5678-1234-56789abcdef0"),
        ),
        ("/slug/{v:slug}", "/slug/hello-world-2", "hello-world-2"),
        ("/even/{v:even}", "/even/10", 10),
    ],
)
def test_converter_valid_input_matches_with_converted_type(
    path: str, url: str, expected: Any
) -> None:
    router = _router(_route(path, "r"))
    name, args, params = _params(router, url)
    assert (name, args, params) == ("r", (), {"v": expected})
    assert type(params["v"]) is type(expected)


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("/s/{v}", "/s/a/b"),
        ("/s/{v}", "/s/"),
        ("/i/{v:int}", "/i/abc"),
        ("/i/{v:int}", "/i/-1"),
        ("/i/{v:int}", "/i/1.5"),
        ("/i/{v:int}", "/i/٣"),  # a non-ASCII digit
        ("/i/{v:int}", "/i/5\n"),  # "$" would match before a final newline
        ("/f/{v:float}", "/f/1e5"),
        ("/f/{v:float}", "/f/.5"),
        ("/f/{v:float}", "/f/nan"),
        ("/u/{v:uuid}", "/u/1234"),
        ("/u/{v:uuid}", "/u/12345678-1234-5678-1234-56789abcdefg"),
        ("/p/{v:path}", "/p/"),
        ("/slug/{v:slug}", "/slug/Not-A-Slug"),
        ("/even/{v:even}", "/even/7"),  # to_python raises ValueError
    ],
)
def test_converter_bad_input_does_not_match(path: str, url: str) -> None:
    route = _route(path)
    assert route.match(url) is None
    with pytest.raises(NotFound):
        _router(route).resolve("GET", url)


def test_converter_huge_int_is_refused_not_an_error() -> None:
    # int() refuses more than 4300 digits with ValueError: the route does not match.
    assert _route("/i/{v:int}").match("/i/" + "9" * 5000) is None


class Shout:
    """A user converter whose to_python changes the text: it must run on every match."""

    regex = "[a-z]+"

    def to_python(self, value: str) -> str:
        return value.upper()

    def to_url(self, value: Any) -> str:
        return str(value).lower()


class Pair:
    """A user converter whose regex has capturing groups of its own."""

    regex = "([a-z]+)-([0-9]+)"

    def to_python(self, value: str) -> tuple[str, int]:
        word, number = value.split("-")
        return word, int(number)

    def to_url(self, value: Any) -> str:
        return f"{value[0]}-{value[1]}"


class SignedInt(routing.IntConverter):
    """A subclass that widens the regex and keeps IntConverter.to_python."""

    regex = "-?[0-9]+"


class Hex(routing.IntConverter):
    """A subclass that overrides to_python: the override is what runs."""

    regex = "[0-9a-f]+"

    def to_python(self, value: str) -> int:
        return int(value, 16)


def _odd_only(value: str) -> int:
    number = int(value)
    if not number % 2:
        raise ValueError("even")
    return number


def test_user_converters_to_python_runs_on_every_match() -> None:
    odd = routing.IntConverter()
    odd.to_python = _odd_only  # type: ignore[method-assign]  # an instance's own method
    user = {"shout": Shout, "signed": SignedInt, "hex": Hex, "odd": odd}
    converters = {**DEFAULT_CONVERTERS, **check_converters(user)}
    router = Router()
    for path, name in [
        ("/shout/{v:shout}", "shout"),
        ("/signed/{v:signed}", "signed"),
        ("/hex/{v:hex}", "hex"),
        ("/odd/{v:odd}", "odd"),
        ("/odd/{v}", "odd_fallback"),
    ]:
        router.add(Route(path, view, name=name, converters=converters))
    assert _params(router, "/shout/hey") == ("shout", (), {"v": "HEY"})
    assert _params(router, "/signed/-12") == ("signed", (), {"v": -12})
    assert _params(router, "/hex/ff") == ("hex", (), {"v": 255})
    assert _params(router, "/odd/7") == ("odd", (), {"v": 7})
    assert _params(router, "/odd/8") == ("odd_fallback", (), {"v": "8"})


def test_converter_with_its_own_groups_and_a_parameter_after_it() -> None:
    converters = {**DEFAULT_CONVERTERS, **check_converters({"pair": Pair})}
    router = _router(
        Route("/p/{a:pair}/x/{b:int}/{c}", view, name="p", converters=converters),
    )
    assert _params(router, "/p/ab-12/x/7/end") == ("p", (), {"a": ("ab", 12), "b": 7, "c": "end"})
    with pytest.raises(NotFound):
        router.resolve("GET", "/p/ab-12/x/seven/end")


def test_parameters_that_are_not_the_last_segment() -> None:
    router = _router(
        _route("/users/{uid:int}/posts/{slug:slug}", "post"),
        _route("/files/{p:path}/raw", "raw"),
        _route("/at/{when:float}/by/{who:uuid}/{n:int}", "at"),
    )
    assert _params(router, "/users/5/posts/a-b") == ("post", (), {"uid": 5, "slug": "a-b"})
    assert _params(router, "/files/a/b.txt/raw") == ("raw", (), {"p": "a/b.txt"})
    who = uuid.UUID(int=7)
    assert _params(router, f"/at/1.5/by/{who}/3") == (
        "at",
        (),
        {"when": 1.5, "who": who, "n": 3},
    )


def test_a_rejected_match_falls_through_to_the_next_route_in_order() -> None:
    router = _router(
        _route("/n/{v:even}", "even"),
        _route("/n/{v:int}", "int"),
        _route("/n/{v}", "str"),
    )
    assert _params(router, "/n/4") == ("even", (), {"v": 4})
    assert _params(router, "/n/7") == ("int", (), {"v": 7})
    assert _params(router, "/n/" + "9" * 5000) == ("str", (), {"v": "9" * 5000})
    assert _params(router, "/n/x") == ("str", (), {"v": "x"})


def test_compile_path_params_template_and_prefix() -> None:
    compiled = compile_path("/users/{uid:int}/posts/{slug}")
    assert [name for name, _ in compiled.params] == ["uid", "slug"]
    assert compiled.template == "/users/{uid}/posts/{slug}"
    assert compiled.prefix == "/users/"
    assert compiled.positional == 0


def test_check_converters_instantiates_classes_and_rejects_bad_ones() -> None:
    checked = check_converters({"slug": Slug})
    assert isinstance(checked["slug"], Slug)

    class NoRegex:
        def to_python(self, value: str) -> str:
            return value

    with pytest.raises(TypeError, match="converter 'bad' needs a str 'regex'"):
        check_converters({"bad": NoRegex()})
    with pytest.raises(ValueError, match="converter 'broken' has an invalid regex"):
        check_converters({"broken": type("B", (Slug,), {"regex": "(["})})
    with pytest.raises(ValueError, match="converter names must be identifiers"):
        check_converters({"no-dash": Slug})


# -- Tornado-style regular expressions -------------------------------------------------------


def test_regex_positional_groups_become_args() -> None:
    router = _router(_route(r"/item/(\d+)/(\w+)", "item"))
    assert _params(router, "/item/12/abc") == ("item", ("12", "abc"), {})


def test_regex_named_groups_become_params() -> None:
    router = _router(_route(r"/blog/(?P<year>\d{4})/(?P<slug>[a-z-]+)", "post"))
    assert _params(router, "/blog/2024/hi-there") == (
        "post",
        (),
        {"year": "2024", "slug": "hi-there"},
    )


def test_regex_named_and_unnamed_groups_pass_only_named_like_tornado() -> None:
    route = _route(r"/x/(?P<a>\d+)/(\d+)")
    assert route.match("/x/1/2") == ((), {"a": "1"})


def test_regex_optional_group_that_did_not_take_part_is_none() -> None:
    router = _router(_route(r"/opt/(\d+)?", "opt"), _route(r"/named/(?P<n>\d+)?", "named"))
    assert _params(router, "/opt/") == ("opt", (None,), {})
    assert _params(router, "/opt/3") == ("opt", ("3",), {})
    assert _params(router, "/named/") == ("named", (), {"n": None})
    assert _params(router, "/named/3") == ("named", (), {"n": "3"})


def test_regex_groups_inside_named_groups_are_not_passed() -> None:
    router = _router(_route(r"/v/(?P<ver>(\d+)\.(\d+))/(?P<rest>.*)", "v"))
    assert _params(router, "/v/1.2/a/b") == ("v", (), {"ver": "1.2", "rest": "a/b"})


def test_regex_is_anchored_at_both_ends() -> None:
    route = _route(r"/item/(\d+)")
    assert route.match("/item/5/extra") is None
    assert route.match("/prefix/item/5") is None
    assert route.match("/item/5\n") is None


def test_regex_top_level_alternation_is_anchored_as_a_whole() -> None:
    router = _router(_route(r"/a|/b", "alt"))
    assert _params(router, "/a")[0] == "alt"
    assert _params(router, "/b")[0] == "alt"
    for path in ("/abc", "/xb", "/a/b"):
        with pytest.raises(NotFound):
            router.resolve("GET", path)


def test_regex_explicit_anchors_are_accepted() -> None:
    router = _router(_route(r"/x/(\d+)$", "x"))
    assert _params(router, "/x/3") == ("x", ("3",), {})


def test_regex_with_a_brace_quantifier_is_a_regex_not_a_placeholder() -> None:
    router = _router(_route(r"/zip/(\d{5})", "zip"), _route(r"/code/([A-Z]{2,3})", "code"))
    assert _params(router, "/zip/12345") == ("zip", ("12345",), {})
    assert _params(router, "/code/ABC") == ("code", ("ABC",), {})
    with pytest.raises(NotFound):
        router.resolve("GET", "/zip/1234")


# -- precedence and buckets --------------------------------------------------------------------


def test_static_route_beats_dynamic_even_when_added_later() -> None:
    router = _router(_route("/users/{name}", "user"), _route("/users/me", "me"))
    assert _params(router, "/users/me") == ("me", (), {})
    assert _params(router, "/users/bob") == ("user", (), {"name": "bob"})


def test_dynamic_routes_are_tried_in_registration_order() -> None:
    first = _router(_route("/users/{name}", "by_name"), _route("/users/{uid:int}", "by_id"))
    assert _params(first, "/users/5") == ("by_name", (), {"name": "5"})
    second = _router(_route("/users/{uid:int}", "by_id"), _route("/users/{name}", "by_name"))
    assert _params(second, "/users/5") == ("by_id", (), {"uid": 5})
    assert _params(second, "/users/bob") == ("by_name", (), {"name": "bob"})


def test_registration_order_holds_across_buckets() -> None:
    # /{lang}/about has no literal first segment; it was added first, so it wins.
    router = _router(_route("/{lang}/about", "lang"), _route("/users/{name}", "user"))
    assert _params(router, "/users/about") == ("lang", (), {"lang": "users"})
    assert _params(router, "/users/bob") == ("user", (), {"name": "bob"})
    reverse = _router(_route("/users/{name}", "user"), _route("/{lang}/about", "lang"))
    assert _params(reverse, "/users/about") == ("user", (), {"name": "about"})
    assert _params(reverse, "/fr/about") == ("lang", (), {"lang": "fr"})


def test_catch_all_regex_added_first_wins_like_tornado() -> None:
    router = _router(_route(r"/(.*)", "all"), _route("/users/{name}", "user"))
    assert _params(router, "/users/bob") == ("all", ("users/bob",), {})


@pytest.mark.parametrize(
    ("path", "url", "args", "params"),
    [
        ("/{lang}/docs/{page}", "/en/docs/intro", (), {"lang": "en", "page": "intro"}),
        ("/v{version:int}/items", "/v2/items", (), {"version": 2}),
        (r"/(en|fr)/home", "/fr/home", ("fr",), {}),
        (r"/en/home|/fr/accueil", "/fr/accueil", (), {}),
        (r"/items?/(\d+)", "/item/5", ("5",), {}),
        (r"/items?/(\d+)", "/items/5", ("5",), {}),
        (r"/users/?(\d+)", "/users5", ("5",), {}),
        (r"/colou*r/(\d+)", "/colour/1", ("1",), {}),
        (r"/(?i:case)/(\d+)", "/cASE/9", ("9",), {}),
        (r"/a.c/(\d+)", "/abc/7", ("7",), {}),
        (r"/[ab]x/(\d+)", "/bx/7", ("7",), {}),
        (r"/dot\.json/(\d+)", "/dot.json/7", ("7",), {}),
    ],
)
def test_first_segment_buckets_still_find_every_route(
    path: str, url: str, args: tuple[Any, ...], params: dict[str, Any]
) -> None:
    # Routes in literal buckets are registered around the one under test, before and after.
    router = _router(
        _route("/en/other/{x}", "before"),
        _route("/users/{x}/y", "before2"),
        _route(path, "target"),
        _route("/fr/other/{x}", "after"),
        _route("/items/x/{y}", "after2"),
    )
    assert _params(router, url) == ("target", args, params)


@pytest.mark.parametrize("path", ["*", "", "/", "//", "//x/1", "/x", "x/y", "/r/"])
def test_odd_paths_find_the_same_routes_as_a_plain_scan(path: str) -> None:
    # The bucket of an odd path ("*" in OPTIONS *, an empty first segment...) must still
    # hold every route that can match: compare with trying each route in order.
    routes = [
        _route("/r/{x}", "r"),
        _route("//x/{n:int}", "empty_segment"),
        _route(r"/x|\*|x/y", "alternatives"),
        _route("/{lang}", "lang"),
        _route(r"/(.*)", "all"),
    ]
    router = _router(*routes)
    expected = next((r.name for r in routes if r.match(path) is not None), None)
    if expected is None:
        with pytest.raises(NotFound):
            router.resolve("GET", path)
    else:
        assert router.resolve("GET", path)[0].name == expected


def test_method_not_allowed_carries_the_union_of_allowed_methods() -> None:
    router = _router(
        _route("/items/{iid:int}", methods=["GET"]),
        _route("/items/{iid:int}", methods=["DELETE"]),
        _route("/items/{name}", methods=["PUT"]),
        _route("/other", methods=["POST"]),
    )
    with pytest.raises(MethodNotAllowed) as info:
        router.resolve("PATCH", "/items/5")
    assert info.value.allowed == {"GET", "HEAD", "DELETE", "PUT"}
    assert str(info.value) == "DELETE, GET, HEAD, PUT"
    assert router.resolve("DELETE", "/items/5")[2] == {"iid": 5}
    assert router.resolve("PUT", "/items/5")[2] == {"name": "5"}


def test_head_follows_get_but_not_other_methods() -> None:
    router = _router(_route("/g", "g"), _route("/p", "p", methods=["POST"]))
    assert _params(router, "/g", "HEAD")[0] == "g"
    with pytest.raises(MethodNotAllowed) as info:
        router.resolve("HEAD", "/p")
    assert info.value.allowed == {"POST"}


def test_lower_case_methods_are_normalised() -> None:
    assert _route("/x", methods=["post", "Get"]).method_set == {"POST", "GET", "HEAD"}


# -- trailing slashes --------------------------------------------------------------------------


def test_slash_redirect_both_ways() -> None:
    router = _router(_route("/a"), _route("/b/"), _route("/c/{x}"), redirect_slashes=True)
    with pytest.raises(SlashRedirect) as removed:
        router.resolve("GET", "/a/")
    assert removed.value.location == "/a"
    with pytest.raises(SlashRedirect) as added:
        router.resolve("GET", "/b")
    assert added.value.location == "/b/"
    with pytest.raises(SlashRedirect) as dynamic:
        router.resolve("POST", "/c/1/")
    assert dynamic.value.location == "/c/1"


def test_slash_redirect_not_for_root_nor_when_disabled() -> None:
    router = _router(_route("/a"), redirect_slashes=True)
    with pytest.raises(NotFound):
        router.resolve("GET", "/")
    with pytest.raises(NotFound):
        _router(_route("/a")).resolve("GET", "/a/")


def test_slash_redirect_only_when_the_other_path_exists() -> None:
    router = _router(_route("/a"), redirect_slashes=True)
    with pytest.raises(NotFound):
        router.resolve("GET", "/b/")


# -- hosts -------------------------------------------------------------------------------------


def test_host_route_exact_name_case_insensitive() -> None:
    router = _router(_route("/", "api", host="api.example.com"), _route("/", "www"))
    assert router.resolve("GET", "/", "api.example.com")[0].name == "api"
    assert router.resolve("GET", "/", "API.Example.COM")[0].name == "api"
    assert router.resolve("GET", "/", "www.example.com")[0].name == "www"
    assert router.resolve("GET", "/", "api.example.com.evil")[0].name == "www"


def test_host_route_regex_on_dynamic_paths() -> None:
    router = _router(
        _route("/u/{x}", "tenant", host=r"[a-z]+\.example\.com"),
        _route("/u/{x}", "plain"),
    )
    assert router.resolve("GET", "/u/1", "acme.example.com")[0].name == "tenant"
    assert router.resolve("GET", "/u/1", "example.com")[0].name == "plain"


def test_host_only_route_without_a_matching_host_is_not_found() -> None:
    router = _router(_route("/admin", host="admin.local"), _route("/a/{x}", host="admin.local"))
    for path in ("/admin", "/a/1"):
        with pytest.raises(NotFound):
            router.resolve("GET", path, "other.local")


def test_host_pattern_must_compile() -> None:
    with pytest.raises(ValueError, match=r"host '\(' is not a valid regular expression"):
        _route("/", host="(")


# -- reverse URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "url"),
    [
        ("/s/{v}", {"v": "hello world"}, "/s/hello%20world"),
        ("/s/{v}", {"v": "é?#&%"}, "/s/%C3%A9%3F%23%26%25"),
        ("/i/{v:int}", {"v": 42}, "/i/42"),
        ("/f/{v:float}", {"v": 1.5}, "/f/1.5"),
        ("/f/{v:float}", {"v": 3}, "/f/3.0"),
        ("/f/{v:float}", {"v": 1e20}, "/f/100000000000000000000"),
        ("/f/{v:float}", {"v": 1e-7}, "/f/0.0000001"),
        ("/f/{v:float}", {"v": -0.0}, "/f/0.0"),
        (
            "/u/{v:uuid}",
            {"v": uuid.UUID(int=1)},
            "/u/00000000-0000-0000-0000-000000000001",
        ),
        (
            "/u/{v:uuid}",
            {"v": "{12345678-1234-5678-1234-56789ABCDEF0}"},
            "/u/12345678-1234-5678-1234-56789abcdef0",
        ),
        ("/p/{v:path}", {"v": "a b/c.txt"}, "/p/a%20b/c.txt"),
        ("/slug/{v:slug}", {"v": "a-b"}, "/slug/a-b"),
        ("/café/{v}", {"v": "x"}, "/caf%C3%A9/x"),
        ("/café", {}, "/caf%C3%A9"),
    ],
)
def test_url_for_each_converter_round_trips(path: str, params: dict[str, Any], url: str) -> None:
    router = _router(_route(path, "r"))
    assert router.url_for("r", **params) == url
    assert router.resolve("GET", unquote(url))[0].name == "r"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("/s/{v}", "a/b", "non-empty without '/'"),
        ("/s/{v}", "", "non-empty without '/'"),
        ("/p/{v:path}", "", "must be non-empty"),
        ("/i/{v:int}", -1, "non-negative int"),
        ("/i/{v:int}", "5", "non-negative int"),
        ("/i/{v:int}", True, "non-negative int"),
        ("/f/{v:float}", float("inf"), "finite and >= 0"),
        ("/f/{v:float}", float("nan"), "finite and >= 0"),
        ("/f/{v:float}", -1.5, "finite and >= 0"),
        ("/f/{v:float}", "1.5", "must be a number"),
        ("/u/{v:uuid}", "not-a-uuid", "badly formed"),
        ("/slug/{v:slug}", "Not A Slug", "not a slug"),
    ],
)
def test_url_for_rejects_values_the_converter_refuses(path: str, value: Any, message: str) -> None:
    router = _router(_route(path, "r"))
    with pytest.raises(ValueError, match=message):
        router.url_for("r", v=value)


def test_url_for_missing_and_extra_params_are_named() -> None:
    router = _router(_route("/a/{x}/{y:int}", "r"))
    with pytest.raises(ValueError, match=r"missing \['y'\], unexpected \['z'\]"):
        router.url_for("r", x="1", z=2)
    with pytest.raises(ValueError, match=r"takes parameters \['x', 'y'\]"):
        router.url_for("r", "positional", x="1", y=2)
    static = _router(_route("/static", "s"))
    with pytest.raises(ValueError, match=r"unexpected \['q'\]"):
        static.url_for("s", q=1)
    assert static.url_for("s") == "/static"


def test_url_for_unknown_name_is_key_error() -> None:
    with pytest.raises(KeyError, match="no route named 'nope'"):
        _router(_route("/", "home")).url_for("nope")


def test_url_for_reverses_tornado_regexes() -> None:
    router = _router(
        _route(r"/item/(\d+)", "item"),
        _route(r"/blog/(?P<year>\d{4})/(?P<slug>[^/]+)", "post"),
        _route(r"/file/(.*)", "file"),
        _route(r"/v1\.0/x/([a-z]+)$", "escaped"),
    )
    assert router.url_for("item", 7) == "/item/7"
    assert router.url_for("post", year=2024, slug="a b") == "/blog/2024/a%20b"
    assert router.url_for("file", "a/b c") == "/file/a%2Fb%20c"
    assert router.url_for("escaped", "abc") == "/v1.0/x/abc"
    assert _params(router, unquote(router.url_for("file", "a/b c"))) == ("file", ("a/b c",), {})


def test_url_for_regex_argument_errors() -> None:
    router = _router(_route(r"/item/(\d+)", "item"), _route(r"/p/(?P<slug>[a-z]+)", "p"))
    with pytest.raises(ValueError, match=r"takes 1 positional argument\(s\), got 2"):
        router.url_for("item", 1, 2)
    with pytest.raises(ValueError, match=r"argument 0 of route .*: 'x' does not match"):
        router.url_for("item", "x")
    with pytest.raises(ValueError, match=r"unexpected \['slug'\]"):
        router.url_for("item", slug="x")
    with pytest.raises(ValueError, match=r"missing \['slug'\]"):
        router.url_for("p")
    with pytest.raises(ValueError, match=r"argument 'slug' of route .*: 'A' does not match"):
        router.url_for("p", slug="A")


@pytest.mark.parametrize(
    "path",
    [r"/a|/b", r"/opt/(\d+)?", r"/x/(?:a|b)/(\d+)", r"/n/((\d+))", r"/w\w/(\d+)", r"/a.b/(\d)"],
)
def test_url_for_refuses_regexes_too_complex_to_reverse(path: str) -> None:
    router = _router(_route(path, "r"))
    with pytest.raises(ValueError, match="too complex to reverse"):
        router.url_for("r", 1)


# -- registration errors -----------------------------------------------------------------------


def test_frozen_router_refuses_new_routes() -> None:
    router = _router(_route("/a"))
    router.freeze()
    assert router.frozen
    with pytest.raises(RuntimeError, match="cannot add route '/b': the app is already serving"):
        router.add(_route("/b"))


def test_duplicate_route_name_is_value_error() -> None:
    router = _router(_route("/a", "same"))
    with pytest.raises(ValueError, match="a route named 'same' already exists"):
        router.add(_route("/b", "same"))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("items", "must be a string starting with '/'"),
        ("", "must be a string starting with '/'"),
        (b"/bytes", "must be a string starting with '/'"),
        ("/a/{x:nope}", "unknown converter 'nope'"),
        ("/a/{x}/{x:int}", "parameter 'x' appears twice"),
        ("/a/{x", r"malformed parameter in route path '/a/\{x'"),
        ("/a/x}", "malformed parameter"),
        ("/a/{x}/{", r"malformed parameter in route path .* near '/\{'"),
        ("/a/{}/{x}", r"near '/a/\{\}/'"),
        ("/a/{1x}", "malformed parameter"),
        ("/a/{x-y}", "malformed parameter"),
        ("/a/(", "not a valid regular expression"),
        ("/a/[z-a]", "not a valid regular expression"),
        (r"/a/(?P<x>\d)/(?P<x>\d)", "not a valid regular expression"),
    ],
)
def test_bad_paths_are_value_errors_naming_the_problem(path: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_path(path, CONVERTERS)


def test_route_methods_must_be_a_collection_of_known_methods() -> None:
    with pytest.raises(TypeError, match="methods must be a list of method names, got 'GET'"):
        _route("/a", methods="GET")
    with pytest.raises(ValueError, match=r"unknown HTTP method\(s\) \['BREW'\]"):
        _route("/a", methods=["GET", "BREW"])


# -- properties and scale ----------------------------------------------------------------------

_SEGMENT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"),
        blacklist_characters="/{}\\()[]^$*+?|",
    ),
    min_size=1,
    max_size=8,
)
_PIECE = st.one_of(
    _SEGMENT.map(lambda text: ("literal", text)),
    st.integers(min_value=0, max_value=10**30).map(lambda n: ("int", n)),
    st.uuids().map(lambda u: ("uuid", u)),
    _SEGMENT.map(lambda text: ("str", text)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_PIECE, max_size=5), min_size=1, max_size=6))
def test_url_for_then_resolve_gives_the_same_route_and_params(
    tables: list[list[tuple[str, Any]]],
) -> None:
    router = Router()
    expected: list[tuple[str, dict[str, Any]]] = []
    for index, pieces in enumerate(tables):
        segments = [f"r{index}"]  # a distinct first segment: no route shadows another
        params: dict[str, Any] = {}
        for position, (kind, value) in enumerate(pieces):
            if kind == "literal":
                segments.append(value)
            else:
                segments.append(f"{{p{position}:{kind}}}")
                params[f"p{position}"] = value
        name = f"route{index}"
        router.add(Route("/" + "/".join(segments), view, name=name))
        expected.append((name, params))
    for name, params in expected:
        url = router.url_for(name, **params)
        route, args, found = router.resolve("GET", unquote(url))
        assert (route.name, args, found) == (name, (), params)


def test_two_hundred_routes_all_resolve() -> None:
    router = Router()
    for i in range(200):
        router.add(Route(f"/route{i}/{{id:int}}", view, name=f"dyn{i}"))
        router.add(Route(f"/static{i}", view, name=f"static{i}"))
    router.add(Route("/{lang}/fallback/{id:int}", view, name="unbucketed"))
    router.freeze()
    for i in range(200):
        route, _, params = router.resolve("GET", f"/route{i}/{i * 7}")
        assert (route.name, params) == (f"dyn{i}", {"id": i * 7})
        assert router.resolve("GET", f"/static{i}")[0].name == f"static{i}"
        assert router.url_for(f"dyn{i}", id=i) == f"/route{i}/{i}"
    assert router.resolve("GET", "/route7/fallback/3")[0].name == "unbucketed"
    with pytest.raises(NotFound):
        router.resolve("GET", "/route200/1")
    with pytest.raises(NotFound):
        router.resolve("GET", "/route5/x")
