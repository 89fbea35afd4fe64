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
  - C(docker save) writes the whole image, base included, to read the few layers a node lacks (seconds for a
    Debian base). With O(cache_dir), the configuration and the layers sent are kept there by digest, and a
    later load of the same image into another node (a new cluster) reads them instead of saving the image
    again. Each kept file is checked against its digest before it is sent; one that does not match is
    removed and the image is saved again.
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
  cache_dir:
    description:
      - A folder (created with mode 0700) that keeps, by digest, each loaded image's configuration and the layers
        sent, for the next load of the same image. The entries of the four images loaded last are kept; older
        ones and the layers only they named are removed.
      - Unset, nothing is kept and every load runs C(docker save). A folder that cannot be created or written
        is a warning, and the load goes on without it.
    type: path
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

- name: Keep what it sends, so that a new cluster's node gets the same image without a docker save
  shipyard.platform.node_image:
    image: localhost/shipyard/app:2f74145f4e16
    containers: [shipyard-node]
    cache_dir: ~/.cache/shipyard/node-images
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
from_cache:
  description: The layers sent were read from O(cache_dir), without C(docker save).
  returned: always
  type: bool
"""

import contextlib
import hashlib
import io
import json
import os
import shlex
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from typing import BinaryIO

from ansible.module_utils.basic import AnsibleModule

_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_CONFIG = "application/vnd.docker.container.image.v1+json"
_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _manifest(config: bytes, layers: list[tuple[str, int]]) -> bytes:
    """The image manifest for a configuration and its (digest, size) layers, in order."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": _MANIFEST,
            "config": {"mediaType": _CONFIG, "size": len(config), "digest": _digest(config)},
            "layers": [{"mediaType": _LAYER, "size": size, "digest": digest} for digest, size in layers],
        },
        separators=(",", ":"),
    ).encode()


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

    def import_layout(self, source: ImageSource, workdir: str, container: str, send: set[str]) -> None:
        """Import into the node's containerd the source's layout with the layers in `send`; check the name is
        there."""
        namespace = self.module.params["namespace"]
        argv = ["docker", "exec", "--interactive", container, "ctr", "--namespace", namespace, "images", "import"]
        argv += [] if self.module.params["unpack"] else ["--no-unpack"]
        argv += ["-"]
        # The layout is written to the private folder, then redirected into `docker exec`: run_command
        # would hold a piped input whole in memory. Every word is quoted; the shell only redirects.
        layout = os.path.join(workdir, "layout.tar")
        with open(layout, "wb") as out:
            source.layout(send, out)
        rc, stdout, stderr = self.module.run_command(
            " ".join(shlex.quote(word) for word in argv) + " < " + shlex.quote(layout), use_unsafe_shell=True
        )
        os.unlink(layout)
        if rc != 0:
            raise NodeImageError(f"ctr images import in {container} failed (rc {rc}): {(stderr or stdout).strip()}")
        if not self.node_has_image(container, namespace, source.image):
            raise NodeImageError(f"ctr images import in {container} succeeded but the node has no image {source.image}")

    def image_layers(self, image: str) -> tuple[str, list[str]] | None:
        """The image's ID and layer digests; None when the engine has no such image."""
        rc, out, err = self.module.run_command(
            ["docker", "image", "inspect", "--format", "{{json .Id}} {{json .RootFS.Layers}}", image]
        )
        if rc != 0 and "no such image" in err.lower():
            return None
        if rc != 0:
            raise NodeImageError(f"docker image inspect {image} failed (rc {rc}): {err.strip()}")
        image_id, layers = out.split(" ", 1)
        return json.loads(image_id), json.loads(layers)


