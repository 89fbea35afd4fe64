"""requirements.yml pins are what ./collections holds and what the offline path can provide."""

from __future__ import annotations

import json
from pathlib import Path

import ansible_collections
import yaml

ROOT = Path(__file__).resolve().parents[2]
PINS = {c["name"]: str(c["version"]) for c in yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]}


def version_in(base: Path, fqcn: str) -> str | None:
    manifest = base / "ansible_collections" / fqcn.replace(".", "/") / "MANIFEST.json"
    return json.loads(manifest.read_text())["collection_info"]["version"] if manifest.is_file() else None


def test_collections_folder_holds_the_pinned_versions() -> None:
    assert {n: version_in(ROOT / "collections", n) for n in PINS} == PINS


def test_bundled_ansible_package_provides_the_pins_for_offline_installs() -> None:
    bundled = Path(next(iter(ansible_collections.__path__))).parent
    assert {n: version_in(bundled, n) for n in PINS} == PINS


def test_every_collection_used_is_pinned() -> None:
    used = set()
    for path in [*ROOT.glob("roles/**/*.yml"), *ROOT.glob("playbooks/**/*.yml"), *ROOT.glob("molecule/**/*.yml")]:
        for word in path.read_text().split():
            parts = word.strip("\"':,[]{}").split(".")
            # A collection's name is two identifiers: not a label key such as kubernetes.io/metadata.name.
            if (
                len(parts) >= 3
                and parts[0] in {"kubernetes", "community", "ansible"}
                and parts[1].isidentifier()
                and parts[1] != "builtin"
            ):
                used.add(f"{parts[0]}.{parts[1]}")
    assert used <= set(PINS), f"used but not pinned in requirements.yml: {used - set(PINS)}"
