"""A real playbook run on localhost (local connection, this Python) from the repository's root.

For the unit tests of the collection's callbacks: each runs a small playbook of
its own through ansible-core's command line, or through a wrapper script that
patches ansible-core to count what it does and then runs that command line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_local_playbook(
    playbook: Path,
    env: dict[str, str],
    runner: Path | None = None,
    runner_args: tuple[str, ...] = (),
    extra_args: tuple[str, ...] = (),
    cwd: Path = ROOT,
    must_succeed: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run playbook on localhost with env; through runner (a Python script ending in ansible-playbook's main) if given.

    extra_args go to ansible-playbook before the playbook. Unless must_succeed is false, a run that fails
    fails the calling test, with the run's output.
    """
    command = [sys.executable, str(runner), *runner_args] if runner else ["ansible-playbook"]
    local = ["-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}"]
    result = subprocess.run(
        [*command, *local, *extra_args, str(playbook)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0 or not must_succeed, result.stdout + result.stderr
    return result
