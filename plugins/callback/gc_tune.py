# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Spare the controller's cyclic garbage collector its passes over the parsed playbook."""

from __future__ import annotations

DOCUMENTATION = r"""
name: gc_tune
type: aggregate
author: shipyard developers (@shipyard)
short_description: Spare the controller's cyclic garbage collector its passes over the parsed playbook
description:
  - The main process of C(ansible-playbook) holds the parsed playbook, its roles and the inventory, which
    live for the whole run, and creates many short-lived containers for each task. With Python's default
    collector thresholds (700, 10, 10) it collects garbage every 700 net new containers, and every
    hundredth of those collections is a full pass over every object the process holds. On this
    repository's site (about 134,000 objects once the playbook is parsed) a no-op rerun collected about
    860 times, 0.35 to 0.6 s of the main process's time, most of it in full passes.
  - When a playbook starts, after it is parsed, this callback moves every object alive then into the
    collector's permanent generation (C(gc.freeze())), which no pass visits, and sets the first
    generation's threshold to O(threshold). The collections before that (Ansible's imports and the parse,
    about 570) stay; the same rerun then spent 0.18 to 0.20 s collecting in all. The workers Ansible forks
    for tasks inherit both; a pass in a worker no longer writes to the memory pages
    it shares with the main process.
  - Frozen objects are never collected, which for the parsed playbook is what the run does anyway.
    Reference counting frees everything else at once, as before; only cycles of garbage wait longer to
    be found, for at most O(threshold) new containers.
  - Nothing else changes, and nothing is printed; what it set is said at C(-vvv). It uses only Python's
    public C(gc) interface.
  - Enable it with C(callbacks_enabled = shipyard.platform.gc_tune) in C(ansible.cfg).
requirements:
  - Enabled in C(callbacks_enabled).
options:
  threshold:
    description:
      - The first generation's threshold, in net new containers (Python's default is 700). C(0) leaves the
        collector as it is, without the freeze.
    type: int
    default: 10000
    ini:
      - section: callback_shipyard_gc_tune
        key: threshold
    env:
      - name: SHIPYARD_GC_THRESHOLD
"""

import gc

from ansible.plugins.callback import CallbackBase
from ansible.utils.display import Display

display = Display()


class CallbackModule(CallbackBase):
    """Freeze what the parsed playbook holds and raise the first generation's threshold, once it is parsed."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "shipyard.platform.gc_tune"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        threshold = self.get_option("threshold")
        if threshold == 0:
            display.vvv(f"{self.CALLBACK_NAME}: off (threshold 0)")
            return
        if threshold < 0:
            display.warning(
                f"{self.CALLBACK_NAME}: threshold: {threshold} is not a number of containers from 0 up;"
                " the garbage collector is left as it is"
            )
            return
        gc.freeze()
        gc.set_threshold(threshold, *gc.get_threshold()[1:])
        display.vvv(f"{self.CALLBACK_NAME}: {gc.get_freeze_count()} objects frozen, thresholds {gc.get_threshold()}")
