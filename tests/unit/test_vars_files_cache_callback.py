"""shipyard.platform.vars_files_cache: a play's vars_files file is parsed once per version, not once per task.

Each case runs a real playbook through ansible-core's own command line, from a small
wrapper that counts how often ansible-core's DataLoader parses the play's vars_files
file (its `load`, which `load_from_file` calls for every read that it does not take
from its cache). With the callback (the repository's ansible.cfg enables it) the file
is parsed once, and again only after a task rewrote it, whose new values the later
tasks see; without the callback it is parsed again for every task.
"""

from __future__ import annotations

import os
from pathlib import Path

from localplay import ROOT, run_local_playbook

ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
ENV.pop("ANSIBLE_CALLBACKS_ENABLED", None)
TASKS = 12

COUNTING_RUNNER = """\
import atexit, os, sys
from ansible.parsing.dataloader import DataLoader

target = os.path.realpath(sys.argv.pop(1))
parses = []
load = DataLoader.load

def counting_load(self, data, file_name=None, *args, **kwargs):
    if file_name and os.path.realpath(file_name) == target:
        parses.append(file_name)
    return load(self, data, file_name, *args, **kwargs)

DataLoader.load = counting_load
pid = os.getpid()
atexit.register(lambda: os.getpid() == pid and print(f"PARSES={len(parses)}"))
sys.argv = ["ansible-playbook", *sys.argv[1:]]
from ansible.cli.playbook import main
main()
"""


def playbook(rewrite: bool) -> str:
    reads = "".join(
        f"""
    - name: Read the shared value {n}
      ansible.builtin.assert:
        that: shared == 'first'
"""
        for n in range(TASKS)
    )
    after = ""
    if rewrite:
        after = """
    - name: Rewrite the vars file, as a task that renders it would
      ansible.builtin.copy:
        content: "shared: second, and longer\\n"
        dest: "{{ playbook_dir }}/vars/shared.yml"
        mode: "0600"

    - name: See the new value
      ansible.builtin.assert:
        that: shared == 'second, and longer'
"""
    return f"""\
- name: Share a value through vars_files
  hosts: localhost
  gather_facts: false
  vars_files: [vars/shared.yml]
  tasks:{reads}{after}
"""


def run(tmp_path: Path, rewrite: bool = False, **env: str) -> int:
    (tmp_path / "vars").mkdir(exist_ok=True)
    shared = tmp_path / "vars" / "shared.yml"
    shared.write_text("shared: first\n")
    (tmp_path / "site.yml").write_text(playbook(rewrite))
    (tmp_path / "runner.py").write_text(COUNTING_RUNNER)
    result = run_local_playbook(tmp_path / "site.yml", {**ENV, **env}, tmp_path / "runner.py", (str(shared),))
    counts = [line for line in result.stdout.splitlines() if line.startswith("PARSES=")]
    assert len(counts) == 1, result.stdout
    return int(counts[0].removeprefix("PARSES="))


def test_the_vars_file_is_parsed_once_for_all_tasks(tmp_path):
    assert run(tmp_path) == 1


def test_a_rewritten_vars_file_is_parsed_again_and_its_new_values_seen(tmp_path):
    # Once before the rewrite, once after it: the assert after it passed on the new value.
    assert run(tmp_path, rewrite=True) == 2


def test_without_the_callback_it_is_parsed_again_for_every_task(tmp_path):
    assert run(tmp_path, ANSIBLE_CALLBACKS_ENABLED="shipyard.platform.preload") >= TASKS
