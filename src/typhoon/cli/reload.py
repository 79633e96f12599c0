"""Development reload: which directories to watch, and a stream of Python file changes.

The supervisor (:mod:`typhoon.cli.workers`) consumes :func:`python_changes` and starts
a fresh worker on each batch. Watching is done by ``watchfiles`` (the ``[reload]``
extra), imported only here and only when ``--reload`` is given.
"""

from __future__ import annotations

import asyncio
import importlib.machinery
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

INSTALL_HINT = "--reload needs the watchfiles package: pip install 'typhoon[reload]'"


def check_available() -> None:
    """Raise ``ValueError`` with an install hint when watchfiles is missing."""
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        raise ValueError(INSTALL_HINT) from None


def app_directory(spec: str) -> Path:
    """The directory holding the application named by ``module:attr``, found without
    importing anything.

    For a module inside a package, that is the top-level package's directory; for a
    plain module, the directory of its file. When the module cannot be found (the
    worker will report why), the current directory.
    """
    top = spec.partition(":")[0].split(".")[0]
    cwd = os.getcwd()
    search = [cwd, *(path for path in sys.path if path and path != cwd)]
    found = importlib.machinery.PathFinder.find_spec(top, search) if top else None
    if found is None:
        return Path(cwd)
    if found.submodule_search_locations:
        return Path(next(iter(found.submodule_search_locations)))
    if found.origin and found.has_location:
        return Path(found.origin).parent
    return Path(cwd)


def watched_directories(spec: str, extra: Sequence[str]) -> list[Path]:
    """The app's directory plus ``extra``, resolved, without duplicates or nesting.

    Raises:
        ValueError: a directory in ``extra`` does not exist.
    """
    chosen: list[Path] = []
    for path in (app_directory(spec), *(Path(p) for p in extra)):
        resolved = path.resolve()
        if not resolved.is_dir():
            raise ValueError(f"reload_dirs: {str(path)!r} is not a directory")
        chosen.append(resolved)
    kept: list[Path] = []
    for path in sorted(set(chosen), key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(parent) for parent in kept):
            kept.append(path)
    return kept


async def python_changes(
    directories: Sequence[Path], stop: asyncio.Event
) -> AsyncIterator[list[Path]]:
    """Yield the Python files changed under ``directories``, a batch at a time, until
    ``stop`` is set."""
    from watchfiles import PythonFilter, awatch

    async for changes in awatch(*directories, watch_filter=PythonFilter(), stop_event=stop):
        yield sorted({Path(path) for _, path in changes})
