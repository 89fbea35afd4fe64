#!/usr/bin/python
# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: a content hash of a Docker build context."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: context_hash
short_description: Hash a Docker build context as Docker would send it
description:
  - Walks the build context, leaves out what C(.dockerignore) excludes (Docker's rules, the last matching
    pattern wins, C(!) re-includes, C(**) matches any number of folders), and hashes the relative paths,
    modes and contents of what remains, together with the Dockerfile and extra strings such as build args.
  - Equal contexts give equal hashes on any machine; any change to a file the build can see changes it.
  - Also gives the git revision of the context's checkout (C(git rev-parse --short=12 HEAD) in O(path)), or the
    reason there is none, so a role names its image by content and revision in one call.
  - Reads only; never reports a change.
options:
  path:
    description: The build context folder.
    type: path
    required: true
  dockerfile:
    description: The Dockerfile, relative to O(path).
    type: str
    default: Dockerfile
  extra:
    description: More strings to hash with the context, such as build args and the base image ID.
    type: list
    elements: str
    default: []
author: shipyard developers (@shipyard)
"""

EXAMPLES = r"""
- name: Hash the app's build context
  shipyard.platform.context_hash:
    path: "{{ playbook_dir }}/../app"
    extra: ["BASE_IMAGE=localhost/shipyard/debian:bookworm"]
  register: __ctx
"""

RETURN = r"""
hash:
  description: Hex sha256 of the context.
  returned: always
  type: str
files:
  description: How many files were hashed.
  returned: always
  type: int
revision:
  description: The checkout's revision, 12 hex digits; empty when O(path) is not in a git checkout or git fails.
  returned: always
  type: str
revision_error:
  description: Why there is no revision (git's message, or that git is missing); empty when there is one.
  returned: always
  type: str
"""

import fnmatch
import hashlib
import os
import re

from ansible.module_utils.basic import AnsibleModule


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    # Docker (moby/patternmatcher): '**' matches any number of folders, '*' and '?' stay in one segment.
    parts = []
    for segment in pattern.split("/"):
        if segment == "**":
            parts.append(".*")
        else:
            parts.append(fnmatch.translate(segment).removeprefix("(?s:").removesuffix(")\\Z").replace(".*", "[^/]*"))
    return re.compile("^" + "/".join(parts).replace(".*/", "(.*/)?") + "$")


def load_rules(context: str) -> list[tuple[bool, re.Pattern[str]]]:
    path = os.path.join(context, ".dockerignore")
    rules = []
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            for raw in handle:
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                negate = line.startswith("!")
                line = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
                rules.append((negate, _pattern_regex(line)))
    return rules


def excluded(relpath: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    # A path is also excluded when a parent folder matches: check each prefix, last rule wins.
    result = False
    prefixes = [relpath] + ["/".join(relpath.split("/")[: i + 1]) for i in range(relpath.count("/"))]
    for negate, regex in rules:
        if any(regex.match(p) for p in prefixes):
            result = not negate
    return result


def context_hash(context: str, dockerfile: str, extra: list[str]) -> tuple[str, int]:
    rules = load_rules(context)
    digest = hashlib.sha256()
    count = 0
    for root, dirs, files in os.walk(context):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, context).replace(os.sep, "/")
            if rel != dockerfile and excluded(rel, rules):
                continue
            digest.update(rel.encode() + b"\0" + oct(os.stat(full).st_mode & 0o777).encode() + b"\0")
            with open(full, "rb") as handle:
                for chunk in iter(lambda: handle.read(65536), b""):
                    digest.update(chunk)
            digest.update(b"\0")
            count += 1
    for item in extra:
        digest.update(b"extra\0" + item.encode() + b"\0")
    return digest.hexdigest(), count


def git_revision(module: AnsibleModule, path: str) -> tuple[str, str]:
    """The checkout's short revision and no error, or no revision and why."""
    git = module.get_bin_path("git")
    if git is None:
        return "", "git is not installed"
    rc, out, err = module.run_command([git, "rev-parse", "--short=12", "HEAD"], cwd=path)
    if rc != 0:
        return "", err.strip() or f"git rev-parse exited {rc}"
    return out.strip(), ""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "dockerfile": {"type": "str", "default": "Dockerfile"},
            "extra": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    if not os.path.isdir(path):
        module.fail_json(msg=f"build context {path} is not a folder")
    if not os.path.isfile(os.path.join(path, module.params["dockerfile"])):
        module.fail_json(msg=f"no {module.params['dockerfile']} in build context {path}")
    value, count = context_hash(path, module.params["dockerfile"], module.params["extra"])
    revision, revision_error = git_revision(module, path)
    module.exit_json(changed=False, hash=value, files=count, revision=revision, revision_error=revision_error)


if __name__ == "__main__":
    main()
