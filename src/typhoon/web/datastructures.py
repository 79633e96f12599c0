"""Multi-dicts for headers, query strings and forms."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Generic, TypeVar, overload

V = TypeVar("V")
D = TypeVar("D")


class MultiDict(Mapping[str, V], Generic[V]):
    """An immutable mapping where a key may have several values.

    ``d[key]`` and ``d.get(key)`` give the *last* value (a form field sent twice
    usually means "the latest"); :meth:`getall` gives every value in order.
    """

    __slots__ = ("_dict", "_items")

    def __init__(self, items: Iterable[tuple[str, V]] = ()) -> None:
        self._items = list(items)
        self._dict = dict(self._items)

    def __getitem__(self, key: str) -> V:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def getall(self, key: str) -> list[V]:
        """Every value of ``key``, in the order received (empty when absent)."""
        return [v for k, v in self._items if k == key]

    def multi_items(self) -> list[tuple[str, V]]:
        """Every (key, value) pair, repeated keys included, in order."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return sorted(self._items) == sorted(other._items)
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]


class Headers(Mapping[str, str]):
    """Request headers: case-insensitive, multi-valued, decoded lazily from raw bytes.

    ``headers["accept"]`` gives the first value; :meth:`getall` every value;
    :attr:`raw` the ``(name, value)`` bytes pairs as received (names lower-cased).
    """

    __slots__ = ("raw",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.raw = raw

    def _find(self, key: str) -> bytes | None:
        name = key.lower().encode("latin-1")
        for k, v in self.raw:
            if k == name:
                return v
        return None

    def __getitem__(self, key: str) -> str:
        value = self._find(key)
        if value is None:
            raise KeyError(key)
        return value.decode("latin-1")

    @overload
    def get(self, key: str, /) -> str | None: ...
    @overload
    def get(self, key: str, /, default: str | D) -> str | D: ...

    def get(self, key: str, /, default: object = None) -> object:
        value = self._find(key)
        return default if value is None else value.decode("latin-1")

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key) is not None

    def __iter__(self) -> Iterator[str]:
        seen: dict[str, None] = {}
        for k, _ in self.raw:
            seen.setdefault(k.decode("latin-1"), None)
        return iter(seen)

    def __len__(self) -> int:
        return len({k for k, _ in self.raw})

    def getall(self, key: str) -> list[str]:
        name = key.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self.raw if k == name]

    def __repr__(self) -> str:
        return f"Headers({[(k.decode('latin-1'), v.decode('latin-1')) for k, v in self.raw]!r})"
