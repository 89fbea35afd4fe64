#!/usr/bin/python
# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: load a Docker image into node containers' containerd, sending only the layers each lacks."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: node_image
short_description: Load a local Docker image into the containerd of node containers, sending only missing layers
description:
  - Each node is a Docker container that runs containerd (the local cluster's node, a kind node). A node that
    has no image named O(image) in its containerd namespace O(namespace) gets it; the others are left alone.
  - Like a registry push, only the layers a node's containerd lacks cross to it. The image's layers are
    compared with the node's content store by digest (a layer's digest in containerd is its uncompressed
    digest, as C(docker save) writes it); the node receives an OCI image layout with the manifest, the
    configuration and the missing layers, and C(ctr images import) unpacks it. A node whose images share a
    base with O(image) receives the app's own layers only, not the base again.
  - containerd checks every blob it receives against its digest. With O(unpack=true) (the default) the import
    also unpacks the image, which fails if a layer is missing, so a node never ends up with a partial image
    under the name. With O(unpack=false) nothing checks that every layer is there until a container starts
    from the image.
  - Needs the C(docker) CLI on the controller and C(ctr) in each node container.
  - In check mode, reports what each node lacks and loads nothing.
options:
  image:
    description: The image, as the local Docker engine names it (C(repository:tag)), and the name it gets in
      each node's containerd.
    type: str
    required: true
  containers:
    description: The node containers, by name or ID.
    type: list
    elements: str
    required: true
  namespace:
    description: The containerd namespace the kubelet reads (C(k8s.io) for the CRI plugin).
    type: str
    default: k8s.io
  unpack:
    description:
      - Unpack the layers into containerd's snapshotter during the import, as C(ctr images import) and
        C(kind load) do.
      - V(false) only stores them (C(--no-unpack)). containerd's CRI plugin unpacks an image when the kubelet
        first creates a container from it, so the unpack then happens while the pod starts, beside whatever the
        play does next, instead of before the task returns. On a node whose images were all stored that way,
        the first image to be unpacked pays for its whole base (seconds for a Debian base).
    type: bool
    default: true
author: shipyard developers (@shipyard)
"""

EXAMPLES = r"""
- name: Load the app image into the local cluster's node
  shipyard.platform.node_image:
    image: localhost/shipyard/app:2f74145f4e16
    containers: [shipyard-node]

- name: Hand it over without unpacking; the kubelet unpacks it when the pod starts
  shipyard.platform.node_image:
    image: localhost/shipyard/app:2f74145f4e16
    containers: [shipyard-node]
    unpack: false
"""

RETURN = r"""
nodes:
  description: One entry per node container, in the order of O(containers).
  returned: always
  type: list
  elements: dict
  contains:
    container:
      description: The node container.
      type: str
    loaded:
      description: The node lacked the image and got it (or would, in check mode).
      type: bool
    layers_sent:
      description: Digests of the layers sent to the node (empty in check mode when the engine does not have the
        image yet, as when the same check run would build it).
      type: list
      elements: str
    layers_kept:
      description: How many of the image's distinct layers the node already had.
      type: int
    bytes_sent:
      description: Bytes of layers sent to the node (0 in check mode, which reads no layer).
      type: int
"""

import hashlib
import io
import json
import os
import shlex
import shutil
import tarfile
import tempfile

from ansible.module_utils.basic import AnsibleModule

_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_CONFIG = "application/vnd.docker.container.image.v1+json"
_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class NodeImageError(Exception):
    """A step failed; the message names it and what the tool said."""


class Docker:
    """The docker CLI, through the module's run_command."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module

    def run(self, *args: str) -> str:
        rc, out, err = self.module.run_command(["docker", *args])
        if rc != 0:
            raise NodeImageError(f"docker {' '.join(args)} failed (rc {rc}): {err.strip()}")
        return out

    def node_has_image(self, container: str, namespace: str, image: str) -> bool:
        return bool(
            self.run(
                "exec", container, "ctr", "--namespace", namespace, "images", "list", "--quiet", f"name=={image}"
            ).strip()
        )

    def node_blobs(self, container: str, namespace: str) -> set[str]:
        return set(self.run("exec", container, "ctr", "--namespace", namespace, "content", "list", "--quiet").split())

    def image_layers(self, image: str) -> list[str] | None:
        """The image's layer digests; None when the engine has no such image."""
        rc, out, err = self.module.run_command(
            ["docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}", image]
        )
        if rc != 0 and "no such image" in err.lower():
            return None
        if rc != 0:
            raise NodeImageError(f"docker image inspect {image} failed (rc {rc}): {err.strip()}")
        return json.loads(out)


