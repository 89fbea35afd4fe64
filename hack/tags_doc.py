#!/usr/bin/env python3
"""Write the README's table of site tags from `ansible-playbook --list-tags`.

tags_doc.py          rewrite README.md between the BEGIN_TAGS/END_TAGS markers
tags_doc.py --check  exit 1 when the README is out of date
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN, END = "<!-- BEGIN_TAGS -->\n", "<!-- END_TAGS -->"
PLAY = re.compile(r"play #\d+ \((?P<hosts>[^)]*)\): (?P<name>[^\t]*)\tTAGS: \[(?P<tags>[^\]]*)\]")


def table() -> str:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    run = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventories/sandbox",
         "playbooks/site.yml", "--list-tags"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows: dict[str, list[tuple[str, str]]] = {}
    for match in PLAY.finditer(run.stdout):
        # A play's tags come as a set: sorted here, so the table is stable.
        for tag in sorted(filter(None, (t.strip() for t in match["tags"].split(",")))):
            rows.setdefault(tag, []).append((match["name"], match["hosts"]))
    lines = ["| Tag | Runs | On |", "|---|---|---|"]
    for tag, plays in rows.items():
        names = "; ".join(name for name, _ in plays)
        hosts = ", ".join(sorted({hosts for _, hosts in plays}))
        note = (
            " (every run: an unknown tag or role variable, or any role's bad input, stops it before any change)"
            if tag == "always"
            else ""
        )
        lines.append(f"| `{tag}` | {names}{note} | `{hosts}` |")
    return "\n".join(lines) + "\n"


def main() -> int:
    text = README.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    wanted = f"{head}{BEGIN}{table()}{END}{tail}"
    if "--check" in sys.argv:
        if wanted != text:
            print("README.md's tag table is out of date: run hack/tags_doc.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
