"""shipyard.platform.warm_connection: a host's lasting interpreter is started, its imports done, before a task needs it.

Each case runs a real playbook through ansible-core's command line with the repository's
Mitogen strategy: a first task that runs in the controller and takes a while (the site's
input checks do), then a probe module that reports, from inside the interpreter Mitogen
gives the host, whether a module it never imports itself (the Kubernetes client) is
already imported there, and that interpreter's PID. With the callback the helper asked
the multiplexer for that same interpreter and imported the client in it; without it, or
with other imports, the probe finds nothing. The connection stack the helper asks for is
checked case by case against what Mitogen builds for a local host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import trust_as_template
from localplay import PLAIN_CALLBACKS, VERBOSE_ENV, collection_loader, run_local_playbook

WARM = f"{PLAIN_CALLBACKS},shipyard.platform.controller_actions,shipyard.platform.warm_connection"
COLD = f"{PLAIN_CALLBACKS},shipyard.platform.controller_actions"

PROBE = """\
from __future__ import annotations

import os
import sys

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={})
    module.exit_json(changed=False, imported="kubernetes" in sys.modules, pid=os.getpid())


if __name__ == "__main__":
    main()
"""

PLAYBOOK = """\
- name: Warm
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Work in the controller for a while, as the site's input checks do
      ansible.builtin.set_fact:
        slept: "{{ lookup('ansible.builtin.pipe', 'sleep ' ~ (pause | default(0) | float)) }}"

    - name: Ask the host's interpreter what it holds
      probe:
      register: first

    - name: Ask again
      probe:
      register: second

    - name: Keep the answers
      ansible.builtin.copy:
        content: "{{ {'first': first, 'second': second} | to_json }}"
        dest: "{{ playbook_dir }}/answers.json"
        mode: "0600"
"""

# Runs that end before any task needs the host, as a run that fails its input checks does. The first ends
# once the file named in `until` holds something.
UNTIL_PLAYBOOK = """\
- name: Until
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Wait in the controller until the file is there
      ansible.builtin.set_fact:
        waited: "{{ lookup('ansible.builtin.pipe', 'until [ -s ' ~ until ~ ' ]; do sleep 0.1; done') }}"
"""
SHORT_PLAYBOOK = """\
- name: Short
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Only a controller task
      ansible.builtin.debug:
        msg: done
"""


def probe(tmp_path: Path, callbacks: str, *extra: str, play_vars: str = "", **env: str) -> tuple[dict, str]:
    """Run PLAYBOOK with the callbacks, `play_vars` (YAML lines) added to its play's vars."""
    (tmp_path / "library").mkdir(exist_ok=True)
    (tmp_path / "library" / "probe.py").write_text(PROBE)
    playbook = PLAYBOOK.replace("  gather_facts: false\n", f"  gather_facts: false\n  vars:\n    {play_vars}\n")
    (tmp_path / "warm.yml").write_text(playbook if play_vars else PLAYBOOK)
    run = run_local_playbook(
        tmp_path / "warm.yml",
        {**VERBOSE_ENV, "ANSIBLE_VERBOSITY": "3", "ANSIBLE_CALLBACKS_ENABLED": callbacks, **env},
        extra_args=extra,
    )
    return json.loads((tmp_path / "answers.json").read_text()), run.stdout + run.stderr


def test_the_first_task_that_needs_the_host_finds_its_interpreter_with_the_client_imported(tmp_path):
    # Six seconds of the controller's work: the helper takes one or two on a busy machine of two cores.
    answers, output = probe(tmp_path, WARM, "-e", "pause=6")
    assert answers["first"]["imported"] is True, output
    # The same lasting interpreter runs both tasks: the helper did not start one of its own beside it.
    assert answers["first"]["pid"] == answers["second"]["pid"]
    assert "shipyard.platform.warm_connection: localhost: interpreter ready in" in output
    assert "imported kubernetes in" in output


@pytest.mark.parametrize(
    ("callbacks", "env", "said", "unsaid"),
    [
        (COLD, {}, None, "warm_connection"),
        (WARM, {"SHIPYARD_WARM_IMPORTS": "json"}, "imported json in", None),
        (WARM, {"ANSIBLE_STRATEGY": "linear"}, None, "interpreter ready"),
        (
            WARM,
            {"SHIPYARD_WARM_IMPORTS": "kubernetes,os; print(1)"},
            "warm_connection: off: imports: not module names: os; print(1)",
            None,
        ),
    ],
    ids=["without-the-callback", "other-imports", "a-strategy-without-mitogen", "a-name-that-is-not-a-module"],
)
def test_otherwise_the_first_task_imports_the_client_itself(tmp_path, callbacks, env, said, unsaid):
    answers, output = probe(tmp_path, callbacks, **env)
    assert answers["first"]["imported"] is False, output
    assert said is None or said in output
    assert unsaid is None or unsaid not in output


@pytest.mark.parametrize(
    ("play_vars", "imported", "said"),
    [
        ("shipyard_warm_connection_imports: []", False, "localhost: interpreter ready in"),
        ("shipyard_warm_connection_imports: [json]", False, "imported json in"),
        (
            "shipyard_warm_connection_imports: kubernetes",
            False,
            "localhost not warmed: shipyard_warm_connection_imports is not a list of module names: 'kubernetes'",
        ),
        ("shipyard_warm_connection_imports: [kubernetes]", True, "imported kubernetes in"),
    ],
    ids=["none", "others", "not-a-list", "the-client"],
)
def test_a_play_names_its_own_imports(tmp_path, play_vars, imported, said):
    """playbooks/render.yml talks to no cluster and names none: a render or a refused run does not import
    the client (a render 3.9 s and 4.0 core-seconds with it, 3.5 s and 3.6 without)."""
    # The client's import is waited for as in the first test; the others need no pause.
    answers, output = probe(tmp_path, WARM, "-e", f"pause={6 if imported else 0}", play_vars=play_vars)
    assert answers["first"]["imported"] is imported, output
    assert said in output
    if play_vars.endswith("[]"):
        assert "imported nothing in" in output


