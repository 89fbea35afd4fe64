#!/usr/bin/env python3
"""Write each role's variable table into its README from meta/argument_specs.yml.

The table sits between BEGIN/END markers; the prose around it is the role's
own. `--check` exits 1 when a README is out of date (the unit tests run it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- BEGIN_ARGUMENT_SPECS -->", "<!-- END_ARGUMENT_SPECS -->"


def cell(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(role: Path) -> str:
    specs = yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]
    out = []
    for entry, spec in specs.items():
        options = spec.get("options") or {}
        if not options:
            continue
        title = "Variables" if entry == "main" else f"Variables of `tasks_from: {entry}`"
        out += [f"### {title}", "", f"{spec.get('short_description', '')}", ""]
        out += ["| variable | type | default | choices | description |", "|---|---|---|---|---|"]
        main_options = (specs.get("main") or {}).get("options") or {}
        for name, opt in options.items():
            if entry != "main" and name in main_options:
                continue  # listed once, under main
            description = opt.get("description", "")
            if isinstance(description, list):
                description = " ".join(description)
            default = "(required)" if opt.get("required") else f"`{cell(opt.get('default', ''))}`"
            choices = ", ".join(f"`{c}`" for c in opt.get("choices", []))
            kind = opt.get("type", "str") + (f" of {opt['elements']}" if opt.get("elements") else "")
            out.append(f"| `{name}` | {kind} | {default} | {choices} | {cell(description)} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def render(role: Path) -> str:
    readme = role / "README.md"
    text = readme.read_text() if readme.is_file() else f"# {role.name}\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text = text.rstrip() + f"\n\n## Variables\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table(role)}{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a README is out of date")
    args = parser.parse_args()
    stale = []
    for role in sorted(p for p in (ROOT / "roles").iterdir() if (p / "meta/argument_specs.yml").is_file()):
        wanted = render(role)
        readme = role / "README.md"
        if (readme.read_text() if readme.is_file() else "") != wanted:
            stale.append(readme.relative_to(ROOT))
            if not args.check:
                readme.write_text(wanted)
    if args.check and stale:
        print("out of date (run python hack/role_docs.py):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
