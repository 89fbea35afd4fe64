"""The two rules every role shares: how an image is named, and which value a secret takes."""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("shipyard_values", ROOT / "plugins/filter/values.py")
values = importlib.util.module_from_spec(spec)
spec.loader.exec_module(values)


def test_an_image_is_named_by_its_parts_and_a_digest_wins() -> None:
    ref = values.image_reference
    assert ref({"repository": "prom/prometheus", "tag": "v3.5.0"}) == "prom/prometheus:v3.5.0"
    digest = "sha256:" + "a" * 64
    assert ref({"repository": "prom/prometheus", "tag": "v3.5.0", "digest": digest}) == f"prom/prometheus@{digest}"
    assert ref({"registry": "r.example.com", "repository": "s/app", "tag": "1"}) == "r.example.com/s/app:1"
    assert ref({"reference": "localhost/s/app:ctx-1", "repository": "ignored", "tag": "x"}) == "localhost/s/app:ctx-1"
    assert ref({"registry": "", "repository": "s/app", "tag": ""}) == "s/app"
    assert ref("already/whole:1") == "already/whole:1"


def live(**data: str) -> list[dict]:
    return [{"metadata": {"name": "s"}, "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}]


def test_a_given_value_wins_then_the_live_one_then_a_new_one() -> None:
    got = values.secret_values({"given": "from-vault", "kept": "", "new": ""}, live(given="old", kept="live-value"))
    assert got["given"] == "from-vault"
    assert got["kept"] == "live-value"
    assert len(got["new"]) == 32 and got["new"].isalnum()


def test_no_live_secret_generates_each_value_once_and_differently() -> None:
    first = values.secret_values({"a": "", "b": ""}, [], 40)
    assert len(first["a"]) == 40 and first["a"] != first["b"]
    assert values.secret_values({"a": ""}, None)["a"] != values.secret_values({"a": ""}, None)["a"]
    # A rerun reads what the first run applied: nothing rotates.
    assert values.secret_values({"a": "", "b": ""}, live(**first)) == first
