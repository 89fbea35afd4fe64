"""A real playbook run on localhost (local connection, this Python) from the repository's root.

For the unit tests of the collection's callbacks: each runs a small playbook of
its own through ansible-core's command line, or through a wrapper script that
patches ansible-core to count what it does and then runs that command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

ROOT = Path(__file__).resolve().parents[1]

# The repository's ansible.cfg, output at -v without colours; the callbacks are ansible.cfg's unless a test names them.
VERBOSE_ENV = {
    **{k: v for k, v in os.environ.items() if k != "ANSIBLE_CALLBACKS_ENABLED"},
    "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
    "ANSIBLE_FORCE_COLOR": "0",
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_VERBOSITY": "1",
}
# The callbacks of ansible.cfg that change no task's way through the engine: a test names them with the one it tests.
PLAIN_CALLBACKS = "shipyard.platform.preload,shipyard.platform.code_cache,shipyard.platform.private_tmp"

# A runner (run_local_playbook's runner) that prints, at the end, the names of the tasks for which
# the run forked a worker ("FORKED=a|b") and the ansible-playbook process's PID ("PID=n").
COUNTING_RUNNER = """\
import atexit, os, sys
from ansible.executor.process.worker import WorkerProcess

forks = []
start = WorkerProcess.start

def counting_start(self, *args, **kwargs):
    forks.append(self._task.get_name())
    return start(self, *args, **kwargs)

WorkerProcess.start = counting_start
pid = os.getpid()
atexit.register(lambda: os.getpid() == pid and print("FORKED=" + "|".join(forks) + "\\nPID=" + str(pid)))
sys.argv = ["ansible-playbook", *sys.argv[1:]]
from ansible.cli.playbook import main
main()
"""


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


@pytest.fixture
def collection_loader():
    """The repository's collections importable in this process, as Ansible's loader makes them; then removed.

    An `ansible_collections` imported before (the `ansible` package's, which a test reads) would shadow the
    loader's: it is set aside meanwhile and put back after.
    """

    def ours(name: str) -> bool:
        return name == "ansible_collections" or name.startswith("ansible_collections.")

    aside = {name: module for name, module in sys.modules.items() if ours(name)}
    for name in aside:
        del sys.modules[name]
    finder = _AnsibleCollectionFinder(paths=[str(ROOT / "collections")])
    finder._install()
    try:
        yield
    finally:
        _AnsibleCollectionFinder._remove()
        for name in [name for name in sys.modules if ours(name)]:
            del sys.modules[name]
        sys.modules.update(aside)
