"""Each role's meta/argument_specs.yml is its contract; defaults must not drift from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {} if path.is_file() else {}


def spec_options(role: Path) -> dict[str, dict]:
    options: dict[str, dict] = {}
    for entry in load(role / "meta/argument_specs.yml")["argument_specs"].values():
        options.update(entry.get("options") or {})
    return options


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_has_a_contract(role: Path) -> None:
    assert (role / "meta/argument_specs.yml").is_file(), f"{role.name} has no meta/argument_specs.yml"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_option_is_typed_described_and_prefixed(role: Path) -> None:
    for name, spec in spec_options(role).items():
        assert name.startswith(f"{role.name}_"), f"{role.name}: option {name} lacks the prefix {role.name}_"
        assert "type" in spec, f"{role.name}: option {name} has no type"
        assert spec.get("description"), f"{role.name}: option {name} has no description"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_defaults_and_specs_agree(role: Path) -> None:
    defaults = load(role / "defaults/main.yml")
    options = spec_options(role)
    assert set(defaults) - set(options) == set(), f"{role.name}: defaults missing from argument_specs"
    with_default = {k for k, v in options.items() if "default" in v}
    assert with_default - set(defaults) == set(), f"{role.name}: spec defaults missing from defaults/main.yml"
    for key in with_default:
        assert options[key]["default"] == defaults[key], f"{role.name}: {key} default differs between spec and defaults"


def test_role_readmes_are_generated_from_the_specs(tmp_path: Path) -> None:
    # aar-doc (make docs) on a copy of each role: the README must come out as committed.
    import shutil  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    stale = []
    for role in sorted(p for p in (ROOT / "roles").iterdir() if (p / "meta/argument_specs.yml").is_file()):
        copy = tmp_path / role.name
        shutil.copytree(role, copy)
        run = subprocess.run(
            [str(Path(sys.executable).parent / "aar-doc"), "--output-template", str(ROOT / "hack/role_docs.md.j2"),
             str(copy), "markdown"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        if (copy / "README.md").read_text() != (role / "README.md").read_text():
            stale.append(role.name)
    assert not stale, f"role READMEs out of date (run make docs): {stale}"


def test_readme_tag_table_is_generated_from_list_tags() -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    run = subprocess.run(
        [sys.executable, str(ROOT / "hack/tags_doc.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
