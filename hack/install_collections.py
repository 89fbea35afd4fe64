#!/usr/bin/env python3
"""Install the collections pinned in requirements.yml into ./collections.

Order of sources, for each collection not already present at its pinned version:
  1. Ansible Galaxy (``ansible-galaxy collection install``), where reachable;
  2. the same version bundled in the pinned ``ansible`` Python package of the
     running interpreter (our machines reach PyPI but not Galaxy).
A version mismatch is an error naming both versions; nothing is guessed.
Quick when everything is in place: it reads MANIFEST.json files only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEST = ROOT / "collections"


def installed_version(base: Path, fqcn: str) -> str | None:
    namespace, name = fqcn.split(".")
    manifest = base / "ansible_collections" / namespace / name / "MANIFEST.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text())["collection_info"]["version"]


def bundled_base() -> Path | None:
    try:
        import ansible_collections  # noqa: PLC0415 - optional, from the ansible package
    except ImportError:
        return None
    return Path(next(iter(ansible_collections.__path__))).parent


def from_galaxy(pins: dict[str, str]) -> None:
    req = {"collections": [{"name": n, "version": v} for n, v in pins.items()]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        yaml.safe_dump(req, handle)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    cmd = [
        str(Path(sys.executable).parent / "ansible-galaxy"),
        "collection",
        "install",
        "-r",
        handle.name,
        "-p",
        str(DEST),
        "--timeout",
        "20",
    ]
    try:
        subprocess.run(cmd, env=env, check=False, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pass
    finally:
        os.unlink(handle.name)


def from_bundle(fqcn: str, version: str) -> str | None:
    base = bundled_base()
    if base is None:
        return "the ansible package is not installed in this interpreter"
    found = installed_version(base, fqcn)
    if found != version:
        return f"the ansible package bundles {fqcn} {found or '(none)'}, requirements.yml pins {version}"
    namespace, name = fqcn.split(".")
    target = DEST / "ansible_collections" / namespace / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(base / "ansible_collections" / namespace / name, target, symlinks=True)
    return None


def main() -> int:
    pins = {
        c["name"]: str(c["version"]) for c in yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]
    }
    missing = {n: v for n, v in pins.items() if installed_version(DEST, n) != v}
    if not missing:
        return 0
    DEST.mkdir(exist_ok=True)
    if os.environ.get("SHIPYARD_OFFLINE") != "1":
        print(f"[collections] installing {', '.join(missing)} from Galaxy", file=sys.stderr)
        from_galaxy(missing)
    errors = []
    for fqcn, version in missing.items():
        if installed_version(DEST, fqcn) == version:
            continue
        print(f"[collections] Galaxy unavailable for {fqcn}; using the bundled copy", file=sys.stderr)
        problem = from_bundle(fqcn, version)
        if problem:
            errors.append(f"{fqcn} {version}: {problem}")
    for error in errors:
        print(f"[collections] ERROR: cannot install {error}", file=sys.stderr)
    if not errors:
        print(f"[collections] {', '.join(f'{n} {v}' for n, v in pins.items())} in {DEST}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
