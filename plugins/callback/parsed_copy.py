# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copy a parsed file's kept data with its containers new and its immutable values shared."""

from __future__ import annotations

DOCUMENTATION = r"""
name: parsed_copy
type: aggregate
author: shipyard developers (@shipyard)
short_description: Hand out a parsed file's kept data with new containers and shared immutable values
description:
  - Ansible keeps the data of each YAML or JSON file it parses (a role's tasks, defaults, vars and argument
    specs, an included task file) and hands out a deep copy of it at each load, so that no caller changes
    the kept data. Python's C(copy.deepcopy) rebuilds every value, strings too; ansible-core 2.19 tags each
    parsed value with its origin, and a tagged string is rebuilt through pickling's reduce protocol with a
    copy of its tags. A site that runs its roles with C(include_role) loads them again in each play, while
    it runs; on this repository's site that is most of the copying.
  - This callback makes those copies with new containers (dicts and lists of the same types, tagged ones
    with the same tags) and the same scalar values (strings, numbers, booleans, dates and times, tagged or
    not, none of which can change in place), shared rather than rebuilt. A value of any other type is
    deep-copied as before, and one object reached twice (a YAML alias) is one object in the copy, as
    C(copy.deepcopy) keeps it. A caller can change its copy as before without changing the kept data.
    Nothing else changes, and nothing is printed.
  - It wraps C(DataLoader.load_from_file), which it has been tested with on ansible-core 2.19 only; with
    another version it does nothing and says so at C(-vvv).
  - Enable it with C(callbacks_enabled = shipyard.platform.parsed_copy) in C(ansible.cfg).
requirements:
  - Enabled in C(callbacks_enabled).
"""

import copy
import datetime
import functools
import inspect

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.callback import CallbackBase
from ansible_collections.shipyard.platform.plugins.plugin_utils.engine_patch import install_if_tested

try:  # ansible-core's tagged types, as 2.19 has them
    from ansible.module_utils._internal._datatag import AnsibleTaggedObject, AnsibleTagHelper
except ImportError:
    AnsibleTaggedObject = AnsibleTagHelper = None

_NATIVE_SCALARS = (str, bytes, int, float, bool, type(None), datetime.date, datetime.datetime, datetime.time)


def _types():
    """The scalar types shared as they are, and the tagged dict and list types (None where there is none)."""
    tagged = AnsibleTaggedObject._tagged_type_map
    scalars = frozenset(_NATIVE_SCALARS) | frozenset(tagged[t] for t in _NATIVE_SCALARS if t in tagged)
    return scalars, tagged.get(dict), tagged.get(list)


def copy_parsed(value, memo=None):
    """A copy of parsed data that no change to it can reach the original through: see the documentation."""
    scalars, tagged_dict, tagged_list = _TYPES
    memo = {} if memo is None else memo

    def walk(item):
        kind = type(item)
        if kind in scalars:
            return item
        done = memo.get(id(item))
        if done is not None:
            return done
        # A container is in the memo before its children are walked: a recursive alias
        # (`a: &x [1, *x]`) then comes back to it, as copy.deepcopy does.
        if kind is dict or kind is tagged_dict:
            new = memo[id(item)] = {} if kind is dict else AnsibleTagHelper.tag_copy(item, {}, value_type=kind)
            for key, child in dict.items(item):
                new[walk(key)] = walk(child)
            return new
        if kind is list or kind is tagged_list:
            new = memo[id(item)] = [] if kind is list else AnsibleTagHelper.tag_copy(item, [], value_type=kind)
            new.extend(walk(child) for child in list.__iter__(item))
            return new
        # Anything else as ansible-core copies it (the memo is deepcopy's own kind: id -> copy).
        return copy.deepcopy(item, memo)

    return walk(value)


_TYPES = _types() if AnsibleTaggedObject is not None else (frozenset(_NATIVE_SCALARS), None, None)


def install():
    """Wrap DataLoader.load_from_file; return True, or a string that says why it is off."""
    if AnsibleTagHelper is None or _TYPES[1] is None or _TYPES[2] is None:
        return "ansible-core has no tagged dict and list types"
    original = DataLoader.load_from_file
    if getattr(original, "_shipyard_parsed_copy", False):
        return True
    parameters = list(inspect.signature(original).parameters)
    if parameters != ["self", "file_name", "cache", "unsafe", "json_only", "trusted_as_template"]:
        return f"DataLoader.load_from_file takes {', '.join(parameters)}"

    @functools.wraps(original)
    def load_from_file(  # noqa: PLR0913 - DataLoader.load_from_file's own signature, which this wraps
        self, file_name, cache="all", unsafe=False, json_only=False, trusted_as_template=False
    ):
        # unsafe=True: ansible-core hands out the kept data itself, which is copied here.
        data = original(self, file_name, cache, True, json_only, trusted_as_template)
        return data if unsafe else copy_parsed(data)

    load_from_file._shipyard_parsed_copy = True
    DataLoader.load_from_file = load_from_file
    return True


class CallbackModule(CallbackBase):
    """Install the wrapper when the playbook starts: the roles included while it runs load with it."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "shipyard.platform.parsed_copy"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        install_if_tested(self.CALLBACK_NAME, install, "parsed files are copied with their values shared")
