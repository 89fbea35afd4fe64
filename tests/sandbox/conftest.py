"""Fixtures for tests of the simulated sandbox (hack/sandbox/up.sh): the control
plane with kwok's simulated nodes that the Molecule scenarios of the Kubernetes
roles run on. These tests start one of their own, on a free port, and remove it."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_NAME = "simtest"
SANDBOX_DIR = ROOT / ".cache" / "sim-sandbox"
UP = ["hack/sandbox/up.sh", "--name", SANDBOX_NAME, "--port", "0", "--dir", str(SANDBOX_DIR)]


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Path]:
    """The folder of a running simulated sandbox (kubeconfig, port)."""
    subprocess.run(UP, cwd=ROOT, check=True)
    yield SANDBOX_DIR
    subprocess.run(["hack/sandbox/down.sh", "--name", SANDBOX_NAME, "--dir", str(SANDBOX_DIR)], cwd=ROOT, check=True)


@pytest.fixture(scope="session")
def up_command() -> list[str]:
    return UP


@pytest.fixture(scope="session")
def api(sandbox: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(sandbox / "kubeconfig"))


@pytest.fixture
def namespace(api: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test; labels come from the test's `ns_labels` marker."""
    marker = request.node.get_closest_marker("ns_labels")
    labels = marker.args[0] if marker else {}
    name = f"t-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
    yield name
    core.delete_namespace(name)
