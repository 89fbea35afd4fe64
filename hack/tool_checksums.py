#!/usr/bin/env python3
"""The sha256 pins of the tools k8s_tools installs, from their publishers.

    hack/tool_checksums.py           print the publishers' sums for the default
                                     versions, in the form of the role's
                                     __k8s_tools_known_checksums (vars/main.yml)
    hack/tool_checksums.py --check   fail unless those sums equal the pins the
                                     role ships (CI runs this; needs the internet)

Versions come from roles/k8s_tools/defaults/main.yml; architectures amd64 and arm64.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ROLE = ROOT / "roles" / "k8s_tools"
ARCHES = ("amd64", "arm64")
SUM_URLS = {
    "kubectl": "https://dl.k8s.io/release/{version}/bin/linux/{arch}/kubectl.sha256",
    "kind": "https://github.com/kubernetes-sigs/kind/releases/download/{version}/kind-linux-{arch}.sha256sum",
    "helm": "https://get.helm.sh/helm-{version}-linux-{arch}.tar.gz.sha256sum",
}


def published(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 (fixed https URLs above)
        return answer.read().decode().split()[0]


def main() -> int:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    shipped = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__k8s_tools_known_checksums"]
    fetched: dict[str, dict[str, dict[str, str]]] = {}
    for tool, template in SUM_URLS.items():
        version = defaults[f"k8s_tools_{tool}_version"]
        fetched[tool] = {version: {arch: published(template.format(version=version, arch=arch)) for arch in ARCHES}}
    if "--check" not in sys.argv[1:]:
        print(yaml.safe_dump({"__k8s_tools_known_checksums": fetched}, sort_keys=False), end="")
        return 0
    wrong = [
        f"{tool} {version} {arch}: the role ships {(shipped.get(tool, {}).get(version) or {}).get(arch)}, "
        f"the publisher says {want}"
        for tool, versions in fetched.items()
        for version, arches in versions.items()
        for arch, want in arches.items()
        if (shipped.get(tool, {}).get(version) or {}).get(arch) != want
    ]
    for line in wrong:
        print(line, file=sys.stderr)
    print(f"tool checksums: {6 - len(wrong)} of 6 pins agree with the publishers")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
