"""make bench's verdict (hack/bench_report.py): the goals judged on the medians of its rounds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "hack/bench_report.py"


def bench(tmp_path: Path, rounds: str, objects: str = "116") -> subprocess.CompletedProcess:
    path = tmp_path / "rounds"
    path.write_text(rounds)
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(path), objects], capture_output=True, text=True, check=False
    )


def test_the_median_round_is_judged_not_a_lucky_one(tmp_path: Path) -> None:
    # Round 3's kubectl floor is slow enough to make its ratios pass; the medians do not.
    ran = bench(tmp_path, "30.0 14.0 6.0\n31.0 15.0 6.5\n26.0 13.0 9.1\n")
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("[bench] medians of 3 round(s): (a) first converge 30.0 s (26.0-31.0)")
    assert "(b) no-op rerun 14.0 s (13.0-15.0)" in lines[0]
    assert "(c) kubectl apply --server-side 6.5 s (6.0-9.1), 116 objects" in lines[0]
    assert lines[1] == "[bench] (a)/(c) = 4.6 (goal: at most 3, NOT met; 1 of 3 rounds met it)"
    assert lines[2] == (
        "[bench] (b)/(c) = 2.2 (goal: at most 2, NOT met); "
        "(b) = 14.0 s (goal: under 8 s, NOT met; 0 of 3 rounds met both)"
    )


def test_goals_met_on_the_medians_say_so(tmp_path: Path) -> None:
    ran = bench(tmp_path, "15.0 7.5 5.0\n")
    assert ran.returncode == 0, ran.stderr
    assert "(one round)" in ran.stdout
    assert "(a)/(c) = 3.0 (goal: at most 3, met; 1 of 1 rounds met it)" in ran.stdout
    assert "(b)/(c) = 1.5 (goal: at most 2, met); (b) = 7.5 s (goal: under 8 s, met; 1 of 1 rounds met both)" in (
        ran.stdout
    )


@pytest.mark.parametrize(
    ("rounds", "why"),
    [
        ("", "no round was recorded"),
        ("30.0 14.0\n", "line 1: expected three positive seconds"),
        ("30.0 14.0 0.0\n", "line 1: expected three positive seconds"),
        ("30.0 14.0 6.0\nabc 1 2\n", "could not convert"),
    ],
)
def test_a_broken_record_fails_naming_the_line(tmp_path: Path, rounds: str, why: str) -> None:
    ran = bench(tmp_path, rounds)
    assert ran.returncode == 1
    assert why in ran.stderr
    assert ran.stdout == ""
