#!/usr/bin/env python3
"""What Ansible itself costs a no-op rerun, apart from the modules: the floor under (b).

Times, with the repository's ansible.cfg (Mitogen) on an inventory:
- the start: `ansible-playbook --version`, and the site parsed and listed (`--list-tasks`);
- a playbook of N trivial tasks (half set_fact, half a skipped debug), against the same
  playbook with none: the cost of a task that calls no module worth the name.
Then the floor of a site run of T tasks: start + T x the cost per task. Nothing talks to a
cluster. Usage: python3 hack/task_floor.py [inventory] [N] [T]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_DEPRECATION_WARNINGS": "0"}


def timed(*args: str) -> float:
    started = time.monotonic()
    subprocess.run(args, cwd=ROOT, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def playbook(folder: Path, n: int) -> Path:
    tasks = "".join(
        f"    - name: Task {i}\n      ansible.builtin.debug:\n        msg: skipped\n      when: false\n"
        if i % 2
        else f"    - name: Task {i}\n      ansible.builtin.set_fact:\n        floor_{i}: {i}\n"
        for i in range(n)
    )
    path = folder / f"floor-{n}.yml"
    path.write_text(
        "- name: Floor\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        + (tasks or "    - name: Nothing\n      ansible.builtin.meta: noop\n")
    )
    return path


def best(runs: int, *args: str) -> float:
    return min(timed(*args) for _ in range(runs))


def main() -> None:
    inventory = sys.argv[1] if len(sys.argv) > 1 else "inventories/sandbox"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    site_tasks = int(sys.argv[3]) if len(sys.argv) > 3 else 141
    version = best(3, "ansible-playbook", "--version")
    listed = best(3, "ansible-playbook", "-i", inventory, "playbooks/site.yml", "--list-tasks")
    with tempfile.TemporaryDirectory() as tmp:
        empty = best(3, "ansible-playbook", "-i", inventory, str(playbook(Path(tmp), 0)))
        full = best(3, "ansible-playbook", "-i", inventory, str(playbook(Path(tmp), n)))
    per_task = (full - empty) / n
    rows = [
        ("ansible-playbook --version", f"{version:.2f} s"),
        ("the site parsed and listed", f"{listed:.2f} s"),
        ("a one-task playbook", f"{empty:.2f} s"),
        (f"{n} trivial tasks", f"{full:.2f} s ({per_task * 1000:.0f} ms a task)"),
        (f"floor of a site run of {site_tasks} tasks", f"{listed + site_tasks * per_task:.2f} s (start + tasks)"),
    ]
    for what, value in rows:
        print(f"{what + ':':42s}{value}")
    print("(best of three each; add the first kubernetes.core call's Mitogen start and client import)")


if __name__ == "__main__":
    main()
