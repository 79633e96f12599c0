"""The settings loader: types, precedence, TOML files, error messages, help and docs.

Most tests run the loader in process on a sample group that has one field of every
supported type; the rest use the real registry (``GROUPS``) or the real command.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from typhoon.cli import config
from typhoon.cli.config import (
    GROUPS,
    Alias,
    ConfigError,
    Group,
    RunConfig,
    ServerConfig,
    resolve,
    settings_of,
    show_default,
)
from typhoon.http.limits import HTTPConfig, HTTPLimits
from typhoon.web.metrics import MetricsConfig

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Inner:
    depth: int = field(default=1, metadata={"help": "how deep"})

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ValueError(f"Inner.depth must be >= 1, got {self.depth}")


@dataclass(frozen=True)
class Sample:
    flag: bool = field(default=False, metadata={"help": "a switch"})
    count: int = 3
    ratio: float = 0.5
    name: str = "x"
    mode: Literal["fast", "slow"] = "fast"
    tags: tuple[str, ...] = ()
    path: str | None = None
    label: str | None = "on"
    inner: Inner = field(default_factory=Inner)


SAMPLE = (
    Group(
        "sample",
        Sample,
        aliases=(Alias("--old-count", "count"), Alias("--crawl", "mode", "slow")),
    ),
)


def load(
    argv: list[str] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    groups: tuple[Group, ...] = SAMPLE,
) -> config.Loaded:
    return resolve(argv or [], env or {}, cwd=cwd or Path("/nonexistent"), groups=groups)


def sample(loaded: config.Loaded) -> Sample:
    value = loaded.groups["sample"]
    assert isinstance(value, Sample)
    return value


def refused(
    argv: list[str] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    groups: tuple[Group, ...] = SAMPLE,
) -> str:
    with pytest.raises(ConfigError) as caught:
        load(argv, env, cwd, groups)
    return str(caught.value)


# -- defaults and precedence -------------------------------------------------------------


def test_nothing_given_yields_the_dataclass_defaults() -> None:
    loaded = load()
    assert sample(loaded) == Sample()
    assert {o.source for o in loaded.origins.values()} == {"default"}
    assert [s.name for s in loaded.settings] == [
        "flag",
        "count",
        "ratio",
        "name",
        "mode",
        "tags",
        "path",
        "label",
        "depth",
    ]


@pytest.mark.parametrize(
    ("cli", "env", "in_file", "expected", "source"),
    [
        (True, True, True, 30, "command line"),
        (False, True, True, 20, "environment"),
        (False, False, True, 10, "file"),
        (False, False, False, 3, "default"),
    ],
)
def test_precedence_is_cli_then_env_then_file_then_default(
    tmp_path: Path, cli: bool, env: bool, in_file: bool, expected: int, source: str
) -> None:
    (tmp_path / "t.toml").write_text("[sample]\ncount = 10\n" if in_file else "")
    loaded = load(
        ["--config", "t.toml", *(["--count", "30"] if cli else [])],
        {"TYPHOON_COUNT": "20"} if env else {},
        cwd=tmp_path,
    )
    assert sample(loaded).count == expected
    assert loaded.origins["count"].source == source


def test_origins_say_what_the_user_wrote(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text("[sample]\nname = 'f'\n[inner]\ndepth = 4\n")
    loaded = load(
        ["--count", "7", "--crawl", "--config", "t.toml"], {"TYPHOON_RATIO": "2"}, tmp_path
    )
    where = {name: origin.where for name, origin in loaded.origins.items()}
    assert where["count"] == "--count 7"
    assert where["mode"] == "--crawl"
    assert where["ratio"] == "TYPHOON_RATIO=2"
    assert where["name"] == "t.toml [sample] name"
    assert where["depth"] == "t.toml [inner] depth"
    assert where["flag"] == "default"


# -- each type ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("flag", "true", True),
        ("flag", "TRUE", True),
        ("flag", "1", True),
        ("flag", "yes", True),
        ("flag", "false", False),
        ("flag", "0", False),
        ("flag", "No", False),
        ("count", "-4", -4),
        ("ratio", "1e3", 1000.0),
        ("ratio", "2", 2.0),
        ("name", "hello world", "hello world"),
        ("name", "", ""),
        ("mode", "slow", "slow"),
        ("tags", "a, b,,c ", ("a", "b", "c")),
        ("tags", "", ()),
        ("path", "/run/x.sock", "/run/x.sock"),
        ("path", "", None),
        ("label", "", None),
    ],
)
def test_environment_text_is_parsed_by_type(name: str, text: str, expected: object) -> None:
    loaded = load(env={"TYPHOON_" + name.upper(): text})
    assert getattr(sample(loaded), name) == expected


@pytest.mark.parametrize(
    ("argv", "name", "expected"),
    [
        (["--flag"], "flag", True),
        (["--flag", "--no-flag"], "flag", False),
        (["--count", "9"], "count", 9),
        (["--old-count", "9"], "count", 9),
        (["--ratio", "0.25"], "ratio", 0.25),
        (["--mode", "slow"], "mode", "slow"),
        (["--crawl"], "mode", "slow"),
        (["--tags", "x,y"], "tags", ("x", "y")),
        (["--path", "p"], "path", "p"),
        (["--label", ""], "label", None),
        (["--no-label"], "label", None),
        (["--depth", "5"], "inner", Inner(5)),
    ],
)
def test_command_line_is_parsed_by_type(argv: list[str], name: str, expected: object) -> None:
    assert getattr(sample(load(argv)), name) == expected


def test_toml_values_are_parsed_by_type(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text(
        textwrap.dedent(
            """
            [sample]
            flag = true
            count = 12
            ratio = 3          # an integer is a fine float
            name = "n"
            mode = "slow"
            tags = ["a", "b"]
            path = ""          # empty: None
            label = "L"

            [inner]
            depth = "6"        # text is read like an environment variable
            """
        )
    )
    got = sample(load(["--config", "t.toml"], cwd=tmp_path))
    assert got == Sample(True, 12, 3.0, "n", "slow", ("a", "b"), None, "L", Inner(6))
    assert type(got.ratio) is float


def test_toml_booleans_accept_words_and_0_1(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("[sample]\nflag = 'yes'\n")
    (tmp_path / "b.toml").write_text("[sample]\nflag = 1\n")
    assert sample(load(["--config", "a.toml"], cwd=tmp_path)).flag is True
    assert sample(load(["--config", "b.toml"], cwd=tmp_path)).flag is True


# -- every error names the setting -------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TYPHOON_FLAG": "maybe"}, "TYPHOON_FLAG=maybe: must be true or false (or 1/0, yes/no)"),
        ({"TYPHOON_COUNT": "abc"}, "TYPHOON_COUNT=abc: must be an integer"),
        ({"TYPHOON_COUNT": ""}, "TYPHOON_COUNT=: must be an integer"),
        ({"TYPHOON_RATIO": "half"}, "TYPHOON_RATIO=half: must be a number"),
        (
            {"TYPHOON_MODE": "slwo"},
            "TYPHOON_MODE=slwo: must be one of fast, slow (did you mean slow?)",
        ),
        ({"TYPHOON_DEPTH": "0"}, "TYPHOON_DEPTH=0: must be >= 1, got 0"),
        ({"TYPHOON_CUONT": "1"}, "TYPHOON_CUONT: unknown setting (did you mean TYPHOON_COUNT?)"),
        ({"TYPHOON_DEPHT": "1"}, "TYPHOON_DEPHT: unknown setting (did you mean TYPHOON_DEPTH?)"),
    ],
)
def test_bad_environment_value_is_refused_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    assert refused(env=env) == message


def test_unrelated_typhoon_variables_are_left_alone() -> None:
    loaded = load(env={"TYPHOON_CHROMIUM": "/usr/bin/chromium", "TYPHOON_X": "1"})
    assert sample(loaded) == Sample()


def test_what_a_supervisor_tells_its_workers_is_not_taken_for_a_typo() -> None:
    env = dict.fromkeys(config.INTERNAL_ENV, "3")
    assert "TYPHOON_METRICS_DIR" in env  # one typo away from TYPHOON_METRICS
    loaded = load(["m:app"], env=env, groups=GROUPS)
    assert loaded.groups["metrics"] == MetricsConfig()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--count", "x"], "--count x: must be an integer"),
        (["--old-count", "x"], "--old-count x: must be an integer"),
        (["--mode", "medium"], "--mode medium: must be one of fast, slow"),
        (["--depth", "-1"], "--depth -1: must be >= 1, got -1"),
    ],
)
def test_bad_flag_value_is_refused_naming_the_flag(argv: list[str], message: str) -> None:
    assert refused(argv) == message


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[sample]\ncount = 1.5", "t.toml [sample] count: must be an integer, got 1.5"),
        ("[sample]\ncount = true", "t.toml [sample] count: must be an integer, got true"),
        ("[sample]\nflag = 2", "t.toml [sample] flag: must be true or false, got 2"),
        ("[sample]\ntags = [1]", "t.toml [sample] tags: must be a list of strings, got [1]"),
        ("[sample]\nname = 5", "t.toml [sample] name: must be a string, got 5"),
        ("[sample]\nmode = 'x'", "t.toml [sample] mode: must be one of fast, slow"),
        ("[inner]\ndepth = 0", "t.toml [inner] depth: must be >= 1, got 0"),
        ("[sample]\ncont = 1", "t.toml [sample] cont: unknown setting (did you mean count?)"),
        (
            "[sample]\ndepth = 1",
            "t.toml [sample] depth: unknown setting (depth belongs in [inner])",
        ),
        ("[sample]\ninner = 1", "t.toml [sample] inner: unknown setting ([inner] is a table"),
        ("[sampel]\ncount = 1", "t.toml [sampel]: unknown table (did you mean sample?)"),
        ("count = 1", "t.toml [count]: unknown table (count belongs in [sample])"),
        ("sample = 1", "t.toml [sample]: must be a table of settings"),
        ("[sample\n", "t.toml: not valid TOML"),
    ],
)
def test_bad_toml_is_refused_naming_file_table_and_key(
    tmp_path: Path, toml: str, message: str
) -> None:
    (tmp_path / "t.toml").write_text(toml + "\n")
    assert refused(["--config", "t.toml"], cwd=tmp_path).startswith(message)


def test_missing_config_file_is_refused_naming_its_source(tmp_path: Path) -> None:
    assert refused(["--config", "nope.toml"], cwd=tmp_path).startswith(
        "--config nope.toml: cannot read it: No such file or directory"
    )
    assert refused(env={"TYPHOON_CONFIG": "nope.toml"}, cwd=tmp_path).startswith(
        "TYPHOON_CONFIG nope.toml: cannot read it"
    )


def test_required_setting_without_value_is_refused() -> None:
    message = refused(groups=GROUPS)
    assert message == "app: no value; give the APP argument, TYPHOON_APP or app in [server]"


def test_combination_error_names_only_the_values_involved() -> None:
    message = refused(
        ["m:app", "--uds", "/tmp/x.sock", "--port", "1"], {"TYPHOON_FD": "3"}, groups=GROUPS
    )
    assert (
        message == "--uds /tmp/x.sock, TYPHOON_FD=3: uds and fd are alternatives: give one of them"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "70000"], "--port 70000: must be between 0 and 65535, got 70000"),
        (["--backlog", "0"], "--backlog 0: must be at least 1, got 0"),
        (["--fd", "-2"], "--fd -2: must be >= 0, got -2"),
        (["--log-level", "verbose"], "--log-level verbose: must be one of critical, error"),
        (["--max-body-bytes", "0"], "--max-body-bytes 0: must be a positive integer, got 0"),
        (["--keep-alive-timeout-s", "-1"], "--keep-alive-timeout-s -1: must be positive"),
        (["--server-header", "\x01"], "--server-header \x01: must be printable ASCII"),
    ],
)
def test_real_settings_are_validated_by_their_dataclasses(argv: list[str], message: str) -> None:
    assert refused(["m:app", *argv], groups=GROUPS).startswith(message)


# -- registration ------------------------------------------------------------------------


def test_a_name_in_two_groups_is_refused_at_registration() -> None:
    @dataclass(frozen=True)
    class Other:
        count: int = 1

    with pytest.raises(TypeError, match=r"setting 'count' of \[other\] is also in \[sample\]"):
        settings_of((*SAMPLE, Group("other", Other)))


def test_an_unsupported_type_is_refused_at_registration() -> None:
    @dataclass(frozen=True)
    class Odd:
        pairs: dict[str, int] = field(default_factory=dict)

    with pytest.raises(TypeError, match="unsupported setting type"):
        settings_of((Group("odd", Odd),))


def test_every_field_of_the_registered_groups_is_a_setting() -> None:
    names = {s.name for s in settings_of(GROUPS)}
    for kind in (ServerConfig, HTTPLimits):
        assert {f.name for f in dataclasses.fields(kind)} <= names
    assert {f.name for f in dataclasses.fields(HTTPConfig)} - names == {"limits", "proxy"}
    assert all(s.help and s.help != s.name.replace("_", " ") for s in settings_of(GROUPS))


def test_run_config_groups_everything_and_limits_sit_in_http(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text("[limits]\nmax_body_bytes = 1024\n[http]\naccess_log = 0\n")
    loaded = load(["m:app", "--config", "t.toml", "--no-uvloop"], cwd=tmp_path, groups=GROUPS)
    run = RunConfig.from_groups(loaded.groups)
    assert run.server == ServerConfig(app="m:app", loop="asyncio")
    assert run.http == HTTPConfig(limits=HTTPLimits(max_body_bytes=1024), access_log=False)
    assert run.get(HTTPConfig) is run.http
    assert run.get(ServerConfig) is run.server
    assert set(run.extra) == {g.table for g in GROUPS} - {"server", "http"}
    with pytest.raises(KeyError):
        run.get(HTTPLimits)
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.server = run.server  # type: ignore[misc]


def test_an_extra_group_lands_in_extra_and_get() -> None:
    loaded = load(["m:app", "--count", "2"], groups=(*GROUPS, *SAMPLE))
    run = RunConfig.from_groups(loaded.groups)
    assert run.get(Sample) == Sample(count=2)
    assert list(run.extra)[-1] == "sample"


# -- pyproject.toml ----------------------------------------------------------------------


def test_pyproject_tool_typhoon_is_read_when_no_config_is_given(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'x'\n[tool.typhoon.sample]\ncount = 8\n"
    )
    loaded = load(cwd=tmp_path)
    assert sample(loaded).count == 8
    assert loaded.origins["count"].where == "pyproject.toml [tool.typhoon.sample] count"


def test_pyproject_errors_name_the_tool_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.typhoon.sample]\ncount = 'many'\n")
    assert refused(cwd=tmp_path) == "pyproject.toml [tool.typhoon.sample] count: must be an integer"


def test_pyproject_without_tool_typhoon_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.other]\ncount = 'many'\n")
    assert sample(load(cwd=tmp_path)) == Sample()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_an_explicit_config_file_replaces_pyproject(tmp_path: Path, how: str) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.typhoon.sample]\ncount = 8\nname = 'p'\n")
    (tmp_path / "t.toml").write_text("[sample]\ncount = 9\n")
    argv = ["--config", "t.toml"] if how == "flag" else []
    env = {"TYPHOON_CONFIG": "t.toml"} if how == "env" else {}
    got = sample(load(argv, env, cwd=tmp_path))
    assert (got.count, got.name) == (9, "x")


# -- printing ----------------------------------------------------------------------------


def test_to_toml_reads_back_to_the_same_settings(tmp_path: Path) -> None:
    loaded = load(
        ["--flag", "--tags", "a,b", "--no-label", "--ratio", "0.1"], {"TYPHOON_NAME": 'q"t'}
    )
    text = config.to_toml(loaded)
    assert re.search(r'^name = "q\\"t" +# TYPHOON_NAME=q"t$', text, re.MULTILINE), text
    assert re.search(r"^count = 3 +# default$", text, re.MULTILINE), text
    assert re.search(r"^\[inner\]$", text, re.MULTILINE), text
    (tmp_path / "printed.toml").write_text(text)
    again = load(["--config", "printed.toml"], cwd=tmp_path)
    assert again.groups == loaded.groups
    assert {o.source for o in again.origins.values()} == {"file"}


# -- help and docs -----------------------------------------------------------------------


def help_text() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "typhoon", "run", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    return done.stdout[: done.stdout.rindex("\n\n")]  # without the epilog


def test_help_documents_every_setting_with_its_env_and_default() -> None:
    text = help_text()
    entries = re.split(r"\n\n|\n  (?=-|[A-Z]{2})", text)
    for setting in settings_of(GROUPS):
        head = setting.name.upper() if setting.positional else setting.flag
        [entry] = [e for e in entries if re.match(rf"{re.escape(head)}\b(?!-)", e)]
        compact = " ".join(entry.split())
        assert setting.help in compact, compact
        assert f"env {setting.env} " in compact, compact
        assert compact.endswith(f"(default: {show_default(setting)})"), compact
    for flag in ("--no-access-log", "--no-server-header", "--no-cancel-on-disconnect"):
        assert flag in text
    for alias in ("--no-uvloop", "--graceful-timeout S"):
        assert f"\n  {alias} " in text


def test_docs_table_matches_the_registry() -> None:
    doc = (REPO / "docs" / "server.md").read_text()
    begin, end = "<!-- settings table: begin -->\n", "<!-- settings table: end -->"
    table = doc[doc.index(begin) + len(begin) : doc.index(end)]
    assert table == config.markdown_table(GROUPS), (
        "docs/server.md is stale: run python docs/settings_table.py"
    )
