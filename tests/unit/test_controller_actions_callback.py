"""shipyard.platform.controller_actions: set_fact, assert and the like run without a worker, with the same outcome.

Each case runs a real playbook through ansible-core's own command line, from a small
wrapper that names the tasks the run forks a worker for. Two hosts on the local
connection run each task in turn, so that a task whose fields one host's run templated
in place would show it on the other. The tasks cover what the controller must get right:
each of the actions, a result under no_log, a failure that is ignored and one that
is not, a field of the block templated per host, a timeout, the argument checks of a
role, an include of tasks and of a role, a loop, and the cases left to a worker
(delegation, a module). With the callback (the repository's ansible.cfg enables it) the
controller's actions fork no worker; the output, the recap and every registered result
are the same as without it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from localplay import COUNTING_RUNNER, PLAIN_CALLBACKS, VERBOSE_ENV, run_local_playbook

BASE = PLAIN_CALLBACKS
WITH = f"{BASE},shipyard.platform.controller_actions"

INVENTORY = """\
h1 ansible_connection=local flag=true
h2 ansible_connection=local flag=false
"""

ROLE_SPEC = """\
argument_specs:
  main:
    short_description: A role with a checked input
    options:
      probe_port:
        type: int
        required: true
"""

ROLE_TASKS = """\
- name: Use the port
  ansible.builtin.debug:
    var: probe_port
"""

INCLUDED = """\
- name: Say where the included tasks run
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }} in {{ ansible_parent_role_names | default(['no role']) | first }}"
  register: included
"""

PLAYBOOK = """\
- name: Run what never leaves the controller
  hosts: h1:h2
  gather_facts: false
  timeout: 30
  tasks:
    - name: Set a fact from the host's variables and this run's identity
      ansible.builtin.set_fact:
        who: "{{ inventory_hostname }}-{{ flag }}"
        identity: "{{ 'probe' | shipyard.platform.run_identity }}"
      register: facts

    - name: Set a secret fact
      ansible.builtin.set_fact:
        secret: hunter2
      no_log: true
      register: hidden

    - name: Assert what holds
      ansible.builtin.assert:
        that: who.startswith(inventory_hostname)
      register: asserted

    - name: Say something
      ansible.builtin.debug:
        msg: "{{ who }}"
      register: said

    - name: Check rules with the collection's action
      shipyard.platform.check:
        rules:
          - that: who is string
            msg: who is a string
      register: checked

    - name: A block whose error handling is templated per host
      ignore_errors: "{{ flag | bool }}"  # h1 ignores the failure below, h2 does not: the field must not leak
      block:
        - name: Fail on h1 (ignored) and h2
          ansible.builtin.fail:
            msg: "{{ who }} fails"
          register: failed

    - name: A loop of set_fact
      ansible.builtin.set_fact:
        looped: "{{ item }}"
      loop: [1, 2]
      register: looped_result

    - name: Delegated, left to a worker
      ansible.builtin.debug:
        msg: delegated
      delegate_to: localhost
      register: delegated

    - name: A module, left to a worker
      ansible.builtin.command: "true"
      changed_when: false
      register: commanded

    - name: A role's argument checks
      ansible.builtin.include_role:
        name: probe
      vars:
        probe_port: 8080

    - name: Include tasks
      ansible.builtin.include_tasks: included.yml

    - name: Write every registered result
      ansible.builtin.copy:
        content: "{{ {'facts': facts, 'hidden': hidden, 'asserted': asserted, 'said': said, 'checked': checked,
                      'failed': failed, 'looped': looped_result, 'delegated': delegated, 'included': included,
                      'commanded': commanded | dict2items | rejectattr('key', 'in', ['start', 'end', 'delta'])
                      | items2dict, 'who': who} | to_nice_json }}"
        dest: "{{ playbook_dir }}/registered-{{ inventory_hostname }}.json"
        mode: "0600"
      delegate_to: localhost
