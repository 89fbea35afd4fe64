#!/usr/bin/env python3
"""List every image and binary an inventory would use, with versions, digests and
sha256, for mirrors and air-gapped sites: make artifacts ENV=<inventory>.

Images come from the manifests the site renders for the inventory (every
container and init container), plus the kind node image and the build's base
image where the inventory uses them; binaries from the k8s_tools pins.
Writes out/<env>/artifacts.json and prints a table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


def run(*cmd: str) -> str:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout


def rendered_images(inventory: str) -> set[str]:
    with tempfile.TemporaryDirectory() as out:
        run(str(BIN / "ansible-playbook"), "-i", f"inventories/{inventory}", "playbooks/render.yml",
            "-e", f"shipyard_render_dir={out}")  # fmt: skip
        images = set()
        for path in Path(out).rglob("*.yml"):
            for doc in yaml.safe_load_all(path.read_text()):
                if isinstance(doc, dict) and doc.get("kind") in WORKLOADS:
                    spec = doc["spec"]["template"]["spec"]
                    images |= {c["image"] for c in spec.get("containers", []) + spec.get("initContainers", [])}
        return images


def effective_vars(inventory: str) -> dict:
    """Role defaults, overlaid with the inventory's variables of its first host."""
    merged: dict = {}
    for role in ("k8s_tools", "kind_cluster", "image_build"):
        merged |= yaml.safe_load((ROOT / f"roles/{role}/defaults/main.yml").read_text()) or {}
    hostvars = json.loads(run(str(BIN / "ansible-inventory"), "-i", f"inventories/{inventory}", "--list"))
    hosts = hostvars.get("_meta", {}).get("hostvars", {})
    cluster_hosts = hostvars.get("cluster_hosts", {}).get("hosts", [])
    chosen = hosts.get(cluster_hosts[0]) if cluster_hosts else next(iter(hosts.values()), {})
    return merged | (chosen or {}) | {"__has_cluster_hosts": bool(cluster_hosts)}


def split(image: str) -> dict:
    name, _, digest = image.partition("@")
    repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    return {"kind": "image", "name": repo, "version": tag, "digest": digest or "not pinned (tag only)"}


def main() -> int:
    inventory = sys.argv[1] if len(sys.argv) > 1 else "sandbox"
    variables = effective_vars(inventory)
    images = rendered_images(inventory)
    if variables["__has_cluster_hosts"]:
        images.add(variables["kind_cluster_node_image"])
    if variables.get("shipyard_image_build_enabled", True):
        images.add(variables["image_build_base_image"])
    items = [split(i) for i in sorted(images)]
    if variables["__has_cluster_hosts"]:
        pins = yaml.safe_load((ROOT / "roles/k8s_tools/vars/main.yml").read_text())["__k8s_tools_known_checksums"]
        for tool, versions in (variables.get("k8s_tools_checksums") or {}).items():
            for version, sums in versions.items():
                pins.setdefault(tool, {}).setdefault(version, {}).update(sums)
        for tool in ("kubectl", "kind", "helm"):
            version = variables[f"k8s_tools_{tool}_version"]
            sums = (pins.get(tool) or {}).get(version) or {}
            items.append({"kind": "binary", "name": tool, "version": version,
                          "digest": ", ".join(f"{arch} sha256:{s}" for arch, s in sorted(sums.items()))
                          or "no sha256 pin (hack/tool_checksums.py)"})  # fmt: skip
    out = ROOT / "out" / inventory
    out.mkdir(parents=True, exist_ok=True)
    (out / "artifacts.json").write_text(json.dumps(items, indent=2) + "\n")
    for item in items:
        print(f"{item['kind']:<7} {item['name']:<55} {item['version']:<12} {item['digest']}")
    print(f"artifacts: {len(items)} for inventories/{inventory}, written to {out / 'artifacts.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
