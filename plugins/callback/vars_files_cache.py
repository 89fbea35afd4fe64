# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse each play's vars_files once per version of the file, not again for every task."""

from __future__ import annotations

DOCUMENTATION = r"""
name: vars_files_cache
type: aggregate
author: shipyard developers (@shipyard)
short_description: Parse a play's vars_files once per version of the file instead of once per task
description:
  - Ansible computes a task's variables in the controller's main process before it forks the task's
    worker, two or three times per task, and each time it reads and parses every file of the play's
    C(vars_files) again (ansible-core keeps the parsed data of a vaulted one only). A site whose plays
    share a C(vars_files) file parses it hundreds of times in a run, the same text each time.
  - This callback keeps, for the run, the parsed data of each C(vars_files) file by its path and its
    C(stat) (device, inode, size, modification and change times), so a file that a task rewrites is
    parsed again at its next use, as before. The kept data is handed out as ansible-core hands out that of a
    vaulted file, the same object each time. Nothing else changes, and nothing is printed.
  - It wraps C(DataLoader.load_from_file) where ansible-core's variable manager calls it for
    C(vars_files) (its C(cache=vaulted) calls, and only those), which it has been tested with on
    ansible-core 2.19 only; with another version it does nothing and says so at C(-vvv).
  - Enable it with C(callbacks_enabled = shipyard.platform.vars_files_cache) in C(ansible.cfg).
requirements:
  - Enabled in C(callbacks_enabled).
"""

import functools
import inspect
import os

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.callback import CallbackBase
from ansible_collections.shipyard.platform.plugins.plugin_utils.engine_patch import install_if_tested

# The only callers of load_from_file with this cache option are the variable manager's vars_files reads.
VARS_FILES_CACHE_OPTION = "vaulted"


def _version_key(path):
    """What changes when the file does: its identity, size and times (None when it cannot be read)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def install():
    """Wrap DataLoader.load_from_file for vars_files reads; return the kept entries, or why it is off."""
    original = DataLoader.load_from_file
    kept = getattr(original, "_shipyard_vars_files_cache", None)
    if kept is not None:
        return kept
    parameters = inspect.signature(original).parameters
    if not {"file_name", "cache", "unsafe", "json_only", "trusted_as_template"} <= set(parameters):
        return f"DataLoader.load_from_file takes {', '.join(parameters)}"
    kept = {}

    @functools.wraps(original)
    def load_from_file(  # noqa: PLR0913 - DataLoader.load_from_file's own signature, which this wraps
        self, file_name, cache="all", unsafe=False, json_only=False, trusted_as_template=False
    ):
        if cache != VARS_FILES_CACHE_OPTION or not unsafe:
            return original(self, file_name, cache, unsafe, json_only, trusted_as_template)
        path = self.path_dwim(file_name)
        version = _version_key(path)
        key = (path, json_only, trusted_as_template)
        entry = kept.get(key)
        if entry is not None and version is not None and entry[0] == version:
            return entry[1]
        data = original(self, file_name, cache, unsafe, json_only, trusted_as_template)
        if version is not None and _version_key(path) == version:  # not rewritten while it was read
            kept[key] = (version, data)
        return data

    load_from_file._shipyard_vars_files_cache = kept
    DataLoader.load_from_file = load_from_file
    return kept


class CallbackModule(CallbackBase):
    """Install the cache when the playbook starts, after the plays are loaded and before the first task."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "shipyard.platform.vars_files_cache"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        install_if_tested(self.CALLBACK_NAME, install, "each vars_files file is parsed once per version")
