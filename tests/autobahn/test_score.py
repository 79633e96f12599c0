"""The scoring of `make autobahn` (tests/autobahn/run.py --report), on made-up reports.

No server and no wstest: each test writes an index.json in wstest's shape and runs the
script on it, as `make autobahn` would after a run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parent / "run.py"


def case(behavior: str = "OK", close: str = "OK", code: int | None = 1000) -> dict[str, object]:
    return {
        "behavior": behavior,
        "behaviorClose": close,
        "duration": 3,
        "remoteCloseCode": code,
        "reportfile": "x.json",
    }


def score(tmp_path: Path, cases: dict[str, dict[str, object]]) -> subprocess.CompletedProcess[str]:
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"typhoon": cases}))
    return subprocess.run(
        [sys.executable, str(RUN), "--report", str(index)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def row(output: str, group: str) -> list[str]:
    line = next(x for x in output.splitlines() if x.startswith(f"{group:>2} "))
    return line.split()[-7:]  # OK NON-STRICT INFORMATIONAL UNIMPLEMENTED FAILED close!OK s


def test_score_all_ok_passes_with_counts_per_group(tmp_path: Path) -> None:
    done = score(tmp_path, {"1.1.1": case(), "1.1.2": case(), "12.1.1": case(), "2.1": case()})

    assert done.returncode == 0, done.stderr
    assert row(done.stdout, "1") == ["2", "0", "0", "0", "0", "0", "0.0"]
    assert row(done.stdout, "12") == ["1", "0", "0", "0", "0", "0", "0.0"]
    assert "not OK" not in done.stdout
    assert "gate: PASS" in done.stdout


def test_score_non_strict_informational_unimplemented_pass_and_are_listed(
    tmp_path: Path,
) -> None:
    done = score(
        tmp_path,
        {
            "6.4.3": case("NON-STRICT"),
            "7.1.6": case("INFORMATIONAL", "INFORMATIONAL"),
            "13.1.1": case("UNIMPLEMENTED", "UNIMPLEMENTED", None),
        },
    )

    assert done.returncode == 0, done.stderr
    assert "not OK (3):" in done.stdout
    assert "6.4.3      NON-STRICT" in done.stdout
    assert "13.1.1     UNIMPLEMENTED" in done.stdout
    assert "fails the gate" not in done.stdout


@pytest.mark.parametrize(
    ("behavior", "close"),
    [("FAILED", "OK"), ("OK", "FAILED"), ("OK", "WRONG CODE"), ("OK", "UNCLEAN")],
)
def test_score_failed_or_bad_close_fails_the_gate(
    tmp_path: Path, behavior: str, close: str
) -> None:
    done = score(tmp_path, {"5.1": case(), "5.2": case(behavior, close, 1002)})

    assert done.returncode == 1
    assert "5.2" in done.stdout
    assert "<- fails the gate" in done.stdout
    assert "gate: FAIL (1 case(s)" in done.stdout


def test_score_cases_sorted_numerically(tmp_path: Path) -> None:
    done = score(tmp_path, {"9.1.10": case("FAILED"), "9.1.2": case("FAILED"), "10.1.1": case()})

    listed = [x.split()[0] for x in done.stdout.splitlines() if x.startswith("  9.")]
    assert listed == ["9.1.2", "9.1.10"]


def test_score_unreadable_report_is_a_harness_error(tmp_path: Path) -> None:
    index = tmp_path / "index.json"
    index.write_text("{}")
    done = subprocess.run(
        [sys.executable, str(RUN), "--report", str(index)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 2
    assert "expected the results of one agent" in done.stderr


def test_score_allowed_failure_passes_and_is_marked(tmp_path: Path) -> None:
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"typhoon": {"7.1.5": case("FAILED", "WRONG CODE", 1002)}}))
    done = subprocess.run(
        [sys.executable, str(RUN), "--report", str(index), "--allow", "7.1.5"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 0, done.stdout
    assert (
        "7.1.5      FAILED         close WRONG CODE   code 1002   (allowed: --allow)" in done.stdout
    )
    assert "gate: PASS (0 case(s)" in done.stdout
    assert "1 more allowed" in done.stdout
