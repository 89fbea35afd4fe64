"""The roles' number and boolean options, as JSON values and as the strings `-e name=value` makes of them
(tests/unit/test_key_value_input.py renders with them, tests/cluster/test_key_value.py converges with them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TYPES = ("int", "float", "bool")


def wired() -> set[str]:
    """The role variables the site sets from a shared value (an inventory may not set them)."""
    return set(yaml.safe_load((ROOT / "playbooks/vars/wiring.yml").read_text()))


def typed_options(roles: list[str]) -> dict[str, tuple[str, object]]:
    """Each role's int, float and bool options of its main entry point that an inventory may set, with a
    default: name -> (type, default)."""
    skip = wired()
    found: dict[str, tuple[str, object]] = {}
    for role in roles:
        spec = yaml.safe_load((ROOT / "roles" / role / "meta/argument_specs.yml").read_text())
        for name, option in spec["argument_specs"]["main"]["options"].items():
            kind, default = option.get("type"), option.get("default")
            if name not in skip and kind in TYPES and default is not None:
                found[name] = (kind, default)
    return found


def in_force(roles: list[str], inventory: str, host: str = "localhost") -> dict[str, object]:
    """The values an inventory's host runs with: its own where it sets them (not templated), else the default."""
    shown = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), "-i", f"inventories/{inventory}", "--host", host],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    host_vars = json.loads(shown)
    values = {}
    for name, (_kind, default) in typed_options(roles).items():
        value = host_vars.get(name, default)
        if not (isinstance(value, str) and "{{" in value):
            values[name] = value
    return values


def as_key_value(value: object) -> str:
    """The string `-e name=value` gives the site for a value."""
    return str(value).lower() if isinstance(value, bool) else str(value)
