"""shipyard.platform.early_parse: the enabled parse-time callbacks start before the playbook is parsed.

Each case runs a real playbook, with an inventory file, through ansible-core's command line from a
small wrapper. The wrapper prints, when Playbook.load starts, whether parsed files are copied by
shipyard.platform.parsed_copy and the garbage collector's first threshold. Without the vars plugin,
both are still ansible-core's when the parse starts, because the callbacks load after it.
"""

from __future__ import annotations

import gc
import re
from pathlib import Path

import pytest
from localplay import PLAIN_CALLBACKS, VERBOSE_ENV, run_local_playbook

BOTH = f"{PLAIN_CALLBACKS},shipyard.platform.parsed_copy,shipyard.platform.gc_tune"
PLUGIN = "ansible.builtin.host_group_vars,shipyard.platform.early_parse"

RUNNER = """\
import gc, sys
from ansible.parsing.dataloader import DataLoader
from ansible.playbook import Playbook

load = Playbook.load

def said_load(*args, **kwargs):
    copied = getattr(DataLoader.load_from_file, "_shipyard_parsed_copy", False)
    print(f"AT PARSE copied={copied} threshold={gc.get_threshold()[0]}")
    return load(*args, **kwargs)

Playbook.load = staticmethod(said_load)
sys.argv = ["ansible-playbook", *sys.argv[1:]]
from ansible.cli.playbook import main
main()
"""

PLAYBOOK = """\
- name: Parse
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Say the play ran
      ansible.builtin.debug:
        msg: "RAN {{ from_group_vars }}"
"""


def parse(tmp_path: Path, inventory: bool = True, **env: str) -> tuple[bool, int, str]:
    """Whether parsed files were copied and the first threshold when the parse started; the output at -vvv."""
    (tmp_path / "runner.py").write_text(RUNNER)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "group_vars").mkdir(exist_ok=True)
    (tmp_path / "group_vars" / "all.yml").write_text("from_group_vars: kept\n")
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    localhost:\n")
    run = run_local_playbook(
        tmp_path / "play.yml",
        {**VERBOSE_ENV, "ANSIBLE_VERBOSITY": "3", **env},
        runner=tmp_path / "runner.py",
        extra_args=("-i", str(tmp_path / "hosts.yml")) if inventory else (),
    )
    found = re.search(r"AT PARSE copied=(True|False) threshold=(\d+)", run.stdout)
    assert found, run.stdout
    # Ansible's own vars plugin still gives the inventory's group_vars beside it.
    assert "RAN kept" in run.stdout or not inventory, run.stdout
    return found.group(1) == "True", int(found.group(2)), run.stdout + run.stderr


DEFAULT_THRESHOLD = gc.get_threshold()[0]  # this Python's, which ansible-playbook starts with


def test_the_callbacks_start_before_the_parse(tmp_path: Path) -> None:
    copied, threshold, output = parse(tmp_path, ANSIBLE_CALLBACKS_ENABLED=BOTH, ANSIBLE_VARS_ENABLED=PLUGIN)
    assert copied and threshold == 10000
    assert output.index("shipyard.platform.early_parse: parsed files are copied") < output.index("PLAYBOOK: play.yml")
    # The callbacks still do their part when the playbook starts.
    assert "shipyard.platform.gc_tune: " in output and "objects frozen" in output


def test_without_the_plugin_the_parse_runs_as_ansible_core_runs_it(tmp_path: Path) -> None:
    copied, threshold, _ = parse(tmp_path, ANSIBLE_CALLBACKS_ENABLED=BOTH, ANSIBLE_VARS_ENABLED="host_group_vars")
    assert not copied and threshold == DEFAULT_THRESHOLD


def test_gc_tune_s_threshold_option_is_the_one_used(tmp_path: Path) -> None:
    _, threshold, _ = parse(
        tmp_path, ANSIBLE_CALLBACKS_ENABLED=BOTH, ANSIBLE_VARS_ENABLED=PLUGIN, SHIPYARD_GC_THRESHOLD="2500"
    )
    assert threshold == 2500


@pytest.mark.parametrize(
    ("callbacks", "copied", "threshold"),
    [
        (f"{PLAIN_CALLBACKS},shipyard.platform.parsed_copy", True, DEFAULT_THRESHOLD),
        (f"{PLAIN_CALLBACKS},shipyard.platform.gc_tune", False, 10000),
    ],
)
def test_only_the_enabled_callbacks_start(tmp_path: Path, callbacks: str, copied: bool, threshold: int) -> None:
    said = parse(tmp_path, ANSIBLE_CALLBACKS_ENABLED=callbacks, ANSIBLE_VARS_ENABLED=PLUGIN)
    assert said[:2] == (copied, threshold)


def test_with_neither_callback_it_does_nothing_and_says_so(tmp_path: Path) -> None:
    copied, threshold, output = parse(tmp_path, ANSIBLE_CALLBACKS_ENABLED=PLAIN_CALLBACKS, ANSIBLE_VARS_ENABLED=PLUGIN)
    assert not copied and threshold == DEFAULT_THRESHOLD
    assert "early_parse: neither shipyard.platform.parsed_copy nor shipyard.platform.gc_tune is enabled" in output


def test_a_threshold_of_zero_leaves_the_collector_as_it_is(tmp_path: Path) -> None:
    _, threshold, _ = parse(
        tmp_path, ANSIBLE_CALLBACKS_ENABLED=BOTH, ANSIBLE_VARS_ENABLED=PLUGIN, SHIPYARD_GC_THRESHOLD="0"
    )
    assert threshold == DEFAULT_THRESHOLD


def test_with_only_a_host_list_the_callbacks_start_after_the_parse_as_without_it(tmp_path: Path) -> None:
    copied, threshold, output = parse(
        tmp_path, inventory=False, ANSIBLE_CALLBACKS_ENABLED=BOTH, ANSIBLE_VARS_ENABLED=PLUGIN
    )
    assert not copied and threshold == DEFAULT_THRESHOLD
    assert "shipyard.platform.parsed_copy: parsed files are copied" in output  # at the playbook's start


def test_an_option_it_cannot_read_is_a_warning_and_the_run_goes_on(tmp_path: Path) -> None:
    # Ansible itself warns and skips a callback whose option it cannot read; the plugin must not stop the run.
    copied, threshold, output = parse(
        tmp_path, ANSIBLE_CALLBACKS_ENABLED=BOTH, ANSIBLE_VARS_ENABLED=PLUGIN, SHIPYARD_GC_THRESHOLD="many"
    )
    assert copied and threshold == DEFAULT_THRESHOLD  # parsed_copy started before the error
    assert "early_parse: not all was started before the parse" in re.sub(r"\s+", " ", output), output
