# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the actions that never leave the controller (set_fact, assert...) in its main process, without a worker."""

from __future__ import annotations

DOCUMENTATION = r"""
name: controller_actions
type: aggregate
author: shipyard developers (@shipyard)
short_description: Run set_fact, assert, debug, fail, the input checks and the includes without a worker
description:
  - Ansible forks a worker process for every task on every host, and the worker sends its result back
    through a queue, even for an action that runs in the controller and never touches the host
    (C(ansible.builtin.set_fact), C(assert), C(debug), C(fail), C(validate_argument_spec),
    C(shipyard.platform.check)), or whose worker only hands its arguments back (C(include_tasks),
    C(include_role)). The fork, the worker's start and the result's trip cost a task about 10 to 20 ms
    of a run that waits for each task in turn; a site with sixty such tasks pays about a second for
    them.
  - This callback runs those actions in the controller's main process with ansible-core's own
    C(TaskExecutor), on a copy of the task (the worker's is a copy too, and templating the task's
    fields must not change the play's), with the variables, play context and result queue the
    worker would have, and sends the result through the same queue, so that the strategy, the
    other callbacks and the output see what a worker would have sent.
  - Only a plain case is taken; anything else goes to a worker as before. Taken is a task whose
    resolved action is one of the eight above (with or without a loop), with no C(delegate_to), no
    C(async), no C(until), and, when it has a C(timeout), only while the main process has no C(SIGALRM)
    handler of its own (the timeout is the same alarm the worker sets).
  - Code that a task runs in the controller (filters, lookups, tests) then runs in the main
    process rather than in its fork. Code that takes C(os.getppid()) for the C(ansible-playbook)
    process, as a worker may, must ask which process it is in (this collection's
    C(run_identity) filter does).
  - It wraps C(StrategyBase._queue_task) and runs C(TaskExecutor), which it has been tested with on
    ansible-core 2.19 only; with another version it does nothing and says so at C(-vvv).
  - Enable it with C(callbacks_enabled = shipyard.platform.controller_actions) in C(ansible.cfg).
requirements:
  - Enabled in C(callbacks_enabled).
"""

import inspect
import signal

from ansible.executor.task_executor import TaskExecutor
from ansible.plugins import loader as plugin_loader
from ansible.plugins.callback import CallbackBase
from ansible_collections.shipyard.platform.plugins.plugin_utils.engine_patch import (
    install_if_tested,
    queue_in_controller,
)

try:  # ansible-core's private parts, as 2.19 has them
    from ansible._internal import _task
    from ansible._internal._errors import _error_utils
except ImportError:
    _task = _error_utils = None

# Actions that run in the controller and never use the host's connection; each was tested here.
CONTROLLER_ACTIONS = frozenset(
    {
        "ansible.builtin.set_fact",
        "ansible.builtin.assert",
        "ansible.builtin.debug",
        "ansible.builtin.fail",
        "ansible.builtin.validate_argument_spec",
        "shipyard.platform.check",
        # TaskExecutor only templates these and hands their arguments back; the strategy includes the
        # file or the role in the main process, from a worker's result as from this one.
        "ansible.builtin.include_tasks",
        "ansible.builtin.include_role",
    }
)


def runs_in_controller(task):
    """Whether the task is a plain case of an action that needs no worker (see the documentation)."""
    if task.resolved_action not in CONTROLLER_ACTIONS:
        return False
    if task.delegate_to or task.async_val or task.until:
        return False
    # TaskExecutor sets its own SIGALRM handler for a timeout, and refuses to where one is set.
    return not task.timeout or signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)


def install():
    """Wrap StrategyBase._queue_task; return True, or a string that says why it is off."""
    if _task is None:
        return "ansible-core has no TaskContext or result_dict_from_exception"
    executor = list(inspect.signature(TaskExecutor).parameters)
    expected = ["host", "task", "job_vars", "play_context", "loader", "shared_loader_obj", "final_q"]
    if executor != [*expected, "variable_manager"]:
        return f"TaskExecutor takes {', '.join(executor)}"

    def prepare(strategy, host, task, task_vars, play_context):
        if not runs_in_controller(task):
            return None

        def run():
            # What WorkerProcess does around TaskExecutor, in this process, on a copy of the task as the
            # worker's is (post_validate templates the task's fields and its blocks').
            own = task.copy(exclude_tasks=True)
            with _task.TaskContext(own):
                try:
                    result = TaskExecutor(
                        host,
                        own,
                        dict(task_vars),  # TaskExecutor sets a key or two in them: the strategy's stay as they were
                        play_context,
                        strategy._loader,
                        plugin_loader.get_plugin_loader_namespace(),
                        strategy._final_q,
                        strategy._variable_manager,
                    ).run()
                except Exception as ex:  # TaskExecutor turns errors into results; this is for its own failure
                    result = _error_utils.result_dict_from_exception(ex)
            return own, result

        return run

    return queue_in_controller(CallbackModule.CALLBACK_NAME, prepare)


class CallbackModule(CallbackBase):
    """Install the wrapper when the playbook starts, before the first task is queued."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "shipyard.platform.controller_actions"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        install_if_tested(self.CALLBACK_NAME, install, "controller-only actions run without a worker")
