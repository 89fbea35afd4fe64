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
