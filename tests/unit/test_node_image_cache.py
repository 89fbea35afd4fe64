"""node_image's layer cache: what one load sent comes back byte for byte for the next, a damaged or missing
file is a miss (and goes), only the last images' entries stay, and the folder is private.

The images here are built in memory as `ImageSource`s; the cache reads and writes real files. The module's
path through Docker and a real node's containerd is tests/cluster/test_node_image.py.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import stat
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("node_image", ROOT / "plugins/modules/node_image.py")
node_image = importlib.util.module_from_spec(spec)
spec.loader.exec_module(node_image)


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class MemoryImage(node_image.ImageSource):
    """An image whose layers are byte strings, as `docker save` would hand them over."""

    def __init__(self, name: str, layers: list[bytes]) -> None:
        self.image = name
        self._data = {digest(layer): layer for layer in layers}
        self.config = json.dumps({"rootfs": {"diff_ids": [digest(layer) for layer in layers]}, "n": name}).encode()
        self.layers = [(digest(layer), digest(layer), len(layer)) for layer in layers]

    def open_layer(self, digest: str, where: str) -> io.BytesIO:
        return io.BytesIO(self._data[where])

    def close(self) -> None:
        pass


def layout(source: node_image.ImageSource, send: set[str]) -> dict[str, bytes]:
    """The OCI layout the node would import, as {member: content}."""
    out = io.BytesIO()
    source.layout(send, out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


BASE, APP = b"base layer " * 1000, b"app layer " * 100


def test_a_kept_image_comes_back_as_the_same_layout(tmp_path: Path) -> None:
    cache = node_image.LayerCache(str(tmp_path / "cache"))
    image = MemoryImage("localhost/app:1", [BASE, APP])
    send = {digest(APP)}
    assert cache.image(image.image, "sha256:id1", send) is None  # nothing kept yet
    cache.keep("sha256:id1", image, send)

    kept = cache.image(image.image, "sha256:id1", send)
    assert kept is not None
    try:
        assert layout(kept, send) == layout(image, send)
        assert layout(kept, send) == layout(image, send)  # a second node reads the layer from its start again
        assert digest(APP).removeprefix("sha256:") in {n.split("/")[-1] for n in layout(kept, send)}
    finally:
        kept.close()
    # Only what was sent is kept: the base a node already had is not copied.
    assert not (tmp_path / "cache/blobs" / digest(BASE).removeprefix("sha256:")).exists()
    # A node that lacks the base too is a miss: the cache never sends a partial image.
    assert cache.image(image.image, "sha256:id1", {digest(BASE), digest(APP)}) is None
    mode = stat.S_IMODE(os.stat(tmp_path / "cache").st_mode)
    assert mode == 0o700, oct(mode)


def test_a_damaged_layer_is_a_miss_and_is_removed(tmp_path: Path) -> None:
    cache = node_image.LayerCache(str(tmp_path))
    image = MemoryImage("localhost/app:1", [BASE, APP])
    send = {digest(APP)}
    cache.keep("sha256:id1", image, send)
    blob = tmp_path / "blobs" / digest(APP).removeprefix("sha256:")
    blob.write_bytes(APP[:-1] + b"X")  # same size, other content
    assert cache.image(image.image, "sha256:id1", send) is None
    assert not blob.exists()
    cache.keep("sha256:id1", image, send)  # the next docker save puts it back
    kept = cache.image(image.image, "sha256:id1", send)
    assert kept is not None
    kept.close()


def test_only_the_last_images_stay_and_a_shared_layer_with_them(tmp_path: Path) -> None:
    cache = node_image.LayerCache(str(tmp_path))
    shared = b"shared " * 50
    images = [MemoryImage(f"localhost/app:{n}", [shared, f"own {n}".encode()]) for n in range(6)]
    past = time.time() - 100  # each entry gets its own second, in the order of the loads
    for number, image in enumerate(images):
        cache.keep(f"sha256:id{number}", image, {digest(layer) for layer in image._data.values()})
        os.utime(tmp_path / "images" / f"id{number}.json", (past + number, past + number))
        if number == 3:
            hit = cache.image(images[0].image, "sha256:id0", {digest(b"own 0")})  # used again: kept longer
            assert hit is not None
            hit.close()
    entries = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert entries == ["id0.json", "id3.json", "id4.json", "id5.json"], entries
    blobs = {p.name for p in (tmp_path / "blobs").iterdir()}
    assert digest(b"own 1").removeprefix("sha256:") not in blobs
    assert digest(b"own 2").removeprefix("sha256:") not in blobs
    assert digest(shared).removeprefix("sha256:") in blobs
    kept = cache.image("localhost/app:0", "sha256:id0", {digest(b"own 0")})
    assert kept is not None
    kept.close()
