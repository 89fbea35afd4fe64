"""The one implementation every role uses for two shared rules: how an image is named, and which
value a secret takes (given, else kept from the cluster, else generated once)."""

from __future__ import annotations

import base64
import secrets
import string
from typing import Any

_ALPHABET = string.ascii_letters + string.digits


def image_reference(spec: dict[str, Any] | str) -> str:
    """An image reference from its parts: `reference` when given whole, else
    [registry/]repository, then @digest when one is pinned (a digest wins over a tag), else :tag
    when there is one."""
    if isinstance(spec, str):
        return spec
    if spec.get("reference"):
        return str(spec["reference"])
    repository = spec.get("repository") or ""
    if spec.get("registry"):
        repository = f"{spec['registry']}/{repository}"
    if spec.get("digest"):
        return f"{repository}@{spec['digest']}"
    return f"{repository}:{spec['tag']}" if spec.get("tag") else repository


def secret_values(given: dict[str, Any], live: list[dict[str, Any]] | None, length: int = 32) -> dict[str, str]:
    """The value of each key of `given`: the given one when it is not empty (vault, environment),
    else the live Secret's (a rerun never rotates a secret), else a new random one of `length`
    letters and digits. `live` is the `resources` of a k8s_info read of the Secret.

    Set the result as a fact before anything uses it: a variable holding this filter
    would draw new random values each time it is templated."""
    data = (live[0].get("data") or {}) if live else {}
    resolved = {}
    for key, value in given.items():
        if value:
            resolved[key] = str(value)
        elif data.get(key):
            resolved[key] = base64.b64decode(data[key]).decode()
        else:
            resolved[key] = "".join(secrets.choice(_ALPHABET) for _char in range(length))
    return resolved


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"image_reference": image_reference, "secret_values": secret_values}
