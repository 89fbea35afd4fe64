"""shipyard.platform.gc_tune: the controller's garbage collector skips the parsed playbook and collects less often.

Each case runs a real playbook through ansible-core's own command line, from a small wrapper
that prints, when the main process ends, its collector's thresholds, how many objects are
frozen and how many collections ran. The collections are counted from the end of the parse on. The
playbook builds many containers in its tasks, as templating does in a real run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from localplay import PLAIN_CALLBACKS, VERBOSE_ENV, run_local_playbook

# set_fact runs in the main process, as in the repository's runs (controller_actions).
WITHOUT = f"{PLAIN_CALLBACKS},shipyard.platform.controller_actions"
WITH = f"{WITHOUT},shipyard.platform.gc_tune"

RUNNER = """\
import atexit, gc, os, sys
from ansible.playbook import Playbook

pid = os.getpid()
runs = []  # the collections of the main process once its playbook is parsed
load = Playbook.load

def counted_load(*args, **kwargs):
    parsed = load(*args, **kwargs)
    gc.callbacks.append(lambda phase, info: phase == "stop" and os.getpid() == pid and runs.append(1))
    return parsed

def said():
    if os.getpid() == pid:
        print(f"GC threshold={gc.get_threshold()[0]} frozen={gc.get_freeze_count()} collections={len(runs)}")

Playbook.load = staticmethod(counted_load)
atexit.register(said)
sys.argv = ["ansible-playbook", *sys.argv[1:]]
from ansible.cli.playbook import main
main()
"""

PLAYBOOK = """\
- name: Make garbage
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Build containers in the main process, as templating does
      ansible.builtin.set_fact:
        built: "{{ range(5000) | map('string') | map('list') | list | length }}"
      loop: [1, 2, 3, 4, 5, 6]

    - name: Say what was built
      ansible.builtin.debug:
        msg: "BUILT {{ built }}"
"""


def run(tmp_path: Path, callbacks: str, **env: str) -> tuple[dict[str, int], str]:
    (tmp_path / "runner.py").write_text(RUNNER)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    result = run_local_playbook(
        tmp_path / "play.yml",
        {**VERBOSE_ENV, "ANSIBLE_CALLBACKS_ENABLED": callbacks, "ANSIBLE_VERBOSITY": "3", **env},
        runner=tmp_path / "runner.py",
    )
    found = re.search(r"GC threshold=(\d+) frozen=(\d+) collections=(\d+)", result.stdout)
    assert found, result.stdout
    assert "BUILT 5000" in result.stdout, result.stdout
    counts = dict(zip(("threshold", "frozen", "collections"), map(int, found.groups()), strict=True))
    return counts, result.stdout + result.stderr


def test_the_parsed_playbook_is_frozen_and_collections_are_fewer(tmp_path: Path) -> None:
    without, _ = run(tmp_path, WITHOUT)
    tuned, output = run(tmp_path, WITH)
    assert without["threshold"] == 700 and without["frozen"] == 0
    assert tuned["threshold"] == 10000
    assert tuned["frozen"] > 10000, tuned  # ansible-core and the parsed playbook, at least
    assert tuned["collections"] * 3 < without["collections"], (tuned, without)
    assert f"objects frozen, thresholds ({tuned['threshold']}, 10, 10)" in output


def test_the_threshold_is_an_option(tmp_path: Path) -> None:
    tuned, _ = run(tmp_path, WITH, SHIPYARD_GC_THRESHOLD="2500")
    assert tuned["threshold"] == 2500 and tuned["frozen"] > 0


@pytest.mark.parametrize(("threshold", "said"), [("0", "off (threshold 0)"), ("-5", "threshold: -5 is not a number")])
def test_zero_or_a_negative_threshold_leaves_the_collector_as_it_is(tmp_path: Path, threshold: str, said: str) -> None:
    left, output = run(tmp_path, WITH, SHIPYARD_GC_THRESHOLD=threshold)
    assert left["threshold"] == 700 and left["frozen"] == 0
    assert said in re.sub(r"\s+", " ", output), output
