# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The arguments of shipyard.platform.check: one spec for the action that runs it and the module that documents it."""

from __future__ import annotations

ARGUMENT_SPEC = {
    "rules": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "that": {"type": "raw", "required": True},
            "msg": {"type": "str", "required": True},
            "when": {"type": "raw", "default": True},
            "sensitive": {"type": "raw", "default": False},
        },
    },
    "success_msg": {"type": "str", "default": "Every rule holds"},
}
