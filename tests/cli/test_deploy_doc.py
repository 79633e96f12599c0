"""docs/deploy.md names only flags and TYPHOON_* variables that ``typhoon run`` knows."""

from __future__ import annotations

import re
from pathlib import Path

from typhoon.cli.config import GROUPS, settings_of
from typhoon.cli.main import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def run_flags() -> set[str]:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    run = commands.choices["run"]  # type: ignore[index]
    return {flag for action in run._actions for flag in action.option_strings}


def test_every_flag_in_deploy_md_is_a_typhoon_run_flag() -> None:
    text = DEPLOY.read_text()
    commands = re.findall(r"typhoon run [^\n`]*(?:\\\n[^\n`]*)*", text)
    named = set(re.findall(r"`(--[a-z][a-z-]*)", text))
    named |= {flag for command in commands for flag in re.findall(r"(--[a-z][a-z-]*)", command)}
    assert named, "deploy.md names no flag?"
    assert named - run_flags() == set()


def test_every_typhoon_variable_in_deploy_md_is_a_setting() -> None:
    known = {setting.env for setting in settings_of(GROUPS)}
    named = set(re.findall(r"\b(TYPHOON_[A-Z_]+)\b", DEPLOY.read_text()))
    assert named, "deploy.md names no variable?"
    assert named - known - {"TYPHOON_CONFIG"} == set()
