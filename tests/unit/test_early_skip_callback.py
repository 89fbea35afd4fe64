"""shipyard.platform.early_skip: a task whose condition is false is skipped in the controller, with the same outcome.

Each case runs a real playbook through ansible-core's own command line, from a small
wrapper that counts the worker processes the run forks. The playbook's tasks cover
what the worker's judgement depends on: a plain false condition, a no_log task, the
connection's magic variables (which the worker adds before it judges), a loop (judged
per item, so left to the worker), a condition that fails to evaluate and one that
warns. With the callback (the repository's ansible.cfg enables it) the tasks skipped
in the controller fork no worker; the run's output, its recap and every registered
result are the same as without it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from localplay import COUNTING_RUNNER, PLAIN_CALLBACKS, VERBOSE_ENV, run_local_playbook

# Verbose (VERBOSE_ENV): the output shows each skipped result, as the worker's would be shown.
WITHOUT = PLAIN_CALLBACKS
EARLY_SKIP_ALONE = f"{WITHOUT},shipyard.platform.early_skip"

PLAYBOOK = """\
- name: Judge conditions
  hosts: localhost
  gather_facts: false
  vars:
    disabled: false
  tasks:
    - name: Plainly false
      ansible.builtin.debug:
        msg: never
      when: disabled
      register: plain

    - name: False under no_log
      ansible.builtin.set_fact:
        secret: hunter2
      when: disabled | bool
      no_log: true
      register: hidden

    - name: False only once the connection's magic variables are there
      ansible.builtin.debug:
        msg: never
      when: ansible_host is not defined
      register: magic

    - name: True only once the connection's magic variables are there
      ansible.builtin.debug:
        msg: "{{ ansible_host }}"
      when: ansible_host is defined
      register: magic_true

    - name: The second of two conditions is false
      ansible.builtin.debug:
        msg: never
      when:
        - not disabled
        - 1 > 2
      register: second

    - name: A loop, judged per item
      ansible.builtin.debug:
        msg: "{{ item }}"
      loop: [1, 2]
      when: item > 1
      register: looped

    - name: A condition that fails to evaluate is left to the worker, which fails the task
      ansible.builtin.debug:
        msg: never
      when: no_such_variable.attribute
      ignore_errors: true  # the failure is what is tested: the registered result must say it
      register: broken

    - name: A false condition that warns is left to the worker, which reports the warning
      ansible.builtin.debug:
        msg: never
      when: "{{ disabled }}"
      register: warned

    - name: In a block that is off
      when: disabled
      block:
        - name: Inherits the block's condition
          ansible.builtin.debug:
            msg: never
          register: inherited

    - name: Write every registered result
      ansible.builtin.copy:
        content: "{{ {'plain': plain, 'hidden': hidden, 'magic': magic, 'magic_true': magic_true, 'second': second,
                      'looped': looped, 'broken': broken, 'warned': warned, 'inherited': inherited} | to_nice_json }}"
        dest: "{{ playbook_dir }}/registered.json"
        mode: "0600"
"""

EARLY = {
    "Plainly false",
    "False under no_log",
    "False only once the connection's magic variables are there",
    "The second of two conditions is false",
    "Inherits the block's condition",
}


def run(tmp_path: Path, **env: str) -> tuple[list[str], str, dict]:
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    (tmp_path / "runner.py").write_text(COUNTING_RUNNER)
    result = run_local_playbook(tmp_path / "site.yml", {**VERBOSE_ENV, **env}, tmp_path / "runner.py")
    lines = result.stdout.splitlines()
    forked = [line for line in lines if line.startswith("FORKED=")]
    assert len(forked) == 1, result.stdout
    # The warnings are on stderr: they belong to the output compared too.
    output = "\n".join(line for line in lines if not line.startswith(("FORKED=", "PID="))) + "\n" + result.stderr
    registered = json.loads((tmp_path / "registered.json").read_text())
    return forked[0].removeprefix("FORKED=").split("|"), output, registered


def same(output: str) -> str:
    """The output without what differs between any two runs: the folder and the copy's temp file."""
    output = re.sub(r"/(with|without)/", "/", output)
    return re.sub(r"src: \S+", "src: <temp file>", output)


def test_false_conditions_fork_no_worker_and_change_nothing_else(tmp_path):
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    # early_skip alone: controller_actions (also in ansible.cfg) would run the true debug tasks without workers.
    with_forks, with_output, with_registered = run(tmp_path / "with", ANSIBLE_CALLBACKS_ENABLED=EARLY_SKIP_ALONE)
    without_forks, without_output, without_registered = run(tmp_path / "without", ANSIBLE_CALLBACKS_ENABLED=WITHOUT)

    assert not EARLY & set(with_forks), with_forks
    assert set(without_forks) >= EARLY, without_forks
    assert set(without_forks) - set(with_forks) == EARLY
    # The registered results, the output and the recap are the same, task for task.
    assert with_registered == without_registered
    assert same(with_output) == same(without_output)
    assert "skipped=6" in with_output and "ignored=1" in with_output
    # The warning is the worker's, shown once, as without the callback.
    assert with_output.count("Conditionals should not be surrounded by templating delimiters") == 1
    assert "false_condition: 1 > 2" in with_output


def test_the_skipped_results_say_why(tmp_path):
    _, output, registered = run(tmp_path)
    assert registered["plain"] == {
        "changed": False,
        "skipped": True,
        "skip_reason": "Conditional result was False",
        "false_condition": "disabled",
    }
    assert registered["second"]["false_condition"] == "1 > 2"
    assert registered["inherited"]["false_condition"] == "disabled"
    assert registered["magic"]["skipped"] is True
    assert registered["magic_true"].get("skipped") is None and registered["magic_true"]["msg"]
    assert [item.get("skipped", False) for item in registered["looped"]["results"]] == [True, False]
    assert registered["broken"]["failed"] is True
    assert registered["warned"]["skipped"] is True
    # no_log censors the skipped result in the output as it censors the worker's.
    hidden = output.split("TASK [False under no_log]")[1].split("TASK [")[0]
    assert "the output has been hidden due to the fact that" in hidden
    assert "disabled | bool" not in hidden