class ImageSource:
    """An image's configuration and layers, and the OCI layout of them that a node imports."""

    image: str
    config: bytes
    layers: list[tuple[str, str, int]]  # digest, where the source keeps the layer, size

    def open_layer(self, digest: str, where: str) -> BinaryIO:
        """The layer's content, from the start."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @property
    def config_digest(self) -> str:
        return _digest(self.config)

    @property
    def sizes(self) -> dict[str, int]:
        return {digest: size for digest, _where, size in self.layers}

    @property
    def manifest(self) -> bytes:
        return _manifest(self.config, [(digest, size) for digest, _where, size in self.layers])

    def layout(self, send: set[str], out: BinaryIO) -> None:
        """Write to `out` an OCI image layout tar holding the manifest, the config and the layers in `send`."""
        manifest = self.manifest
        manifest_digest = _digest(manifest)
        index = json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": _MANIFEST,
                        "digest": manifest_digest,
                        "size": len(manifest),
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
            for digest, where, size in self.layers:
                if digest in send and digest not in sent:
                    sent.add(digest)
                    info = tarfile.TarInfo("blobs/sha256/" + digest.removeprefix("sha256:"))
                    info.size = size
                    layout.addfile(info, self.open_layer(digest, where))
            add("blobs/" + manifest_digest.replace(":", "/"), manifest)
            add("blobs/" + self.config_digest.replace(":", "/"), self.config)
            add("index.json", index)


class SavedImage(ImageSource):
    """The image as `docker save` writes it, read once into a private folder."""

    def __init__(self, docker: Docker, image: str, workdir: str) -> None:
        self.image = image
        path = os.path.join(workdir, "image.tar")
        docker.run("save", "--output", path, image)
        self._tar = tarfile.open(path)  # noqa: SIM115 - closed in close(), kept open for the nodes
        entries = json.load(self._tar.extractfile("manifest.json"))
        if len(entries) != 1:
            raise NodeImageError(f"docker save wrote {len(entries)} images for {image}, expected 1")
        self.config = self._tar.extractfile(entries[0]["Config"]).read()
        diff_ids = json.loads(self.config)["rootfs"]["diff_ids"]
        paths = entries[0]["Layers"]
        if len(diff_ids) != len(paths):
            raise NodeImageError(f"{image}: {len(paths)} layer files for {len(diff_ids)} layers")
        self.layers = [
            (digest, path, self._tar.getmember(path).size) for digest, path in zip(diff_ids, paths, strict=True)
        ]

    def open_layer(self, digest: str, where: str) -> BinaryIO:
        return self._tar.extractfile(where)

    def close(self) -> None:
        self._tar.close()


class CachedImage(ImageSource):
    """An image read back from a LayerCache: its configuration and the kept layers, each file opened (an entry
    evicted meanwhile by another run stays readable) and checked against its digest."""

    def __init__(self, image: str, config: bytes, layers: list[tuple[str, int]], files: dict[str, BinaryIO]) -> None:
        self.image, self.config, self._files = image, config, files
        self.layers = [(digest, digest, size) for digest, size in layers]

    def open_layer(self, digest: str, where: str) -> BinaryIO:
        file = self._files[where]
        file.seek(0)  # read once for each node that lacks it
        return file

    def close(self) -> None:
        for file in self._files.values():
            file.close()


class LayerCache:
    """What earlier loads sent, in a private folder: `images/<ID>.json` names an image's configuration and
    layers, `blobs/<hex>` holds each kept blob under its sha256. The entries of the last KEEP images loaded
    stay; a blob no entry names goes."""

    KEEP = 4

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(path, mode=0o700, exist_ok=True)
        for sub in ("images", "blobs"):
            os.makedirs(os.path.join(path, sub), mode=0o700, exist_ok=True)

    def _entry(self, image_id: str) -> str:
        return os.path.join(self.path, "images", image_id.removeprefix("sha256:") + ".json")

    def _blob(self, digest: str) -> str:
        return os.path.join(self.path, "blobs", digest.removeprefix("sha256:"))

    def _write(self, path: str, chunks: Iterable[bytes]) -> None:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    def _open_checked(self, digest: str, size: int) -> BinaryIO | None:
        """The kept blob, opened and read through once to check its size and digest; a bad one is removed."""
        try:
            file = open(self._blob(digest), "rb")  # noqa: SIM115 - handed to CachedImage, which closes it
        except FileNotFoundError:
            return None
        sha, total = hashlib.sha256(), 0
        for chunk in iter(lambda: file.read(1 << 20), b""):
            sha.update(chunk)
            total += len(chunk)
        if total == size and "sha256:" + sha.hexdigest() == digest:
            file.seek(0)
            return file
        file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._blob(digest))
        return None

    def image(self, image: str, image_id: str, send: set[str]) -> CachedImage | None:
        """The image as kept, if its entry, its configuration and every layer in `send` are there and sound."""
        try:
            with open(self._entry(image_id), "rb") as f:
                entry = json.load(f)
            with open(self._blob(entry["config"]), "rb") as f:
                config = f.read()
            layers = [(digest, int(size)) for digest, size in entry["layers"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if _digest(config) != entry["config"]:
            return None
        sizes, files = dict(layers), {}
        for digest in sorted(send):
            file = self._open_checked(digest, sizes[digest]) if digest in sizes else None
            if file is None:
                for opened in files.values():
                    opened.close()
                return None
            files[digest] = file
        os.utime(self._entry(image_id))  # the last used, for eviction
        return CachedImage(image, config, layers, files)

    def keep(self, image_id: str, saved: SavedImage, send: set[str]) -> None:
        """Keep the saved image's configuration and the layers in `send`, then evict beyond KEEP images."""
        self._write(self._blob(saved.config_digest), [saved.config])
        for digest, where, _size in saved.layers:
            if digest in send and not os.path.exists(self._blob(digest)):
                layer = saved.open_layer(digest, where)
                self._write(self._blob(digest), iter(lambda layer=layer: layer.read(1 << 20), b""))
        entry = {"config": saved.config_digest, "layers": [[d, size] for d, _where, size in saved.layers]}
        self._write(self._entry(image_id), [json.dumps(entry).encode()])
        self._evict()

    def _evict(self) -> None:
        images = os.path.join(self.path, "images")
        entries = sorted(
            (os.path.join(images, name) for name in os.listdir(images) if name.endswith(".json")),
            key=os.path.getmtime,
            reverse=True,
        )
        named = set()
        for number, path in enumerate(entries):
            if number >= self.KEEP:
                os.unlink(path)
                continue
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                with open(path, "rb") as f:
                    entry = json.load(f)
                named.add(entry["config"].removeprefix("sha256:"))
                named.update(digest.removeprefix("sha256:") for digest, _size in entry["layers"])
        blobs = os.path.join(self.path, "blobs")
        for name in os.listdir(blobs):
            if name not in named and not name.startswith(".tmp-"):
                os.unlink(os.path.join(blobs, name))


