# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install a speed-up that wraps a private part of ansible-core, only on a version it was tested with."""

from __future__ import annotations

import typing as t

from ansible.module_utils.ansible_release import __version__ as ansible_version
from ansible.utils.display import Display

display = Display()

# The ansible-core versions (major.minor) whose private parts the collection's callbacks were tested with.
TESTED_CORE = ("2.19",)


def install_if_tested(name: str, install: t.Callable[[], object], installed: str) -> None:
    """Run install() on a tested ansible-core; say at -vvv what came of it; never stop the run.

    install returns a string that says why the speed-up is off, or anything else once it is on.
    """
    if ".".join(ansible_version.split(".")[:2]) not in TESTED_CORE:
        display.vvv(f"{name}: off, not tested with ansible-core {ansible_version}")
        return
    try:
        result = install()
    except Exception as ex:  # a speed-up must never stop a run
        result = f"{type(ex).__name__}: {ex}"
    if isinstance(result, str):
        display.vvv(f"{name}: off: {result}")
    else:
        display.vvv(f"{name}: {installed}")
