"""MultiDict and Headers: lookup, repeated keys, order, equality (pure unit tests)."""

from __future__ import annotations

import pytest

from typhoon.web.datastructures import Headers, MultiDict

# -- MultiDict -------------------------------------------------------------------------


def test_multidict_item_and_get_give_the_last_value() -> None:
    d = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert d["a"] == "3"
    assert d.get("a") == "3"
    assert d.get("zz") is None
    assert d.get("zz", "dflt") == "dflt"
    with pytest.raises(KeyError):
        d["zz"]


def test_multidict_getall_keeps_the_received_order() -> None:
    d = MultiDict([("a", "1"), ("b", "2"), ("a", "3"), ("a", "")])
    assert d.getall("a") == ["1", "3", ""]
    assert d.getall("b") == ["2"]
    assert d.getall("missing") == []


def test_multidict_iterates_distinct_keys_in_first_seen_order() -> None:
    d = MultiDict([("b", 1), ("a", 2), ("b", 3), ("c", 4)])
    assert list(d) == ["b", "a", "c"]
    assert list(d.keys()) == ["b", "a", "c"]
    assert list(d.values()) == [3, 2, 4]
    assert len(d) == 3
    assert "a" in d
    assert "z" not in d


def test_multidict_multi_items_is_every_pair_and_a_copy() -> None:
    pairs = [("a", "1"), ("a", "2"), ("b", "3")]
    d = MultiDict(pairs)
    items = d.multi_items()
    assert items == pairs
    items.append(("c", "4"))
    assert d.multi_items() == pairs


def test_multidict_keys_are_case_sensitive() -> None:
    d = MultiDict([("A", "1")])
    assert "a" not in d
    assert d["A"] == "1"


def test_multidict_equality_compares_every_pair() -> None:
    d = MultiDict([("a", "1"), ("b", "2")])
    assert d == MultiDict([("b", "2"), ("a", "1")])  # order between keys does not matter
    assert d != MultiDict([("a", "1"), ("b", "2"), ("b", "2")])  # repeats do
    assert d != MultiDict([("a", "1")])
    assert d == {"a": "1", "b": "2"}  # against a plain mapping: the last values
    assert MultiDict([("a", "1"), ("a", "2")]) == {"a": "2"}
    assert d != [("a", "1"), ("b", "2")]


def test_multidict_is_not_hashable_and_has_a_repr() -> None:
    d = MultiDict([("a", "1"), ("a", "2")])
    with pytest.raises(TypeError):
        hash(d)
    assert repr(d) == "MultiDict([('a', '1'), ('a', '2')])"
    assert repr(MultiDict()) == "MultiDict([])"


def test_multidict_from_a_generator_is_read_once() -> None:
    d = MultiDict((str(i), i) for i in range(3))
    assert d.multi_items() == [("0", 0), ("1", 1), ("2", 2)]


# -- Headers ---------------------------------------------------------------------------


def _headers() -> Headers:
    return Headers(
        [
            (b"content-type", b"text/plain"),
            (b"x-multi", b"1"),
            (b"accept", b"*/*"),
            (b"x-multi", b"2"),
            (b"x-latin", b"caf\xe9"),
        ]
    )


def test_headers_lookup_is_case_insensitive() -> None:
    h = _headers()
    assert h["Content-Type"] == "text/plain"
    assert h["CONTENT-TYPE"] == "text/plain"
    assert h.get("Accept") == "*/*"
    assert "X-Multi" in h
    assert "x-none" not in h
    not_a_name: object = 42
    assert not_a_name not in h


def test_headers_item_is_the_first_value_and_getall_every_value() -> None:
    h = _headers()
    assert h["x-multi"] == "1"
    assert h.getall("X-MULTI") == ["1", "2"]
    assert h.getall("x-none") == []


def test_headers_missing_name_raises_or_gives_the_default() -> None:
    h = _headers()
    with pytest.raises(KeyError):
        h["x-none"]
    assert h.get("x-none") is None
    assert h.get("x-none", "d") == "d"


def test_headers_values_are_decoded_as_latin1() -> None:
    assert _headers()["x-latin"] == "café"


def test_headers_iterate_distinct_names_in_order_and_keep_raw() -> None:
    h = _headers()
    assert list(h) == ["content-type", "x-multi", "accept", "x-latin"]
    assert len(h) == 4
    assert h.raw[3] == (b"x-multi", b"2")
    assert dict(h.items())["x-multi"] == "1"


def test_headers_equality_and_repr() -> None:
    h = Headers([(b"a", b"1"), (b"a", b"2")])
    assert h == {"a": "1"}
    assert h == Headers([(b"a", b"1")])  # as a mapping: first values
    assert h != {"a": "2"}
    assert repr(h) == "Headers([('a', '1'), ('a', '2')])"


def test_headers_empty() -> None:
    h = Headers([])
    assert (len(h), list(h), h.get("a")) == (0, [], None)
