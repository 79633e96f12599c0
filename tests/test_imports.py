"""Importing typhoon stays light: no optional heavy dependency is loaded behind the user's back.

Each check runs in a fresh interpreter, since this test process has imported much more.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

HEAVY = ("jinja2", "sqlalchemy", "redis", "alembic", "asyncpg", "twisted", "argon2")

_PROBE = """
import json, sys
import {module}
heavy = {heavy!r}
loaded = sorted(
    name for name in sys.modules
    if name.split(".")[0] in heavy or name.startswith("typhoon.testing")
)
print(json.dumps(loaded))
"""


@pytest.mark.parametrize("module", ["typhoon", "typhoon.web", "typhoon.http", "typhoon.net"])
def test_import_loads_no_heavy_optional_dependency(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module, heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_probe_would_see_a_heavy_module() -> None:
    # The check above is only meaningful if the probe notices a loaded heavy module.
    installed = [name for name in HEAVY if importlib.util.find_spec(name) is not None]
    if not installed:
        pytest.skip("none of the optional dependencies is installed")
    name = installed[0]
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=f"typhoon, {name}", heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert name in json.loads(result.stdout)
