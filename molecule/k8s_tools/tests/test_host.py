"""k8s_tools' host state, read with testinfra (docker:// backend): each tool installed where
the role puts it, owned by root, not writable by others, byte for byte the file the mirror
served (the pinned download), and runnable by an unprivileged user at its pinned version.
verify.yml keeps in Ansible what testinfra cannot do: drive the role into a tampered or an
unpinned download and check it refuses."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

MIRROR = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "mirror"
# The file the role installs, and the mirror file it came from (helm's is inside its tarball).
TOOLS = {
    "kubectl": MIRROR / "kubectl/v1.33.13/amd64/kubectl",
    "kind": MIRROR / "kind/v0.30.0/amd64/kind-linux-amd64",
    "helm": MIRROR / "helm-src/linux-amd64/helm",
}


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_each_tool_is_the_served_file_owned_by_root(host, tool: str) -> None:
    installed = host.file(f"/usr/local/bin/{tool}")
    assert installed.is_file
    assert (installed.user, installed.group, installed.mode) == ("root", "root", 0o755)
    assert installed.sha256sum == hashlib.sha256(TOOLS[tool].read_bytes()).hexdigest()


def test_an_unprivileged_user_runs_each_pinned_version(host) -> None:
    as_nobody = "runuser -u nobody -- /usr/local/bin/"
    kubectl = host.check_output(as_nobody + "kubectl version --client --output=json")
    assert json.loads(kubectl)["clientVersion"]["gitVersion"] == "v1.33.13"
    assert host.check_output(as_nobody + "kind version").startswith("kind v0.30.0 ")
    assert host.check_output(as_nobody + "helm version --short").startswith("v3.19.5")
