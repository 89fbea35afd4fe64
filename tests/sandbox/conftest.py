"""Fixtures for tests that run against the sandbox control plane (make sandbox-up)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

ROOT = Path(__file__).resolve().parents[2]
KUBECONFIG = ROOT / ".sandbox" / "kubeconfig"


@pytest.fixture(scope="session")
def api() -> client.ApiClient:
    if not KUBECONFIG.is_file():
        pytest.fail(f"{KUBECONFIG} is missing: run 'make sandbox-up' first")
    return config.new_client_from_config(config_file=str(KUBECONFIG))


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