def _source(
    module: AnsibleModule, docker: Docker, image_id: str, wanted: set[str], workdir: str
) -> tuple[ImageSource, bool]:
    """The image with the layers in `wanted`: from the cache when it holds them, else saved (and then kept).
    The cache only saves time: a folder it cannot use is a warning, and the image is saved as without it."""
    image, folder = module.params["image"], module.params["cache_dir"]
    cache = None
    if folder:
        try:
            cache = LayerCache(folder)
        except OSError as err:
            module.warn(f"no layer cache in {folder}, loading without it: {err}")
    kept = cache.image(image, image_id, wanted) if cache else None
    if kept is not None:
        return kept, True
    saved = SavedImage(docker, image, workdir)
    if cache:
        try:
            cache.keep(image_id, saved, wanted)
        except OSError as err:
            module.warn(f"could not keep the layers in {folder}: {err}")
    return saved, False


def load(module: AnsibleModule) -> tuple[list[dict], bool]:
    """Load the image into the nodes that lack it; each node's result, and whether the cache served it."""
    docker = Docker(module)
    image, namespace = module.params["image"], module.params["namespace"]
    nodes = {
        c: {"container": c, "loaded": False, "layers_sent": [], "layers_kept": 0, "bytes_sent": 0}
        for c in module.params["containers"]
    }
    lacking = {c: None for c in nodes if not docker.node_has_image(c, namespace, image)}
    if not lacking:
        return list(nodes.values()), False
    found = docker.image_layers(image)
    if found is None and module.check_mode:
        # A check run's build builds nothing: the image it would build is not there to compare.
        for container in lacking:
            nodes[container].update(loaded=True)
        return list(nodes.values()), False
    if found is None:
        raise NodeImageError(f"the Docker engine has no image {image} to load: build or pull it first")
    image_id, layers = found
    for container in lacking:
        have = docker.node_blobs(container, namespace)
        lacking[container] = send = {digest for digest in layers if digest not in have}
        nodes[container].update(
            loaded=True,
            layers_sent=[d for d in dict.fromkeys(layers) if d in send],
            layers_kept=len(set(layers) - send),
        )
    if module.check_mode:
        return list(nodes.values()), False
    wanted = set().union(*lacking.values())
    workdir = tempfile.mkdtemp(prefix="shipyard-node-image-")  # mode 0700: the image stays private
    try:
        source, from_cache = _source(module, docker, image_id, wanted, workdir)
        try:
            for container, send in lacking.items():
                docker.import_layout(source, workdir, container, send)
                nodes[container]["bytes_sent"] = sum(size for d, size in source.sizes.items() if d in send)
        finally:
            source.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return list(nodes.values()), from_cache


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "image": {"type": "str", "required": True},
            "containers": {"type": "list", "elements": "str", "required": True},
            "namespace": {"type": "str", "default": "k8s.io"},
            "unpack": {"type": "bool", "default": True},
            "cache_dir": {"type": "path"},
        },
        supports_check_mode=True,
    )
    if shutil.which("docker") is None:
        module.fail_json(msg="no docker CLI on the controller's PATH: it reads the image and reaches the nodes")
    try:
        nodes, from_cache = load(module)
    except (NodeImageError, OSError) as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=any(n["loaded"] for n in nodes), nodes=nodes, from_cache=from_cache)


if __name__ == "__main__":
    main()
