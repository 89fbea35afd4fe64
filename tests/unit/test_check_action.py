"""shipyard.platform.check: a role's input rules in one task, every broken rule named.

Each case runs a real playbook with the collection's action plugin (as the roles'
preflight runs it) and reads the task's result as Ansible reports it. Before it,
each role checked its inputs in two or three assert tasks: a run heard only of the
first group that failed, and the groups of logging and monitoring, which read
passwords and receiver URLs, were censored whole by no_log (the message naming the
variable was hidden with them).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    **os.environ,
    "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
    "ANSIBLE_FORCE_COLOR": "0",
    "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
}
SECRET = "hunter2-never-shown"  # noqa: S105 (a marker to look for in the output, not a credential)


def run(tmp_path: Path, rules: str, variables: str = "") -> tuple[dict, str]:
    """The task's result and the whole output of a playbook with one check task."""
    # The inputs in their own file, as an inventory holds them: an error's context lines show the
    # task's source, which must not be where the secret is written.
    (tmp_path / "inputs.yml").write_text(f"password: {SECRET}\nreplicas: 0\napp_name: Bad_Name\n{variables}")
    playbook = tmp_path / "check.yml"
    playbook.write_text(
        "- name: Check\n"
        "  hosts: localhost\n"
        "  gather_facts: false\n"
        "  vars_files: [inputs.yml]\n"
        "  tasks:\n"
        "    - name: Check the inputs\n"
        "      shipyard.platform.check:\n"
        "        rules:\n" + rules
    )
    done = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    result = json.loads(done.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return result, output


def test_every_broken_rule_is_named_and_the_rules_that_hold_are_not(tmp_path: Path) -> None:
    result, _ = run(
        tmp_path,
        "          - that: replicas >= 1\n"
        "            msg: 'replicas ({{ replicas }}) is at least 1.'\n"
        "          - that: app_name is match('^[a-z]+$')\n"
        "            msg: app_name is lowercase letters.\n"
        "          - that: [password | length >= 8]\n"
        "            msg: password has at least 8 characters.\n",
    )
    assert result["failed"] is True
    assert result["msg"] == "replicas (0) is at least 1. app_name is lowercase letters."
    assert [failure["rule"] for failure in result["failures"]] == [0, 1]
    assert result["failures"][1]["assertion"] == "app_name is match('^[a-z]+$')"


def test_conditions_stop_at_the_first_false_one_and_messages_render_only_on_failure(tmp_path: Path) -> None:
    # `missing` is undefined: evaluating the second condition, or the message of a rule that
    # holds, would fail the task with an undefined-variable error instead of naming the rule.
    result, _ = run(
        tmp_path,
        "          - that: [missing is defined, missing > 1]\n"
        "            msg: missing is set and more than 1.\n"
        "          - that: replicas == 0\n"
        "            msg: '{{ missing }} is never rendered'\n",
    )
    assert result["msg"] == "missing is set and more than 1."
    failure = {"rule": 0, "assertion": "missing is defined", "msg": "missing is set and more than 1."}
    assert result["failures"] == [failure]


def test_a_rule_applies_only_when_its_condition_holds(tmp_path: Path) -> None:
    result, _ = run(
        tmp_path,
        "          - that: false\n"
        "            msg: never said\n"
        "            when: replicas > 0\n"
        "          - that: true\n"
        "            msg: never said either\n",
    )
    assert not result.get("failed")
    assert result["msg"] == "Every rule holds"


def test_a_later_rule_broken_by_an_input_an_earlier_one_refused_names_the_earlier(tmp_path: Path) -> None:
    result, _ = run(
        tmp_path,
        "          - that: app_name is number\n"
        "            msg: app_name is a number.\n"
        "          - that: app_name > 3\n"
        "            msg: app_name is more than 3.\n",
    )
    assert result["msg"] == "app_name is a number."


def test_a_sensitive_rule_that_cannot_be_evaluated_does_not_quote_its_inputs(tmp_path: Path) -> None:
    # Comparing the password with a number raises an error whose text would quote it.
    result, output = run(
        tmp_path,
        "          - that: password > 3\n            msg: password is long.\n            sensitive: true\n",
    )
    assert result["failed"] is True
    assert "rules[0]: the condition 'password > 3' could not be evaluated" in result["msg"]
    assert SECRET not in output


def test_a_sensitive_rule_still_names_the_variable_when_it_fails(tmp_path: Path) -> None:
    result, output = run(
        tmp_path,
        "          - that: password | length >= 32\n"
        "            msg: password has at least 32 characters.\n"
        "            sensitive: true\n",
    )
    assert result["msg"] == "password has at least 32 characters."
    assert "censored" not in result
    assert SECRET not in output
