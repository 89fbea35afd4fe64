"""k8s_tools ships a sha256 pin for each default version on each architecture it supports."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "k8s_tools"


def test_every_default_version_is_pinned_for_amd64_and_arm64() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    pins = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__k8s_tools_known_checksums"]
    assert set(pins) == set(defaults["k8s_tools_tools"])
    for tool in defaults["k8s_tools_tools"]:
        version = defaults[f"k8s_tools_{tool}_version"]
        sums = pins[tool].get(version)
        assert sums, f"{tool} {version}: no shipped pin for the default version"
        assert set(sums) == {"amd64", "arm64"}, f"{tool} {version}: {sorted(sums)}"
        for arch, value in sums.items():
            assert re.fullmatch(r"[0-9a-f]{64}", value), f"{tool} {version} {arch}: {value!r} is not a sha256"


def test_pins_are_distinct() -> None:
    pins = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__k8s_tools_known_checksums"]
    values = [s for versions in pins.values() for arches in versions.values() for s in arches.values()]
    assert len(values) == len(set(values)), "two files cannot share a sha256: a pin was pasted twice"
