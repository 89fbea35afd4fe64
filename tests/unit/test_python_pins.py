"""The virtualenv holds exactly the pinned Python packages, and Ansible runs from it without warnings.

requirements-dev.txt names the tooling; constraints-dev.txt pins every package
it pulls in. Before the constraints, cryptography moved to 51.0.1 on a fresh
machine, and every ansible command printed a CryptographyDeprecationWarning
(two lines on stderr, at the top of `make up`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    found = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==")
            found[canonical(name.split("[")[0])] = version.strip()
    return found


def test_the_constraints_pin_every_package_of_the_virtualenv_at_its_version() -> None:
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    for bootstrap in ("pip", "setuptools"):  # the venv's own (pip freeze leaves them out); setup.sh pins pip
        installed.pop(bootstrap, None)
    assert installed == pins(ROOT / "constraints-dev.txt")


def test_the_named_requirements_agree_with_the_constraints() -> None:
    constraints = pins(ROOT / "constraints-dev.txt")
    for file in ("requirements-dev.txt", "app/requirements.txt"):
        named = pins(ROOT / file)
        assert named, file
        assert {n: constraints.get(n) for n in named} == named, file


def test_ansible_commands_print_no_python_warning() -> None:
    for command in ("ansible-playbook", "ansible-galaxy", "ansible-lint"):
        run = subprocess.run(
            [str(BIN / command), "--version"], capture_output=True, text=True, check=False, timeout=120
        )
        assert run.returncode == 0, run.stderr
        assert "Warning" not in run.stderr, f"{command}: {run.stderr}"
