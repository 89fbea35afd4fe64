"""The repository as the collection shipyard.platform: it builds, holds what users need and
nothing else, and its version and release notes agree. Installing and running it is
tests/cluster/test_v_collection.py (it needs the local cluster)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    run = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    (built,) = out.glob("*.tar.gz")
    return built


def test_it_builds_under_its_name_and_version(tarball: Path) -> None:
    assert tarball.name == f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    size = tarball.stat().st_size
    print(f"\n{tarball.name}: {size / 1024:.0f} KiB, {len(names)} entries")  # the figure the README quotes
    assert {"MANIFEST.json", "FILES.json", "meta/runtime.yml", "playbooks/site.yml", "CHANGELOG.rst",
            "plugins/modules/context_hash.py", "plugins/filter/values.py", "app/Dockerfile",
            "roles/app_deploy/meta/argument_specs.yml"} <= names  # fmt: skip
    dev_only = {"tests", "molecule", "hack", ".ci", ".venv", ".github", "collections", "inventories", "Makefile"}
    assert not [n for n in names if n.split("/")[0] in dev_only or n.startswith("app/tests")]
    assert not [n for n in names if "__pycache__" in n or n.startswith("changelogs/fragments/")]
    assert size < 1024 * 1024


def test_its_dependencies_are_the_pinned_collections() -> None:
    pinned = {c["name"]: c["version"] for c in yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]}
    assert GALAXY["dependencies"] == pinned


def test_the_version_is_the_latest_release_in_the_changelog() -> None:
    releases = yaml.safe_load((ROOT / "changelogs/changelog.yaml").read_text())["releases"]
    latest = max(releases, key=lambda v: tuple(int(p) for p in v.split(".")))
    assert GALAXY["version"] == latest
    assert f"v{latest}" in (ROOT / "CHANGELOG.rst").read_text()


def test_the_changelog_fragments_are_valid() -> None:
    run = subprocess.run(
        [str(BIN / "antsibull-changelog"), "lint"], cwd=ROOT, env=ENV, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0 and not run.stdout.strip(), run.stdout + run.stderr
