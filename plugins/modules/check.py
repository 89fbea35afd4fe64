#!/usr/bin/python
# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documentation of the check action plugin (plugins/action/check.py), which does the work."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: check
short_description: Check a role's inputs against every rule in one task, naming each rule that fails
description:
  - Evaluates groups of conditionals as M(ansible.builtin.assert) does, on the controller. Each rule is a list
    of conditions with the message that names the variables and the rule; its conditions are evaluated in
    order up to the first false one, so a later condition may rely on an earlier one.
  - Every rule is evaluated, and the task fails naming the message of each rule that fails, not only the first.
  - A rule's conditions and message are templated only when they are evaluated or said, in order; when an
    input that an earlier rule refused breaks a later rule's condition, the task names the earlier rules.
  - One task in place of one assert per group, since each task costs a run a few tens of milliseconds
    before it does any work.
  - Output carries the messages and the failing conditions' text, never the values of variables unless a
    message templates them. O(rules[].sensitive) also keeps an evaluation error's text out of the output.
version_added: 0.4.0
options:
  rules:
    description: The rules, evaluated in order.
    type: list
    elements: dict
    required: true
    suboptions:
      that:
        description: A conditional, or a list of conditionals that must all hold.
        type: raw
        required: true
      msg:
        description: What the task says when the rule fails; templated only then.
        type: str
        required: true
      when:
        description: A conditional; the rule applies only when it holds.
        type: raw
        default: true
      sensitive:
        description:
          - The rule reads secret inputs. An error while evaluating it is reported without its text, which
            could quote a value. Use it instead of C(no_log), which would hide the message as well.
        type: raw
        default: false
  success_msg:
    description: What the task says when every rule holds.
    type: str
    default: Every rule holds
attributes:
  check_mode:
    description: Checks the same in check mode; it changes nothing in any mode.
    support: full
  diff_mode:
    description: Has no diff to show.
    support: none
  platform:
    description: Runs on the controller.
    support: full
    platforms: all
author: shipyard developers (@shipyard)
notes:
  - Runs on the controller; it makes no connection to the host.
seealso:
  - module: ansible.builtin.assert
"""

EXAMPLES = r"""
- name: Preflight | Check the inputs
  vars:
    __problems: "{{ myrole_resources | shipyard.platform.invalid('quantity', 'myrole_resources') }}"
  shipyard.platform.check:
    rules:
      - that:
          - myrole_replicas >= 1
          - myrole_namespace is match('^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')
        msg: myrole_replicas is at least 1 and myrole_namespace is a DNS label.
      - that: __problems | length == 0
        msg: "myrole inputs the cluster would refuse later: {{ __problems | join('; ') }}."
      - that: myrole_password | length >= 16
        msg: myrole_password has at least 16 characters.
        when: myrole_password != ''
        sensitive: true
"""

RETURN = r"""
msg:
  description: The messages of the rules that failed, or O(success_msg).
  returned: always
  type: str
failures:
  description: Each rule that failed, in order.
  returned: failed
  type: list
  elements: dict
  contains:
    rule:
      description: Its index in O(rules).
      type: int
    assertion:
      description: The text of its first condition that did not hold.
      type: str
    msg:
      description: Its message.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.shipyard.platform.plugins.module_utils.check_spec import ARGUMENT_SPEC


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="shipyard.platform.check runs as an action plugin on the controller, not as a module")


if __name__ == "__main__":
    main()
