"""The one "changed nothing" rule (hack/recap_unchanged.py) that CI, `make bench` and Molecule share."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from localplay import VERBOSE_ENV, run_local_playbook

SCRIPT = Path(__file__).resolve().parents[2] / "hack/recap_unchanged.py"


def recap(*hosts: tuple[str, int, int, int]) -> str:
    lines = [f"{h:<26} : ok=12   changed={c}    unreachable={u}    failed={f}    skipped=3" for h, c, u, f in hosts]
    return "TASK [x] ***\nok: [a]\n\nPLAY RECAP ***\n" + "\n".join(lines) + "\n"


def judge(log: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "-"], input=log, capture_output=True, text=True, check=False)


def test_every_host_unchanged_passes() -> None:
    assert judge(recap(("controller", 0, 0, 0), ("node-1", 0, 0, 0))).returncode == 0


@pytest.mark.parametrize(
    "hosts",
    [
        # One unchanged host beside a changed one: `grep -q 'changed=0 '` passed this.
        [("controller", 0, 0, 0), ("node-1", 2, 0, 0)],
        [("controller", 0, 0, 1)],
        [("controller", 0, 1, 0)],
        [("controller", 10, 0, 0)],
    ],
)
def test_any_host_changed_failed_or_unreachable_fails_naming_it(hosts: list[tuple[str, int, int, int]]) -> None:
    judged = judge(recap(*hosts))
    assert judged.returncode == 1
    bad = [h for h in hosts if h[1:] != (0, 0, 0)]
    assert all(f"{h[0]}: changed={h[1]}" in judged.stderr for h in bad), judged.stderr


def test_a_log_without_recap_fails() -> None:
    judged = judge("TASK [x] ***\nfatal: [controller]: FAILED!\n")
    assert judged.returncode == 1 and "did not finish" in judged.stderr


def test_only_the_last_recap_counts() -> None:
    assert judge(recap(("controller", 3, 0, 0)) + recap(("controller", 0, 0, 0))).returncode == 0


@pytest.mark.parametrize(("changed", "verdict"), [("false", 0), ("true", 1)])
def test_a_coloured_recap_is_judged_as_a_plain_one(tmp_path: Path, changed: str, verdict: int) -> None:
    # A real run with colours forced, as Molecule started from a terminal has its nested runs print.
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        f"    - {{name: one, ansible.builtin.command: 'true', changed_when: {changed}}}\n"
    )
    env = {**VERBOSE_ENV, "ANSIBLE_FORCE_COLOR": "1", "ANSIBLE_NOCOLOR": "0", "ANSIBLE_VERBOSITY": "0"}
    log = run_local_playbook(playbook, env).stdout
    assert "\x1b[" in log and "PLAY RECAP" in log  # coloured, as the rule must read it
    judged = judge(log)
    assert judged.returncode == verdict, judged.stderr
    assert verdict == 0 or "localhost: changed=1" in judged.stderr
