# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Skip a task whose condition is false in the controller, without forking a worker for it."""

from __future__ import annotations

DOCUMENTATION = r"""
name: early_skip
type: aggregate
author: shipyard developers (@shipyard)
short_description: Judge a task's C(when) in the controller and skip it there, without forking a worker
description:
  - Ansible forks a worker process for every task of every host, also for a task whose C(when) is false;
    the worker only evaluates the condition and sends back a skipped result. On this repository's site
    that is a third of the tasks of a no-op rerun, at 15 to 25 ms each (the fork, the worker's setup and
    the result's trip back).
  - This callback evaluates such a task's condition in the controller's main process first, with the
    variables the worker would see (the task's variables, then the connection's magic variables as the
    worker adds them), and when it is certainly false it hands the strategy the result the worker would
    have sent (C(skipped), C(skip_reason), C(false_condition), C(_ansible_no_log) for a C(no_log)
    task), through the same result queue. Registered variables, callbacks and the recap are the same.
  - Only a task with a C(when) and without a loop or C(delegate_to) is judged here; a condition that is
    true, that fails to evaluate or that warns, and every other task, go to a worker as before, which
    evaluates the condition again and reports as it always does.
  - It wraps the strategies' private C(_queue_task) (ansible-core's C(StrategyBase), so the linear,
    free and Mitogen strategies alike), which it has been tested with on ansible-core 2.19 only; with
    another version it does nothing and says so at C(-vvv).
  - Enable it with C(callbacks_enabled = shipyard.platform.early_skip) in C(ansible.cfg).
requirements:
  - Enabled in C(callbacks_enabled).
"""

from ansible.plugins.callback import CallbackBase
from ansible.template import Templar
from ansible_collections.shipyard.platform.plugins.plugin_utils.engine_patch import (
    install_if_tested,
    queue_in_controller,
)

try:  # ansible-core's private warning capture, as 2.19 has it
    from ansible._internal._display_utils import DeferredWarningContext
except ImportError:
    DeferredWarningContext = None


def skipped_result(task, host, task_vars, play_context, loader):
    """The result a worker would send for this task on this host when its condition is false, else None.

    None means "let a worker run it": no condition, a loop, delegation, a true condition, or any doubt
    (an error, a warning) about what the worker would decide.
    """
    conditions = task.when  # the task's own and its parents': computed on each read
    if not conditions or task.loop_with or task.loop is not None or task.delegate_to:
        return None
    templar = Templar(loader=loader, variables=task_vars)
    # What TaskExecutor adds before it evaluates the condition: the search path, then the
    # connection's magic variables (ansible_host, ansible_connection...) where the host has none.
    variables = dict(task_vars)
    search_path = list(task.get_search_path())
    if loader.get_basedir() not in search_path:
        search_path.append(loader.get_basedir())
    variables["ansible_search_path"] = search_path
    context = play_context.set_task_and_variable_override(task=task, variables=task_vars, templar=templar)
    context.post_validate(templar=templar)
    if not context.remote_addr:
        context.remote_addr = host.address
    context.update_vars(variables)
    false_condition = {}
    with DeferredWarningContext(variables=variables) as warnings:
        if task._resolve_conditional(conditions, variables, result_context=false_condition):
            return None
        result = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False", **false_condition}
        templar.available_variables = variables  # no_log is templated with the worker's variables
        task.update_result_no_log(templar, result)
    if warnings.get_warnings() or warnings.get_deprecation_warnings():
        return None  # the worker reports them with its result (an invalid no_log warns too)
    return result


def install():
    """Wrap StrategyBase._queue_task; return True, or a string that says why it is off."""
    if DeferredWarningContext is None:
        return "ansible-core has no DeferredWarningContext"

    def prepare(strategy, host, task, task_vars, play_context):
        result = skipped_result(task, host, task_vars, play_context, strategy._loader)
        return None if result is None else lambda: (task, result)

    return queue_in_controller(CallbackModule.CALLBACK_NAME, prepare)


class CallbackModule(CallbackBase):
    """Install the early skip when the playbook starts, before the first task is queued."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "shipyard.platform.early_skip"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        install_if_tested(self.CALLBACK_NAME, install, "false conditions are judged in the controller")
