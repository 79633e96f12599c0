"""Rewrite the table of settings in docs/server.md from the registered dataclasses.

Run ``python docs/settings_table.py`` after adding or changing a setting;
tests/cli/test_config.py fails while the table is stale.
"""

from __future__ import annotations

from pathlib import Path

from typhoon.cli.config import GROUPS, markdown_table

DOC = Path(__file__).with_name("server.md")
BEGIN = "<!-- settings table: begin -->\n"
END = "<!-- settings table: end -->"


def main() -> None:
    text = DOC.read_text()
    start = text.index(BEGIN) + len(BEGIN)
    stop = text.index(END)
    DOC.write_text(text[:start] + markdown_table(GROUPS) + text[stop:])


if __name__ == "__main__":
    main()