class SavedImage:
    """The image as `docker save` writes it, read once into a private folder."""

    def __init__(self, docker: Docker, image: str, workdir: str) -> None:
        self.docker, self.image = docker, image
        self.path = os.path.join(workdir, "image.tar")
        docker.run("save", "--output", self.path, image)
        self._tar = tarfile.open(self.path)  # noqa: SIM115 - closed in close(), kept open for the nodes
        entries = json.load(self._tar.extractfile("manifest.json"))
        if len(entries) != 1:
            raise NodeImageError(f"docker save wrote {len(entries)} images for {image}, expected 1")
        self.config = self._tar.extractfile(entries[0]["Config"]).read()
        self.config_digest = _digest(self.config)
        diff_ids = json.loads(self.config)["rootfs"]["diff_ids"]
        paths = entries[0]["Layers"]
        if len(diff_ids) != len(paths):
            raise NodeImageError(f"{image}: {len(paths)} layer files for {len(diff_ids)} layers")
        self.layers = [
            (digest, path, self._tar.getmember(path).size) for digest, path in zip(diff_ids, paths, strict=True)
        ]
        self.sizes = {digest: size for digest, _path, size in self.layers}
        self.manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": _MANIFEST,
                "config": {
                    "mediaType": _CONFIG,
                    "size": len(self.config),
                    "digest": self.config_digest,
                },
                "layers": [
                    {"mediaType": _LAYER, "size": size, "digest": digest} for digest, _path, size in self.layers
                ],
            },
            separators=(",", ":"),
        ).encode()

    def layout(self, send: set[str], out) -> None:
        """Write to `out` an OCI image layout tar holding the manifest, the config and the layers in `send`."""
        manifest_digest = _digest(self.manifest)
        index = json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": _MANIFEST,
                        "digest": manifest_digest,
                        "size": len(self.manifest),
                        "annotations": {"io.containerd.image.name": self.image},
                    }
                ],
            }
        ).encode()
        with tarfile.open(fileobj=out, mode="w|") as layout:

            def add(name: str, data: bytes) -> None:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                layout.addfile(info, io.BytesIO(data))

            add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            sent = set()
            for digest, path, size in self.layers:
                if digest in send and digest not in sent:
                    sent.add(digest)
                    info = tarfile.TarInfo("blobs/sha256/" + digest.removeprefix("sha256:"))
                    info.size = size
                    layout.addfile(info, self._tar.extractfile(path))
            add("blobs/" + manifest_digest.replace(":", "/"), self.manifest)
            add("blobs/" + self.config_digest.replace(":", "/"), self.config)
            add("index.json", index)

    def import_into(self, container: str, namespace: str, send: set[str], unpack: bool) -> None:
        """Import into the node's containerd the layout with the layers in `send`; check the name is there."""
        argv = ["docker", "exec", "--interactive", container, "ctr", "--namespace", namespace, "images", "import"]
        argv += [] if unpack else ["--no-unpack"]
        argv += ["-"]
        # The layout is written beside the saved image, then redirected into `docker exec`: run_command
        # would hold a piped input whole in memory. Every word is quoted; the shell only redirects.
        layout = os.path.join(os.path.dirname(self.path), "layout.tar")
        with open(layout, "wb") as out:
            self.layout(send, out)
        rc, stdout, stderr = self.docker.module.run_command(
            " ".join(shlex.quote(word) for word in argv) + " < " + shlex.quote(layout), use_unsafe_shell=True
        )
        os.unlink(layout)
        if rc != 0:
            raise NodeImageError(f"ctr images import in {container} failed (rc {rc}): {(stderr or stdout).strip()}")
        if not self.docker.node_has_image(container, namespace, self.image):
            raise NodeImageError(f"ctr images import in {container} succeeded but the node has no image {self.image}")

    def close(self) -> None:
        self._tar.close()


def load(module: AnsibleModule) -> list[dict]:
    docker = Docker(module)
    image, namespace = module.params["image"], module.params["namespace"]
    nodes = {
        c: {"container": c, "loaded": False, "layers_sent": [], "layers_kept": 0, "bytes_sent": 0}
        for c in module.params["containers"]
    }
    lacking = {c: None for c in nodes if not docker.node_has_image(c, namespace, image)}
    if not lacking:
        return list(nodes.values())
    layers = docker.image_layers(image)
    if layers is None and module.check_mode:
        # A check run's build builds nothing: the image it would build is not there to compare.
        for container in lacking:
            nodes[container].update(loaded=True)
        return list(nodes.values())
    if layers is None:
        raise NodeImageError(f"the Docker engine has no image {image} to load: build or pull it first")
    for container in lacking:
        have = docker.node_blobs(container, namespace)
        lacking[container] = send = {digest for digest in layers if digest not in have}
        nodes[container].update(
            loaded=True,
            layers_sent=[d for d in dict.fromkeys(layers) if d in send],
            layers_kept=len(set(layers) - send),
        )
    if module.check_mode:
        return list(nodes.values())
    workdir = tempfile.mkdtemp(prefix="shipyard-node-image-")  # mode 0700: the image stays private
    try:
        saved = SavedImage(docker, image, workdir)
        try:
            for container, send in lacking.items():
                saved.import_into(container, namespace, send, module.params["unpack"])
                nodes[container]["bytes_sent"] = sum(size for d, size in saved.sizes.items() if d in send)
        finally:
            saved.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return list(nodes.values())


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "image": {"type": "str", "required": True},
            "containers": {"type": "list", "elements": "str", "required": True},
            "namespace": {"type": "str", "default": "k8s.io"},
            "unpack": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    if shutil.which("docker") is None:
        module.fail_json(msg="no docker CLI on the controller's PATH: it reads the image and reaches the nodes")
    try:
        nodes = load(module)
    except NodeImageError as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=any(n["loaded"] for n in nodes), nodes=nodes)


if __name__ == "__main__":
    main()
