#!/usr/bin/env python3
"""Where a run's task workers spend their time: ansible-playbook with a profiler in each worker.

Ansible forks one worker process per task and host; a profiler around the whole
ansible-playbook sees none of their time. This runs ansible-playbook in this
process with cProfile started in each worker, then prints the workers' summed
profile (cumulative time, the first N lines) and the totals of a few groups:
waiting for module results, connecting to Mitogen's lasting interpreter,
templating, conditions, and the manifests lookup. cProfile slows Python code
about twofold: read the shares, not the seconds.

    .venv/bin/python hack/worker_profile.py [--lines N] -- -i inventories/sandbox playbooks/site.yml
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
from pathlib import Path

# Groups of the summed profile: a label and the function whose cumulative time it is.
GROUPS = (
    ("waiting for module results (select.poll)", "{method 'poll' of 'select.poll' objects}"),
    ("connecting to Mitogen's interpreter", "connection.py:_connect_stack"),
    ("templating task arguments (finalize)", "_task.py:finalize"),
    ("templating, all (engine.template)", "_engine.py:template"),
    ("conditions (evaluate_conditional)", "_engine.py:evaluate_conditional"),
    ("the manifests lookup", "manifests.py:run"),
)


def profile_workers(argv: list[str], out: Path) -> int:
    from ansible.cli.playbook import main  # noqa: PLC0415 - after the worker is patched, as ansible-playbook imports it
    from ansible.executor.process import worker  # noqa: PLC0415 - imported only for this tool's run

    original = worker.WorkerProcess._run

    def _run(self):
        profile = cProfile.Profile()
        profile.enable()
        try:
            return original(self)
        finally:
            profile.disable()
            profile.dump_stats(out / f"{os.getpid()}.prof")

    worker.WorkerProcess._run = _run
    sys.argv = ["ansible-playbook", *argv]
    try:
        main()
    except SystemExit as ex:
        return int(ex.code or 0)
    return 0


def cumulative(stats: pstats.Stats, where: str) -> float:
    """Summed cumulative seconds of the functions whose 'file:function' ends with where ('{...}' for builtins)."""
    total = 0.0
    for (filename, _line, function), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        name = function if function.startswith("{") else f"{Path(filename).name}:{function}"
        if name == where or name.endswith(where):
            total += ct
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=30, help="lines of the summed profile to print")
    parser.add_argument("playbook_args", nargs=argparse.REMAINDER, help="after --: ansible-playbook's arguments")
    args = parser.parse_args()
    playbook_args = args.playbook_args[1:] if args.playbook_args[:1] == ["--"] else args.playbook_args
    with tempfile.TemporaryDirectory(prefix="shipyard-profile-") as folder:
        out = Path(folder)
        rc = profile_workers(playbook_args, out)
        stats, workers = None, 0
        for path in sorted(out.glob("*.prof")):
            try:
                one = pstats.Stats(str(path))
            except (EOFError, ValueError, TypeError):  # a worker ended before it wrote its profile
                continue
            workers += 1
            if stats is None:
                stats = one
            else:
                stats.add(one)
        if stats is None:
            print("no worker profile was written", file=sys.stderr)
            return rc or 1
        print(f"\n{workers} workers, {stats.total_tt:.2f} s in them (profiled)")
        for label, where in GROUPS:
            print(f"  {cumulative(stats, where):6.2f} s  {label}")
        stats.files = []  # not a line per worker's file before the table
        stats.sort_stats("cumulative").print_stats(args.lines)
    return rc


if __name__ == "__main__":
    sys.exit(main())
