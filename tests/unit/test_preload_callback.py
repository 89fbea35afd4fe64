"""shipyard.platform.preload: the worker forked for a task finds the Jinja plugins already loaded.

Each case runs a real playbook whose one task asks, from inside its worker, which
filter, test and lookup plugin modules that process holds before the task uses any
(a lookup plugin next to the playbook, which the callback does not load, in a
template without a filter: compiling a filter would load ansible.builtin's). With the
callback (the repository's ansible.cfg enables it) the worker inherited them from
the main process; without it, it holds none and would load each again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from localplay import ROOT, run_local_playbook

ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
OURS = "ansible_collections.shipyard.platform.plugins."
WARNINGS: list[str] = []

PROBE = """\
from __future__ import annotations

import json
import sys

from ansible.plugins.lookup import LookupBase


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        kinds = (".plugins.filter.", ".plugins.test.", ".plugins.lookup.")
        held = (name for name in sys.modules if any(kind in name for kind in kinds) and "probe" not in name)
        return [json.dumps(sorted(held))]
"""

PLAYBOOK = """\
- name: Probe
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Say which plugin modules the worker holds
      ansible.builtin.copy:
        content: "{{ lookup('probe') }}"  # no filter: compiling one would load them
        dest: "{{ playbook_dir }}/held.json"
        mode: "0600"
"""


def held(tmp_path: Path, **env: str) -> list[str]:
    (tmp_path / "lookup_plugins").mkdir(exist_ok=True)
    (tmp_path / "lookup_plugins" / "probe.py").write_text(PROBE)
    (tmp_path / "probe.yml").write_text(PLAYBOOK)
    run = run_local_playbook(tmp_path / "probe.yml", {**ENV, **env})
    WARNINGS.append(run.stderr)
    return json.loads((tmp_path / "held.json").read_text())


def test_the_worker_inherits_every_filter_test_and_lookup_of_the_collection_and_ansible_builtin(tmp_path):
    modules = held(tmp_path)
    ours = {path.stem for path in (ROOT / "plugins" / "filter").glob("*.py")}
    assert ours, "the collection has filter plugins"
    assert {f"{OURS}filter.{name}" for name in ours} <= set(modules)
    assert f"{OURS}lookup.manifests" in modules
    for kind in ("filter", "test"):
        assert f"ansible_collections.ansible.builtin.plugins.{kind}.core" in modules
    assert "ansible_collections.ansible.builtin.plugins.lookup.env" in modules


def test_without_the_callback_the_worker_holds_none_and_loads_each_again(tmp_path):
    assert held(tmp_path, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.timer") == []


@pytest.mark.parametrize(
    ("collections", "expected", "warned"),
    [
        ("kubernetes.core", "ansible_collections.kubernetes.core.plugins.filter.k8s", False),
        ("no_such.collection", "ansible_collections.ansible.builtin.plugins.filter.core", True),
    ],
)
def test_the_collections_option_names_which_collections_load(tmp_path, collections, expected, warned):
    modules, warnings = held(tmp_path, SHIPYARD_PRELOAD_COLLECTIONS=collections), WARNINGS[-1]
    assert expected in modules
    assert not any(name.startswith(OURS) for name in modules)
    # A collection that cannot be found is named; the run goes on.
    assert ("could not load the plugins of " + collections in warnings) is warned


# Counts, in a file, each process's listing of the installed collections (Mitogen's planner lists them
# in a worker before it runs a module from a collection), and prints the main process's PID at the end.
LISTING_RUNNER = """\
import atexit, os, sys
import ansible.collections.list as listing

original = listing.list_collection_dirs

def counted(*args, **kwargs):
    with open(os.environ["LISTINGS"], "a") as out:
        out.write(f"{os.getpid()}\\n")
    yield from original(*args, **kwargs)

listing.list_collection_dirs = counted
pid = os.getpid()
atexit.register(lambda: os.getpid() == pid and print(f"PID={pid}"))
sys.argv = ["ansible-playbook", *sys.argv[1:]]
from ansible.cli.playbook import main
main()
"""

HASHES = """\
- name: Modules from a collection
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Hash a folder with a module of the collection
      shipyard.platform.context_hash:
        path: "{{ playbook_dir }}/context"
      register: first

    - name: Hash it again in another task, so another worker
      shipyard.platform.context_hash:
        path: "{{ playbook_dir }}/context"
      register: second

    - name: Say that both ran
      ansible.builtin.debug:
        msg: "HASHED {{ first.hash == second.hash and first.hash | length > 0 }}"
"""


def listings(tmp_path: Path, **env: str) -> tuple[int, list[int], str]:
    """The main process's PID, the PIDs of each listing of the collections, and the run's output at -vvv."""
    (tmp_path / "context").mkdir(exist_ok=True)
    (tmp_path / "context" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "hashes.yml").write_text(HASHES)
    (tmp_path / "runner.py").write_text(LISTING_RUNNER)
    log = tmp_path / "listings"
    log.unlink(missing_ok=True)
    env = {**ENV, "ANSIBLE_VERBOSITY": "3", "LISTINGS": str(log), **env}
    run = run_local_playbook(tmp_path / "hashes.yml", env, runner=tmp_path / "runner.py")
    assert "HASHED True" in run.stdout, run.stdout
    main = int(run.stdout.rpartition("PID=")[2].split()[0])
    return main, [int(pid) for pid in log.read_text().split()] if log.exists() else [], run.stdout


def test_with_mitogen_the_main_process_lists_the_collections_once_for_every_worker(tmp_path):
    main, pids, output = listings(tmp_path)
    assert "shipyard.platform.preload: Mitogen's planner uses one list of the collections" in output
    assert pids == [main], pids


def test_without_the_callback_each_worker_lists_them_again(tmp_path):
    main, pids, _ = listings(tmp_path, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.timer")
    assert len(pids) == 2 and main not in pids, pids  # one listing in each task's worker


def test_without_mitogen_the_planner_is_left_alone(tmp_path):
    _, pids, output = listings(tmp_path, ANSIBLE_STRATEGY="linear")
    assert "Mitogen's planner" not in output
    assert pids == [], pids  # Ansible's own strategy lists none
