"""The image_build role's context hash: Docker's .dockerignore rules, stable, change-sensitive."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
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


def run_module(path: Path, tmp_path: Path) -> dict:
    """The module run as Ansible runs it: a Python process reading its arguments from a file."""
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"path": str(path)}}))
    out = subprocess.run(
        [sys.executable, str(ROOT / "plugins/modules/context_hash.py"), str(args)],
        capture_output=True,
        text=True,
        check=False,
    )
    return json.loads(out.stdout)


def test_the_revision_comes_with_the_hash_or_the_reason_there_is_none(tmp_path: Path) -> None:
    ctx = make_context(tmp_path / "ctx", ".git\n")  # as the app's .dockerignore has it
    outside = run_module(ctx, tmp_path)
    assert outside["revision"] == ""
    assert "not a git repository" in outside["revision_error"]
    assert re.fullmatch(r"[0-9a-f]{64}", outside["hash"])

    git = ["git", "-C", str(ctx), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    head = subprocess.run([*git, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True)
    inside = run_module(ctx, tmp_path)
    assert inside["revision"] == head.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{12}", inside["revision"])
    assert inside["revision_error"] == ""
    assert inside["hash"] == outside["hash"]  # the revision names the image; it does not change the hash
