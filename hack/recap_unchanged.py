#!/usr/bin/env python3
"""The one rule for "this run changed nothing", used by CI, `make bench` and Molecule.

    recap_unchanged.py LOG      (or - for standard input)

Passes only when LOG, the output of ansible-playbook, ends with a PLAY RECAP in
which every host reports changed=0, failed=0 and unreachable=0. A recap with one
unchanged host beside a changed one fails, as does a log with no recap at all.
Colours are ignored: Molecule run from a terminal sets ANSIBLE_FORCE_COLOR, and
a run it starts (a scenario's check-mode preview) prints its recap in colour.
Hand-written: ansible-playbook has no option that fails a run for changing
something, and its JSON callback would hide the output users read.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# The SGR sequences ansible-playbook colours its output with (ESC [ n;n m).
COLOUR = re.compile(r"\x1b\[[0-9;]*m")
RECAP_LINE = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def offenders(log: str) -> list[str]:
    """What keeps the recap from being clean, one entry per host; empty when it is clean."""
    log = COLOUR.sub("", log)
    if "PLAY RECAP" not in log:
        return ["no PLAY RECAP in the log: the run did not finish"]
    hosts = RECAP_LINE.findall(log[log.rindex("PLAY RECAP") :])
    if not hosts:
        return ["the PLAY RECAP names no host"]
    return [
        f"{host}: changed={changed} unreachable={unreachable} failed={failed}"
        for host, changed, unreachable, failed in hosts
        if (changed, unreachable, failed) != ("0", "0", "0")
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    log = sys.stdin.read() if argv[1] == "-" else Path(argv[1]).read_text(encoding="utf-8", errors="replace")
    bad = offenders(log)
    if bad:
        print("the run was not a clean no-op: " + "; ".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
