#!/usr/bin/env python3
"""make bench's verdict: the medians of its rounds, their ratios, and each goal beside them.

    bench_report.py ROUNDS OBJECTS

ROUNDS holds one line per round, "(a) (b) (c)" in seconds: the site's first
converge, its no-op rerun, and kubectl apply --server-side of the same OBJECTS
objects. A single round moves by a third on this machine (kubectl's floor alone
from 6.1 to 9.1 s back to back), so the goals are judged on the medians;
beside each verdict, how many rounds met the goal on their own (bench.sh prints
each round's seconds). Exits 0 whatever the verdict: the bench measures, it
does not gate.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

GOAL_FIRST = 3.0  # (a)/(c) at most
GOAL_RERUN = 2.0  # (b)/(c) at most
GOAL_RERUN_SECONDS = 8.0  # (b) under


def read_rounds(text: str) -> list[tuple[float, float, float]]:
    """The rounds, each (a, b, c); a line that is not three positive numbers is an error."""
    rounds = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        values = tuple(float(field) for field in fields)
        if len(values) != 3 or min(values) <= 0:
            raise ValueError(f"line {number}: expected three positive seconds (a) (b) (c), got {line!r}")
        rounds.append(values)
    if not rounds:
        raise ValueError("no round was recorded")
    return rounds


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(rounds: list[tuple[float, float, float]], objects: int) -> list[str]:
    """The lines make bench prints: medians, their ratios against the goals, and how many rounds met each."""
    a, b, c = (statistics.median(column) for column in zip(*rounds, strict=True))
    n = len(rounds)
    first = sum(ra / rc <= GOAL_FIRST for ra, _, rc in rounds)
    rerun = sum(rb / rc <= GOAL_RERUN and rb < GOAL_RERUN_SECONDS for _, rb, rc in rounds)

    def spread(index: int) -> str:
        column = [r[index] for r in rounds]
        return f"{min(column):.1f}-{max(column):.1f}" if n > 1 else "one round"

    return [
        f"[bench] medians of {n} round(s): (a) first converge {a:.1f} s ({spread(0)}), "
        f"(b) no-op rerun {b:.1f} s ({spread(1)}), (c) kubectl apply --server-side {c:.1f} s ({spread(2)}), "
        f"{objects} objects",
        f"[bench] (a)/(c) = {a / c:.1f} (goal: at most {GOAL_FIRST:g}, {verdict(a / c <= GOAL_FIRST)}; "
        f"{first} of {n} rounds met it)",
        f"[bench] (b)/(c) = {b / c:.1f} (goal: at most {GOAL_RERUN:g}, {verdict(b / c <= GOAL_RERUN)}); "
        f"(b) = {b:.1f} s (goal: under {GOAL_RERUN_SECONDS:g} s, {verdict(b < GOAL_RERUN_SECONDS)}; "
        f"{rerun} of {n} rounds met both)",
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        rounds = read_rounds(Path(argv[1]).read_text())
    except (OSError, ValueError) as ex:
        print(f"[bench] ERROR: the rounds in {argv[1]}: {ex}", file=sys.stderr)
        return 1
    print("\n".join(report(rounds, int(argv[2]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
