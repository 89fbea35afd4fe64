# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start the collection's parse-time speed-ups before the playbook is parsed; no variables."""

from __future__ import annotations

DOCUMENTATION = r"""
name: early_parse
author: shipyard developers (@shipyard)
short_description: Start the enabled parse-time speed callbacks before the playbook is parsed; adds no variables
description:
  - C(ansible-playbook) loads its callbacks only after it has parsed the playbook, so two of the collection's
    speed callbacks start too late for the parse itself. On this repository's site the parse took 0.60 s,
    most of it in ansible-core deep-copying each role file it reads (the argument specs above all) and in
    the garbage collector's passes over what is parsed.
  - Ansible loads the enabled vars plugins while it reads the inventory, which comes before the parse. When
    loaded, this plugin starts, ahead of them, those of these callbacks that are enabled in
    C(callbacks_enabled), with their own options. C(shipyard.platform.parsed_copy) copies parsed files with
    their values shared. C(shipyard.platform.gc_tune) raises the collector's first threshold; its freeze
    still waits for the end of the parse. With both, the site's parse took 0.34 s.
  - It adds no variables, and nothing else changes. It says what it started at C(-vvv); with neither
    callback enabled it does nothing. The callbacks do the rest when the playbook starts, as without it.
    An error (a callback option Ansible cannot read, say) is a warning, never a failed run; what it had not
    started by then waits for the callbacks.
  - Enable it beside Ansible's own vars plugin, in C(ansible.cfg),
    C(vars_plugins_enabled = ansible.builtin.host_group_vars, shipyard.platform.early_parse), as the
    repository does. It needs an inventory read from a file or a folder. With only a host list on the
    command line (C(-i host,)), Ansible loads vars plugins after the parse, and the callbacks start then.
options:
  stage:
    description:
      - When Ansible asks the plugin for variables (it has none to give). Its work is done when it is loaded,
        which is while the inventory is read.
    type: str
    default: inventory
"""

import gc

from ansible import constants as C
from ansible.plugins.loader import callback_loader
from ansible.plugins.vars import BaseVarsPlugin
from ansible.utils.display import Display
from ansible_collections.shipyard.platform.plugins.callback import parsed_copy
from ansible_collections.shipyard.platform.plugins.plugin_utils.engine_patch import install_if_tested

display = Display()

NAME = "shipyard.platform.early_parse"
_started = False


def _threshold() -> int:
    """gc_tune's threshold, from its own options (ansible.cfg, the environment, or its default)."""
    callback = callback_loader.get("shipyard.platform.gc_tune")
    callback.set_options()
    return callback.get_option("threshold")


def start() -> None:
    """Start what the enabled callbacks do at the parse; once per process; never stop the run."""
    global _started  # noqa: PLW0603 - once per process, however many times Ansible loads the plugin
    if _started:
        return
    _started = True
    try:
        _start()
    except Exception as ex:  # a speed-up must never stop a run (Ansible itself skips a callback it cannot load)
        display.warning(f"{NAME}: not all was started before the parse: {ex}")


def _start() -> None:
    enabled = set(C.CALLBACKS_ENABLED or ())
    if "shipyard.platform.parsed_copy" in enabled:
        said = "parsed files are copied with their values shared, from the parse on"
        install_if_tested(NAME, parsed_copy.install, said)
    if "shipyard.platform.gc_tune" in enabled:
        threshold = _threshold()
        if threshold > 0:  # gc_tune itself says why a threshold of 0 or less leaves the collector as it is
            gc.set_threshold(threshold, *gc.get_threshold()[1:])
            display.vvv(f"{NAME}: the collector's thresholds are {gc.get_threshold()} for the parse")
    if not enabled & {"shipyard.platform.parsed_copy", "shipyard.platform.gc_tune"}:
        display.vvv(f"{NAME}: neither shipyard.platform.parsed_copy nor shipyard.platform.gc_tune is enabled")


class VarsModule(BaseVarsPlugin):
    """Start the speed-ups when loaded; give no variables."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        start()

    def get_vars(self, loader, path, entities, cache=True):
        return {}
