# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin: every rule of a role's inputs in one task, naming each rule that fails."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.shipyard.platform.plugins.module_utils.check_spec import ARGUMENT_SPEC


class ActionModule(ActionBase):
    """Evaluate groups of conditionals as ansible.builtin.assert does, all groups, then fail naming each broken one."""

    _requires_connection = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    @classmethod
    def finalize_task_arg(cls, name: str, value: t.Any, templar: t.Any, context: t.Any) -> t.Any:
        # Each rule's condition and message are templated by run(), in order and only when needed, as the
        # tasks of one assert each were: a message may rely on the inputs its rule has just found sound.
        if name == "rules" and isinstance(value, list):
            return value
        return super().finalize_task_arg(name, value, templar, context)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # no remote files
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        failures: list[dict[str, t.Any]] = []
        for index, rule in enumerate(args["rules"]):
            sensitive = boolean(self._templar.template(rule["sensitive"]), strict=True)
            try:
                failure = self._failure(rule, index, sensitive)
            except AnsibleError:
                if failures:  # an input an earlier rule refused can break a later one: name the earlier
                    break
                raise
            if failure:
                failures.append(failure)
        result["changed"] = False
        if failures:
            result["failed"] = True
            result["failures"] = failures
            result["msg"] = " ".join(failure["msg"] for failure in failures)
        else:
            result["msg"] = args["success_msg"]
        return result

    def _failure(self, rule: dict[str, t.Any], index: int, sensitive: bool) -> dict[str, t.Any] | None:
        if not self._holds(rule["when"], index, sensitive):
            return None
        that = rule["that"]
        conditions = [that] if isinstance(that, (str, bool)) else that
        if not isinstance(conditions, list) or not conditions:
            raise AnsibleError(f"rules[{index}].that is a conditional or a non-empty list of them")
        # In order, and only up to the first one that is false (as assert): a later condition may rely
        # on an earlier one (`x is defined`, then `x | length > 0`).
        for condition in conditions:
            if not self._holds(condition, index, sensitive):
                try:
                    msg = str(self._templar.template(rule["msg"]))
                except Exception as ex:
                    raise _error(f"rules[{index}].msg could not be templated", ex, sensitive) from (
                        None if sensitive else ex
                    )
                return {"rule": index, "assertion": str(condition), "msg": msg}
        return None

    def _holds(self, condition: t.Any, index: int, sensitive: bool) -> bool:
        if isinstance(condition, bool):  # already templated, or a literal
            return condition
        try:
            return bool(self._templar.evaluate_conditional(conditional=condition))
        except Exception as ex:
            # An input of the wrong type can break a condition.
            raise _error(f"rules[{index}]: the condition {condition!r} could not be evaluated", ex, sensitive) from (
                None if sensitive else ex
            )


def _error(what: str, ex: Exception, sensitive: bool) -> AnsibleError:
    """What failed, with the error's text unless the rule is sensitive: its inputs (passwords, URLs with
    tokens) must not reach the output through that text."""
    return AnsibleError(what if sensitive else f"{what}: {ex}")
