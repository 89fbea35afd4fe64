"""The image_build role's context hash: Docker's .dockerignore rules, stable, change-sensitive."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("context_hash", ROOT / "plugins/modules/context_hash.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)


def make_context(tmp_path: Path, ignore: str) -> Path:
    for rel, text in {
        "Dockerfile": "FROM x\n",
        "app/main.py": "print(1)\n",
        "app/__pycache__/main.pyc": "bytes",
        "docs/guide.md": "guide",
        "docs/keep.md": "kept",
        "deep/a/b/secret.env": "x=1",
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / ".dockerignore").write_text(ignore)
    return tmp_path


def test_dockerignore_rules(tmp_path: Path) -> None:
    rules = module.load_rules(make_context(tmp_path, "docs\n!docs/keep.md\n**/__pycache__\n**/*.env\n"))
    paths = ["app/main.py", "app/__pycache__/main.pyc", "docs/guide.md", "docs/keep.md", "deep/a/b/secret.env"]
    verdict = {p: module.excluded(p, rules) for p in paths}
    assert verdict == {
        "app/main.py": False,
        "app/__pycache__/main.pyc": True,
        "docs/guide.md": True,
        "docs/keep.md": False,
        "deep/a/b/secret.env": True,
    }


def test_hash_follows_what_the_build_sees(tmp_path: Path) -> None:
    ctx = make_context(tmp_path, "docs\n**/__pycache__\n")
    first, count = module.context_hash(str(ctx), "Dockerfile", [])
    assert count == 4  # Dockerfile, .dockerignore (Docker sends it too), app/main.py, deep/a/b/secret.env
    assert module.context_hash(str(ctx), "Dockerfile", [])[0] == first
    (ctx / "docs/guide.md").write_text("changed, but ignored")
    assert module.context_hash(str(ctx), "Dockerfile", [])[0] == first
    (ctx / "app/main.py").write_text("print(2)\n")
    assert module.context_hash(str(ctx), "Dockerfile", [])[0] != first


def test_build_args_and_base_image_count(tmp_path: Path) -> None:
    ctx = str(make_context(tmp_path, ""))
    assert (
        module.context_hash(ctx, "Dockerfile", ["BASE_ID=a"])[0]
        != module.context_hash(ctx, "Dockerfile", ["BASE_ID=b"])[0]
    )
