# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load the Jinja plugins in the controller's main process, before any task's worker is forked."""

from __future__ import annotations

DOCUMENTATION = r"""
name: preload
type: aggregate
author: shipyard developers (@shipyard)
short_description: Load the filter, test and lookup plugins once, before the workers fork
description:
  - Ansible runs each task of each host in a worker process forked from the controller's main process.
    The main process never templates a task, so it never loads a filter, test or lookup plugin, and every
    worker loads again each plugin file its task uses (ansible.builtin's filters and tests are loaded all
    together on the first use), about 20 files and a few milliseconds of every task that templates a filter.
  - This callback loads them in the main process when the playbook starts; every worker then inherits them
    from the fork. Nothing else changes, and nothing is printed.
  - Loads ansible.builtin's filters and tests, its lookups, and the filters, tests and lookups of each
    collection in O(collections).
  - With a Mitogen strategy (C(mitogen_linear), C(mitogen_free)), Mitogen's planner lists the installed
    collections in each worker, before it runs a module from a collection, and so reads every collection's
    metadata again, about 5 ms of each such task here. When the first play with a Mitogen strategy starts,
    this callback lists them once in the main process, and the planner in every worker uses that list. It
    wraps the planner's private C(_load_collections), and was tested with Mitogen 0.3.54 only; with
    another version it leaves the planner as it is and says so at C(-vvv).
  - Enable it with C(callbacks_enabled = shipyard.platform.preload) in C(ansible.cfg).
requirements:
  - Enabled in C(callbacks_enabled).
options:
  collections:
    description: The collections whose filter, test and lookup plugins are loaded, besides ansible.builtin's.
    type: list
    elements: str
    default: [shipyard.platform]
    ini:
      - section: callback_shipyard_preload
        key: collections
    env:
      - name: SHIPYARD_PRELOAD_COLLECTIONS
"""

import inspect

from ansible.plugins.callback import CallbackBase
from ansible.plugins.list import list_plugins
from ansible.plugins.loader import filter_loader, lookup_loader, test_loader
from ansible.template import Templar
from ansible.utils.display import Display
from ansible_collections.shipyard.platform.plugins.plugin_utils.engine_patch import (
    install_if_tested,
    untested_mitogen,
    uses_mitogen,
)

display = Display()


def share_collection_list():
    """Have Mitogen's planner use one list of the collection folders; True, or a string that says why not."""
    untested = untested_mitogen()
    if untested:
        return untested
    from ansible_mitogen import planner  # noqa: PLC0415 - Mitogen is optional

    original = getattr(planner, "_load_collections", None)
    if getattr(original, "_shipyard_listed", False):
        return True
    if original is None or list(inspect.signature(original).parameters) != ["invocation"]:
        return "Mitogen's planner has no _load_collections(invocation)"
    from ansible.collections.list import list_collection_dirs  # noqa: PLC0415 - only for Mitogen's planner

    # What the planner adds for each module from a collection, as it adds it (the folders' paths as text).
    folders = tuple(path.decode("utf-8") for path in list_collection_dirs())

    def load_collections(invocation):
        # The planner's own attribute, which it fills the same way.
        invocation._extra_sys_paths.update(folders)

    load_collections._shipyard_listed = True
    planner._load_collections = load_collections
    return True


class CallbackModule(CallbackBase):
    """Load plugins at the playbook's start so that the forked workers inherit them."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "shipyard.platform.preload"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        try:
            self._preload(playbook)
        except Exception as ex:  # a speed-up must never stop a run
            display.warning(f"shipyard.platform.preload: the plugins were not loaded ahead: {ex}")

    def v2_playbook_on_play_start(self, play):
        if uses_mitogen(play):
            install_if_tested(
                self.CALLBACK_NAME, share_collection_list, "Mitogen's planner uses one list of the collections"
            )

    def _preload(self, playbook):
        # ansible.builtin's filters and tests are loaded as one set on their first use.
        for loader in (filter_loader, test_loader):
            list(loader.all())
        loaders = {"filter": filter_loader, "test": test_loader, "lookup": lookup_loader}
        for collection in ["ansible.builtin", *self.get_option("collections")]:
            for kind, loader in loaders.items():
                # Listing a collection's plugins loads each of them, which is the point.
                try:
                    names = list_plugins(kind, [collection])
                except Exception as ex:  # the other collections still load
                    display.warning(f"shipyard.platform.preload: could not load the plugins of {collection}: {ex}")
                    break
                for name in names:
                    try:
                        loader.get(name)
                    except Exception as ex:  # a plugin that cannot load fails where a task uses it
                        display.vvv(f"shipyard.platform.preload: {kind} {name} not loaded: {ex}")
        # Jinja's lexer for Ansible's settings is built on the first template and cached per process.
        Templar(loader=playbook.get_loader()).template("{{ 1 }}")
