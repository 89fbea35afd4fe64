"""shipyard.platform.manifests renders a role's templates into objects, as the template lookup would.

Each case runs a real playbook with a throwaway role, the way the roles call it:
the objects must equal what ansible.builtin.template and from_yaml_all give for
the same templates (the roles used those before), empty documents left out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}

TEMPLATES = {
    # Two objects and an empty document a switch leaves behind; loops and trim_blocks as in the roles.
    "objects.yml.j2": """\
{% for name in names %}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ name }}
  labels: {{ labels | to_json }}
data:
  path: {{ template_path }}
{% endfor %}
---
{% if extra %}
apiVersion: v1
kind: Service
metadata:
  name: extra
{% endif %}
""",
    # A manifest that embeds another template's text, as the frontend's embeds its nginx.conf.
    "embeds.yml.j2": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: embeds
data: {{ {'nginx.conf': lookup('shipyard.platform.manifests', 'nested.conf.j2', text=true)} | to_json }}
""",
    "nested.conf.j2": "listen {{ listen_port }};\n{% if extra %}extra on;\n{% endif %}\n",
    "broken.yml.j2": "kind: [unclosed\n",
    # A file that is one expression renders to the value itself, not to a YAML stream.
    "value.yml.j2": "{{ names }}",
}

PLAY = """\
- name: Render with the lookup and with ansible.builtin.template
  hosts: localhost
  gather_facts: false
  vars:
    names: [one, two]
    labels: {app: demo}
    listen_port: 8080
    extra: false
  roles:
    - role: demo
"""

TASKS = """\
- name: Write what both render
  ansible.builtin.copy:
    dest: "{{ out }}"
    mode: "0600"
    content: >-
      {{ {'lookup': query('shipyard.platform.manifests', *files),
          'builtin': query('ansible.builtin.template', *files) | map('ansible.builtin.from_yaml_all') | map('list')
                     | flatten(levels=1) | select | list,
          'text': lookup('shipyard.platform.manifests', 'nested.conf.j2', text=true),
          'builtin_text': lookup('ansible.builtin.template', 'nested.conf.j2')} | to_json }}
"""


def run(tmp_path: Path, files: list[str]) -> subprocess.CompletedProcess:
    role = tmp_path / "roles" / "demo"
    (role / "templates").mkdir(parents=True)
    (role / "tasks").mkdir()
    for name, text in TEMPLATES.items():
        (role / "templates" / name).write_text(text)
    (role / "tasks" / "main.yml").write_text(TASKS)
    (tmp_path / "play.yml").write_text(PLAY)
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            "localhost,",
            "-c",
            "local",
            "play.yml",
            "-e",
            json.dumps(
                {"files": files, "out": str(tmp_path / "out.json"), "ansible_python_interpreter": sys.executable}
            ),
        ],
        cwd=tmp_path,
        env={**ENV, "ANSIBLE_ROLES_PATH": str(tmp_path / "roles")},
        capture_output=True,
        text=True,
        check=False,
    )


def test_objects_equal_the_template_lookups_without_the_empty_documents(tmp_path: Path) -> None:
    result = run(tmp_path, ["objects.yml.j2", "embeds.yml.j2"])
    assert result.returncode == 0, result.stdout + result.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["lookup"] == out["builtin"]
    assert [(o["kind"], o["metadata"]["name"]) for o in out["lookup"]] == [
        ("ConfigMap", "one"),
        ("ConfigMap", "two"),
        ("ConfigMap", "embeds"),
    ]
    assert out["lookup"][0]["metadata"]["labels"] == {"app": "demo"}
    assert out["lookup"][0]["data"]["path"] == "objects.yml.j2"
    assert out["lookup"][2]["data"]["nginx.conf"] == "listen 8080;\n"
    assert out["text"] == out["builtin_text"] == "listen 8080;\n"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["missing.yml.j2"], "the template missing.yml.j2 is not in the role's templates/"),
        (["broken.yml.j2"], "broken.yml.j2 does not render to YAML"),
        (["value.yml.j2"], "value.yml.j2 renders to a list, not to YAML text"),
    ],
)
def test_a_missing_or_broken_template_fails_naming_it(tmp_path: Path, files: list[str], message: str) -> None:
    result = run(tmp_path, files)
    assert result.returncode != 0
    assert message in " ".join((result.stdout + result.stderr).split())
