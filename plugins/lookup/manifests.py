# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a role's templates into the Kubernetes objects (or the text) they describe."""

from __future__ import annotations

DOCUMENTATION = r"""
name: manifests
author: shipyard developers (@shipyard)
short_description: Render a role's manifest templates into Kubernetes objects
description:
  - Renders each template with the task's variables, as C(ansible.builtin.template) does, and parses the result
    as a YAML stream. Returns the objects of every document of every template, in order, in one flat list;
    empty documents (a part a variable switches off) are left out.
  - Templates are searched as the template lookup searches them, the calling role's C(templates/) first.
  - The task's variables are layered under the template's own, as the template action does, not deep-copied
    for each template as the template lookup does; a template reads them and must not change them in place.
  - With O(text=true), returns each template's text instead (configuration files that are not manifests).
  - A missing template, one that does not render to YAML, or one that renders to a value rather than text (a file
    that is a single expression) fails the task, naming the template.
options:
  _terms:
    description: Template paths, relative to a C(templates/) directory of the role.
    required: true
    type: list
    elements: str
  text:
    description: Return each template's rendered text, not its objects.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Apply a role's workloads in one call
  kubernetes.core.k8s:
    state: present
    apply: true
    definition: "{{ query('shipyard.platform.manifests', 'manifests/prometheus.yml.j2', 'manifests/grafana.yml.j2') }}"

- name: Render a configuration file
  ansible.builtin.set_fact:
    prometheus_config: "{{ lookup('shipyard.platform.manifests', 'config/prometheus.yml.j2', text=true) }}"
"""

RETURN = r"""
_list:
  description: The objects of every document of every template (or, with O(text=true), each template's text).
  type: list
  elements: raw
"""

import os
from collections import ChainMap

import yaml
from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from ansible.template import trust_as_template

# libyaml's parser where PyYAML was built with it (ansible-core's own choice too): the
# site's manifests parse about ten times faster than in pure Python.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        text = self.get_option("text")
        variables = variables or {}
        searchpath = []
        for path in variables.get("ansible_search_path", []):
            searchpath += [os.path.join(path, "templates"), path]

        ret = []
        for term in terms:
            found = self.find_file_in_search_path(variables, "templates", term)
            if not found:
                raise AnsibleError(f"the template {term} is not in the role's templates/ (searched {searchpath})")
            # The template's own path under the names ansible.builtin.template uses, over the task's variables.
            own = {"template_path": term, "template_fullpath": found}
            templar = self._templar.copy_with_new_env(
                available_variables=ChainMap(own, variables), searchpath=[os.path.dirname(found), *searchpath]
            )
            rendered = templar.template(
                trust_as_template(self._loader.get_text_file_contents(found)), escape_backslashes=False
            )
            if not isinstance(rendered, str):  # a file that is one expression, rendered to a value: not a stream
                kind = next(t.__name__ for t in type(rendered).__mro__ if t.__module__ == "builtins")
                raise AnsibleError(f"{term} renders to a {kind}, not to YAML text")
            if text:
                ret.append(rendered)
                continue
            try:
                documents = list(yaml.load_all(str(rendered), Loader=_LOADER))  # libyaml takes only a plain str
            except yaml.YAMLError as exc:
                raise AnsibleError(f"{term} does not render to YAML: {exc}") from exc
            ret.extend(document for document in documents if document is not None)
        return ret