@pytest.mark.parametrize(
    ("task_vars", "become", "expected"),
    [
        (
            {"ansible_connection": "local", "ansible_python_interpreter": "/opt/py/bin/python3 -X dev"},
            False,
            [{"method": "local", "kwargs": {"python_path": ["/opt/py/bin/python3", "-X", "dev"]}}],
        ),
        (
            {"ansible_connection": "local", "ansible_python_interpreter": "{{ here }}/python", "here": "/opt/py"},
            False,
            [{"method": "local", "kwargs": {"python_path": ["/opt/py/python"]}}],
        ),
        (
            {"ansible_connection": "ssh", "ansible_python_interpreter": "/usr/bin/python3"},
            False,
            "its connection is 'ssh', not local",
        ),
        (
            {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"},
            True,
            "it uses become or mitogen_via",
        ),
        (
            {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3", "mitogen_via": "x"},
            False,
            "it uses become or mitogen_via",
        ),
        # Mitogen discovers such an interpreter through the connection itself: nothing to ask for ahead.
        (
            {"ansible_connection": "local", "ansible_python_interpreter": "auto_silent"},
            False,
            "its interpreter is discovered, not named",
        ),
    ],
    ids=["named", "templated", "ssh", "become", "mitogen_via", "discovered"],
)
@pytest.mark.usefixtures(collection_loader.__name__)
def test_the_stack_asked_for_is_the_one_mitogen_builds_for_a_local_host(task_vars, become, expected):
    # Importable only once the fixture has installed Ansible's collection loader.
    from ansible_collections.shipyard.platform.plugins.callback.warm_connection import (  # noqa: PLC0415
        local_stack,
    )

    task_vars = {k: trust_as_template(v) if isinstance(v, str) else v for k, v in task_vars.items()}
    task = SimpleNamespace(connection=None, become=False)
    play_context = SimpleNamespace(connection="ssh", become=become)
    assert local_stack(task, task_vars, play_context, DataLoader()) == expected


def left_behind(*marks: str) -> list[str]:
    """The PIDs of processes whose command line holds one of marks, 10 s after the run if any are there."""
    deadline = time.monotonic() + 10
    while True:
        left = [
            pid
            for mark in marks
            for pid in subprocess.run(["pgrep", "-f", mark], capture_output=True, text=True, check=False).stdout.split()
            if int(pid) != os.getpid()
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def test_a_run_that_ends_while_the_helper_imports_ends_as_soon_and_leaves_no_process_behind(tmp_path):
    """The helper's imports, here 30 s of them, are not waited for: the run ends once they have begun,
    and the interpreter that runs them ends with it. An end that waited for the helper took 30.7 s."""
    importing = tmp_path / "importing"
    (tmp_path / "slowimport.py").write_text(
        f"import os\nimport time\n\nopen({str(importing)!r}, 'w').write(f'{{os.getpid()}} {{time.time()}}')\n"
        "end = time.monotonic() + 30\nwhile time.monotonic() < end:\n    pass\n"
    )
    until = tmp_path / "until.yml"
    until.write_text(UNTIL_PLAYBOOK)
    env = {**VERBOSE_ENV, "ANSIBLE_VERBOSITY": "3", "ANSIBLE_CALLBACKS_ENABLED": WARM,
           "SHIPYARD_WARM_IMPORTS": "slowimport", "PYTHONPATH": str(tmp_path)}  # fmt: skip
    run = run_local_playbook(until, env, extra_args=("-e", f"until={importing}"))
    ended = time.time()
    assert "warm_connection: each local host's interpreter starts ahead" in run.stdout
    pid, began = importing.read_text().split()
    assert ended - float(began) < 10
    assert left_behind(str(until)) == []
    # The interpreter that imports goes with the run too.
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists(), f"the interpreter that imports is still there: {pid}"


def test_a_run_that_ends_while_the_interpreter_starts_waits_for_it_and_leaves_no_process_behind(tmp_path):
    """A multiplexer told to exit while one of its threads starts the interpreter a helper asked for
    could wait for that thread forever (a molecule create playbook of one debug task never ended in
    `make test`). So the run's end waits until the multiplexer has answered the helper, here about an
    interpreter that takes 3 s to start: it has started when the run returns. Without the helper, no
    interpreter starts at all."""
    started = tmp_path / "started"
    slow = tmp_path / "slow-python"
    slow.write_text(f'#!/bin/sh\nsleep 3\ntouch {started}\nexec {os.path.realpath(sys.executable)} "$@"\n')
    slow.chmod(0o755)
    short = tmp_path / "short.yml"
    short.write_text(SHORT_PLAYBOOK)
    for callbacks in (COLD, WARM):
        env = {**VERBOSE_ENV, "ANSIBLE_VERBOSITY": "3", "ANSIBLE_CALLBACKS_ENABLED": callbacks}
        run = run_local_playbook(short, env, extra_args=("-e", f"ansible_python_interpreter={slow}"))
        assert started.exists() is (callbacks == WARM), run.stdout + run.stderr
    assert "warm_connection: each local host's interpreter starts ahead" in run.stdout
    assert left_behind(str(short), str(slow)) == []
