"""``typhoon shell module:attr``: a console with the app loaded (cli/shell.py)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from typhoon import App
from typhoon.cli.main import main
from typhoon.cli.shell import run_shell

REPO = Path(__file__).resolve().parents[2]


def _feed(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_the_console_awaits_at_the_top_level_and_runs_the_lifecycle(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = App()
    events: list[str] = []
    app.on_startup(lambda: events.append("startup"))
    app.on_shutdown(lambda: events.append("shutdown"))
    app.state_events = events  # type: ignore[attr-defined]
    monkeypatch.setattr("typhoon.cli.shell.BANNER", "banner {version} {python} {app}")
    # ``events`` reaches the console through the app: its namespace is app, typhoon, asyncio.
    _feed(
        monkeypatch,
        "events = app.state_events\n"
        "events.append('typed')\n"
        "value = await app.run_in_thread(lambda: 6 * 7)\n"
        "print('value', value)\n"
        "1 / 0\n"
        "print(typhoon.__name__, asyncio.__name__)\n",
    )
    assert run_shell(app) == 0
    out, err = capsys.readouterr()
    assert "value 42" in out
    assert "typhoon asyncio" in out
    assert "ZeroDivisionError: division by zero" in err  # shown, and the console went on
    assert err.startswith("banner ")
    assert events == ["startup", "typed", "shutdown"]


def test_no_startup_leaves_the_hooks_alone_and_exit_sets_the_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = App()
    events: list[str] = []
    app.on_startup(lambda: events.append("startup"))
    _feed(monkeypatch, "raise SystemExit(3)\n")
    assert run_shell(app, startup=False, banner="") == 3
    _feed(monkeypatch, "raise SystemExit('bye')\n")
    assert run_shell(app, startup=False, banner="") == 0
    assert events == []


def test_any_object_can_be_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    _feed(monkeypatch, "print(app is json.dumps)\n")
    assert main(["shell", "json:dumps"]) == 0  # not an App: no lifecycle to run


def test_a_bad_spec_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shell", "examples.hello:nope"]) == 2
    assert capsys.readouterr().err == (
        "typhoon shell: error: module 'examples.hello' has no attribute 'nope'\n"
    )


def test_the_command_reads_a_piped_script() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "typhoon", "shell", "examples.hello:app"],
        cwd=REPO,
        input="print(sorted(r.path for r in app.router.routes))\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "['/', '/json']" in done.stdout
    assert "await works at the top level" in done.stderr
