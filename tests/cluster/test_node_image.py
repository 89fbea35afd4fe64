"""shipyard.platform.node_image on the real node: an image crosses with only the layers the node's containerd
lacks, runs as a real container, and a second load changes nothing.

Real: the Docker engine, the node's containerd and kubelet, the pod's container. Nothing is simulated.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from realpods import ANSIBLE_ENV, NODE_CONTAINER, PROBE_IMAGE, ROOT, in_node, kubectl, kubectl_json, wait_for


def node_image(*args: str, **params: object) -> dict:
    """Call the module as a user's ad-hoc command would, with Ansible's JSON output; the host's result."""
    run = subprocess.run(
        ["ansible", "localhost", "-m", "shipyard.platform.node_image", "-a", json.dumps(params), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**ANSIBLE_ENV, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"},
    )  # fmt: skip
    return json.loads(run.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


@pytest.fixture
def fresh_image(probe_image: str) -> Iterator[tuple[str, str, str]]:
    """An image of one new layer on top of the probe image (which the node holds): its reference, the new
    layer's digest and the marker it carries. Removed from the engine and the node afterwards."""
    marker = uuid.uuid4().hex
    ref = f"localhost/shipyard/test-node-image:{marker[:12]}"
    subprocess.run(
        ["docker", "build", "--quiet", "--tag", ref, "-"],
        input=f"FROM {PROBE_IMAGE}\nRUN echo {marker} > /marker\n", capture_output=True, text=True, check=True,
    )  # fmt: skip
    layers = json.loads(subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}", ref],
        capture_output=True, text=True, check=True,
    ).stdout)  # fmt: skip
    yield ref, layers[-1], marker
    subprocess.run(["docker", "exec", NODE_CONTAINER, "ctr", "-n", "k8s.io", "images", "rm", ref],
                   capture_output=True, check=False)  # fmt: skip
    subprocess.run(["docker", "rmi", ref], capture_output=True, check=False)


def test_an_image_crosses_with_only_the_layer_the_node_lacks_and_runs(fresh_image: tuple[str, str, str]) -> None:
    ref, new_layer, marker = fresh_image
    assert not in_node(ref)

    preview = node_image("--check", image=ref, containers=[NODE_CONTAINER])
    assert preview["changed"] is True, preview
    assert preview["nodes"][0]["layers_sent"] == [new_layer], preview
    assert not in_node(ref), "check mode loaded the image"

    loaded = node_image(image=ref, containers=[NODE_CONTAINER])
    assert loaded["changed"] is True, loaded
    node = loaded["nodes"][0]
    assert node["loaded"] is True and node["layers_sent"] == [new_layer], node
    assert node["layers_kept"] >= 1, node  # the probe image's base stayed on the node
    assert 0 < node["bytes_sent"] < 1 << 20, node  # one small layer, not the base's 170 MB
    assert in_node(ref)

    runs_with_marker(ref, marker)

    again = node_image(image=ref, containers=[NODE_CONTAINER])
    assert again["changed"] is False and again["nodes"][0]["loaded"] is False, again


def runs_with_marker(ref: str, marker: str) -> None:
    """The image runs as a real container on the real node and holds the new layer's file."""
    name = f"test-node-image-{uuid.uuid4().hex[:8]}"
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "restartPolicy": "Never", "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0,
            "nodeName": NODE_CONTAINER,
            "containers": [{"name": "c", "image": ref, "imagePullPolicy": "Never", "command": ["cat", "/marker"]}],
        },
    }  # fmt: skip
    kubectl("apply", "-f", "-", stdin=json.dumps(pod))
    try:
        wait_for(f"pod {name} to finish", lambda: kubectl_json("get", "pod", name)["status"].get("phase")
                 in ("Succeeded", "Failed"), timeout=120)  # fmt: skip
        status = kubectl_json("get", "pod", name)["status"]
        assert status["phase"] == "Succeeded", status
        assert kubectl("logs", name).stdout.strip() == marker
    finally:
        kubectl("delete", "pod", name, "--wait=false", "--ignore-not-found", check=False)


def forget(ref: str, layer: str) -> None:
    """The node drops the image, under its name and the ID the CRI plugin names it by too, and (containerd's
    garbage collection) its own layer, as a new node lacks both."""
    image_id = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref],
                              capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    subprocess.run(["docker", "exec", NODE_CONTAINER, "ctr", "-n", "k8s.io", "images", "rm", "--sync", ref, image_id],
                   capture_output=True, check=True)  # fmt: skip
    blobs = subprocess.run(["docker", "exec", NODE_CONTAINER, "ctr", "-n", "k8s.io", "content", "ls", "-q"],
                           capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert not in_node(ref) and layer not in blobs


def test_a_new_node_gets_a_kept_image_without_a_docker_save(fresh_image: tuple[str, str, str], tmp_path) -> None:
    ref, new_layer, marker = fresh_image
    cache = tmp_path / "node-images"
    first = node_image(image=ref, containers=[NODE_CONTAINER], cache_dir=str(cache))
    assert first["changed"] is True and first["from_cache"] is False, first
    assert (cache / "blobs" / new_layer.removeprefix("sha256:")).is_file()

    forget(ref, new_layer)
    kept = node_image(image=ref, containers=[NODE_CONTAINER], cache_dir=str(cache))
    assert kept["changed"] is True and kept["from_cache"] is True, kept
    assert kept["nodes"][0]["layers_sent"] == [new_layer], kept
    runs_with_marker(ref, marker)

    # A kept layer that no longer matches its digest is not sent: the image is saved again, and runs.
    forget(ref, new_layer)
    blob = cache / "blobs" / new_layer.removeprefix("sha256:")
    blob.write_bytes(b"\0" * blob.stat().st_size)
    resaved = node_image(image=ref, containers=[NODE_CONTAINER], cache_dir=str(cache))
    assert resaved["changed"] is True and resaved["from_cache"] is False, resaved
    runs_with_marker(ref, marker)


def test_a_node_it_cannot_reach_is_named(fresh_image: tuple[str, str, str]) -> None:
    ref, _, _ = fresh_image
    missing = f"no-such-node-{uuid.uuid4().hex[:6]}"
    result = node_image(image=ref, containers=[missing])
    assert result.get("failed") is True, result
    assert missing in result["msg"], result["msg"]


def test_an_image_the_engine_lacks_is_a_change_in_check_mode_and_an_error_otherwise(cluster: object) -> None:
    # A --check run after a change to the app: its build builds nothing, so the new image is not there yet.
    ref = f"localhost/shipyard/test-node-image:absent-{uuid.uuid4().hex[:8]}"
    preview = node_image("--check", image=ref, containers=[NODE_CONTAINER])
    assert preview["changed"] is True, preview
    assert preview["nodes"][0]["loaded"] is True and preview["nodes"][0]["layers_sent"] == [], preview

    result = node_image(image=ref, containers=[NODE_CONTAINER])
    assert result.get("failed") is True, result
    assert f"no image {ref}" in result["msg"], result["msg"]


def test_a_cache_folder_it_cannot_use_is_a_warning_not_a_failure(fresh_image: tuple[str, str, str], tmp_path) -> None:
    ref, new_layer, marker = fresh_image
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be\n")
    loaded = node_image(image=ref, containers=[NODE_CONTAINER], cache_dir=str(blocker))
    assert loaded["changed"] is True and loaded["from_cache"] is False, loaded
    assert any("no layer cache" in w for w in loaded.get("warnings", [])), loaded
    assert loaded["nodes"][0]["layers_sent"] == [new_layer], loaded
    runs_with_marker(ref, marker)
