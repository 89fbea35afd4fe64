"""Tags mean what they say, on every inventory, proven from --list-tasks (no cluster needed).

`--tags X` runs capability X and what it needs, nothing of another capability's
play. Ansible's own argument validation of each role ("Validating arguments
against arg spec") is tagged `always` by ansible-core itself; it runs locally,
changes nothing and connects nowhere, and is left out of the comparison. So are
the gate's play and the site's input checks (playbooks/inputs.yml, tagged `always`):
every role's inputs are checked before any change whatever the tags, since a run
with `--tags app` today is followed by one without tags tomorrow.
"""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
INVENTORIES = ["sandbox", "tenants", "kind", "remote", "staging", "cluster"]
CHECK = "Check the target cluster"
SUMMARY = "Report where to look"
# For each capability tag: the plays that may run tasks, and the roles those tasks may come from.
CONTRACT: dict[str, tuple[set[str], set[str]]] = {
    "bootstrap": ({"Bootstrap the cluster hosts"}, {"container_runtime", "k8s_tools", "kind_cluster"}),
    "build": ({"Build the app image"}, {"image_build"}),
    "app": (
        {
            CHECK,
            "Remove the tenants no longer listed",
            "Deploy the app",
            "Wait until the app is rolled out and ready",
            SUMMARY,
        },
        {"app_deploy", "common"},
    ),
    "logging": (
        {CHECK, "Deploy the logging stack", "Wait until the logging stack is ready", SUMMARY},
        {"logging", "common"},
    ),
    "monitoring": (
        {CHECK, "Deploy the monitoring stack", "Wait until the monitoring stack is ready", SUMMARY},
        {"monitoring", "common"},
    ),
    "security": ({CHECK, "Harden the managed namespaces", SUMMARY}, {"hardening", "common"}),
    "summary": ({CHECK, SUMMARY}, {"common"}),
}
GATE = "Check the run's tags and variables"
INPUTS = {
    "Check the image's and the shared stacks' inputs",
    "Check the app's inputs",
    "Check the cluster hosts' inputs",
}
PLAY = re.compile(r"^  play #\d+ \([^)]*\): (?P<name>.*?)\tTAGS: ")
# A role's task: "role : name", the role by its short or its fully qualified name.
TASK = re.compile(
    r"^      (?:(?:shipyard\.platform\.)?(?P<role>[a-z_0-9]+) : )?(?P<name>.*?)\tTAGS: \[(?P<tags>[^\]]*)\]"
)


def ansible_playbook(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ansible-playbook", *args], cwd=ROOT, env=ENV, capture_output=True, text=True, check=False, timeout=300
    )


@cache
def listed(inventory: str, tag: str) -> dict[str, list[tuple[str, str]]]:
    """Play name -> the (role, task) pairs --list-tasks shows for --tags tag, validation tasks left out."""
    run = ansible_playbook("-i", f"inventories/{inventory}", "playbooks/site.yml", "--list-tasks", "--tags", tag)
    assert run.returncode == 0, run.stderr[-2000:]
    plays: dict[str, list[tuple[str, str]]] = {}
    play = ""
    for line in run.stdout.splitlines():
        if m := PLAY.match(line):
            play = m["name"]
            plays.setdefault(play, [])
        elif (m := TASK.match(line)) and not m["name"].startswith("Validating arguments against arg spec"):
            plays[play].append((m["role"] or "", m["name"]))
    return {name: tasks for name, tasks in plays.items() if tasks}


@pytest.fixture(scope="module", autouse=True)
def list_everything_at_once() -> None:
    """Fill the cache in parallel: 35 runs of about 4 s each."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda args: listed(*args), [(i, t) for i in INVENTORIES for t in CONTRACT]))


@pytest.mark.parametrize("tag", sorted(CONTRACT))
@pytest.mark.parametrize("inventory", INVENTORIES)
def test_a_tag_runs_its_capability_and_nothing_of_another(inventory: str, tag: str) -> None:
    plays, roles = CONTRACT[tag]
    shown = listed(inventory, tag)
    outside = {play: tasks for play, tasks in shown.items() if play not in plays | {GATE} | INPUTS}
    assert not outside, f"--tags {tag} on {inventory} runs tasks of other plays: {outside}"
    foreign = {
        (play, role, task)
        for play, tasks in shown.items()
        if play not in INPUTS
        for role, task in tasks
        if role and role not in roles
    }
    assert not foreign, f"--tags {tag} on {inventory} runs tasks of other roles: {sorted(foreign)}"


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_each_capability_tag_runs_its_own_role(inventory: str) -> None:
    for tag, (_, roles) in CONTRACT.items():
        own = roles - {"common"}
        shown_roles = {role for tasks in listed(inventory, tag).values() for role, _ in tasks}
        if tag == "build":
            # The build play includes its role dynamically: --list-tasks shows the include.
            assert "Build the app image" in listed(inventory, tag)
        elif own:
            assert own <= shown_roles, f"--tags {tag} on {inventory} runs none of {own}: {shown_roles}"


def test_the_gate_knows_exactly_the_tags_the_site_carries() -> None:
    run = ansible_playbook("-i", "inventories/kind", "playbooks/site.yml", "--list-tags")
    carried = {t.strip() for tags in re.findall(r"TASK TAGS: \[([^\]]*)\]", run.stdout) for t in tags.split(",")}
    gate = yaml.safe_load((ROOT / "playbooks/run_checks.yml").read_text())[0]["vars"]["__run_known_tags"]
    known = set(re.findall(r"'([a-z_0-9]+)'", gate))
    assert known - {"all"} == carried, (
        f"only in the gate: {known - carried - {'all'}}; only in the site: {carried - known}"
    )


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_every_inventory_passes_the_gate(inventory: str) -> None:
    run = ansible_playbook("-i", f"inventories/{inventory}", "playbooks/run_checks.yml")
    assert run.returncode == 0, run.stdout[-2000:]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tags", "appp"], "Unknown --tags appp: the run would do nothing for it. appp: did you mean app?"),
        (["--tags", "app,monitorin"], "Unknown --tags monitorin"),
        (["-e", "app_deploy_replcias=3"], "No role has the variable app_deploy_replcias (from -e or the inventory)"),
        (["-e", "logging_profil=prod"], "logging_profil: did you mean logging_profile?"),
    ],
)
def test_the_gate_refuses_an_unknown_tag_or_variable(args: list[str], message: str) -> None:
    run = ansible_playbook("-i", "inventories/sandbox", "playbooks/run_checks.yml", *args)
    assert run.returncode != 0
    assert message in " ".join(run.stdout.split()), run.stdout[-2000:]