"""

IN_CONTROLLER = {
    "Set a fact from the host's variables and this run's identity",
    "Set a secret fact",
    "Assert what holds",
    "Say something",
    "Check rules with the collection's action",
    "Fail on h1 (ignored) and h2",
    "A role's argument checks",
    "probe : Validating arguments against arg spec 'main' - A role with a checked input",
    "probe : Use the port",
    "Include tasks",
    "Say where the included tasks run",
    "A loop of set_fact",
}


def run(folder: Path, callbacks: str) -> tuple[list[str], int, str, dict]:
    folder.mkdir()
    (folder / "site.yml").write_text(PLAYBOOK)
    (folder / "hosts").write_text(INVENTORY)
    (folder / "roles/probe/meta").mkdir(parents=True)
    (folder / "roles/probe/meta/argument_specs.yml").write_text(ROLE_SPEC)
    (folder / "roles/probe/tasks").mkdir()
    (folder / "roles/probe/tasks/main.yml").write_text(ROLE_TASKS)
    (folder / "included.yml").write_text(INCLUDED)
    (folder / "runner.py").write_text(COUNTING_RUNNER)
    # One worker at a time: each task's results then come in the inventory's order in both runs. With more,
    # a loaded machine once finished h2's worker first in one run and not in the other (a worker's task).
    env = {**VERBOSE_ENV, "ANSIBLE_CALLBACKS_ENABLED": callbacks, "ANSIBLE_ROLES_PATH": str(folder / "roles")}
    result = run_local_playbook(
        folder / "site.yml",
        {**env, "ANSIBLE_FORKS": "1"},
        folder / "runner.py",
        extra_args=("-i", str(folder / "hosts")),
        must_succeed=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr  # h2's failure, and nothing else
    lines = result.stdout.splitlines()
    forked = [line.removeprefix("FORKED=") for line in lines if line.startswith("FORKED=")]
    pid = [int(line.removeprefix("PID=")) for line in lines if line.startswith("PID=")]
    assert len(forked) == 1 and len(pid) == 1, result.stdout
    output = "\n".join(line for line in lines if not line.startswith(("FORKED=", "PID="))) + "\n" + result.stderr
    registered = {host: json.loads((folder / f"registered-{host}.json").read_text()) for host in ("h1",)}
    return forked[0].split("|"), pid[0], output, registered


def same(output: str) -> str:
    """The output without what differs between any two runs: the folder, the copy's temp file, the run's PID,
    the command's times, and so the checksums and the size of the file the results are written to (the PID
    in it can have one digit more in one run than in the other: PIDs wrap at 32768 here)."""
    output = re.sub(r"/(with|without)/", "/", output)
    output = re.sub(r"^( *)(delta|start|end|checksum|md5sum|size): .*$", r"\1\2: <varies>", output, flags=re.MULTILINE)
    output = re.sub(r"src: \S+", "src: <temp file>", output)
    return re.sub(r" pid \d+ ", " pid <pid> ", output)


def test_controller_actions_fork_no_worker_and_change_nothing_else(tmp_path):
    with_forks, with_pid, with_output, with_registered = run(tmp_path / "with", WITH)
    without_forks, without_pid, without_output, without_registered = run(tmp_path / "without", BASE)

    assert not IN_CONTROLLER & set(with_forks), with_forks
    assert set(without_forks) >= IN_CONTROLLER, without_forks
    assert set(without_forks) - set(with_forks) == IN_CONTROLLER
    # Left to a worker: the delegated task, the module, and the last copy.
    assert {"Delegated, left to a worker", "A module, left to a worker"} <= set(with_forks)
    # The same output, recap and registered results, but for the run's own PID.
    assert same(with_output) == same(without_output)
    assert "h1                         : ok=" in with_output and "ignored=1" in with_output
    assert re.search(r"h2 +: ok=\d+ +changed=0 +unreachable=0 +failed=1", with_output), with_output
    for host in with_registered:
        assert json.loads(same(json.dumps(with_registered[host]))) == json.loads(
            same(json.dumps(without_registered[host]))
        )
    # The run's identity names the ansible-playbook process, from a worker or from the controller alike.
    assert f" pid {with_pid} (probe)" in with_registered["h1"]["facts"]["ansible_facts"]["identity"]
    assert f" pid {without_pid} (probe)" in without_registered["h1"]["facts"]["ansible_facts"]["identity"]


def test_results_read_as_a_workers_would(tmp_path):
    _, _, output, registered = run(tmp_path / "with", WITH)
    h1 = registered["h1"]
    assert h1["who"] == "h1-true"
    assert h1["asserted"]["msg"] == "All assertions passed"
    assert h1["said"]["msg"] == "h1-true"
    assert h1["failed"]["failed"] is True and h1["failed"]["msg"] == "h1-true fails"
    assert [item["ansible_facts"]["looped"] for item in h1["looped"]["results"]] == [1, 2]
    assert h1["included"]["msg"] == "h1 in no role"
    # no_log hides the result in the output as a worker's.
    hidden = output.split("TASK [Set a secret fact]")[1].split("TASK [")[0]
    assert "hunter2" not in hidden and "the output has been hidden" in hidden
    assert h1["hidden"]["ansible_facts"] == {"secret": "hunter2"}  # registered whole, as a worker's result is
    # h2 did not ignore its failure: the block's field was templated for each host on its own.
    assert "fatal: [h2]: FAILED!" in output and "h2-false fails" in output
    assert "...ignoring" in output.split("fatal: [h2]")[0]
