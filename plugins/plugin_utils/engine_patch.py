# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install a speed-up that wraps a private part of ansible-core, only on a version it was tested with."""

from __future__ import annotations

import functools
import inspect
import typing as t

from ansible.module_utils.ansible_release import __version__ as ansible_version
from ansible.utils.display import Display

display = Display()

# The ansible-core versions (major.minor) whose private parts the collection's callbacks were tested with.
TESTED_CORE = ("2.19",)
# The Mitogen version whose private parts warm_connection and preload wrap (code_cache's are older, and it
# checks major.minor only).
TESTED_MITOGEN = (0, 3, 54)


def uses_mitogen(play) -> bool:
    """Whether a play runs with one of Mitogen's strategies (mitogen_linear, mitogen_free, ...)."""
    return "mitogen" in str(play.strategy)


def untested_mitogen() -> str | None:
    """None when the Mitogen installed is the one tested; else a string that says why a speed-up is off."""
    try:
        import mitogen  # noqa: PLC0415 - Mitogen is optional
    except ImportError:
        return "Mitogen is not installed"
    if tuple(mitogen.__version__) != TESTED_MITOGEN:
        return f"not tested with Mitogen {'.'.join(map(str, mitogen.__version__))}"
    return None


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


def queue_in_controller(name: str, prepare: t.Callable[..., t.Callable[[], tuple] | None]) -> bool | str:
    """Wrap the strategies' StrategyBase._queue_task so that some tasks get their result in this process.

    prepare(strategy, host, task, task_vars, play_context) returns None to leave the task to a worker
    as before, or a function that returns (the task the result is for, the result); the wrapper does
    around it what _queue_task and the worker do around a worker's run: the queued-task entry, the
    v2_runner_on_start callback (before the result is made, as before a worker starts), the result
    through the strategy's result queue, the pending count. A prepare that raises leaves the task to a
    worker too (a speed-up never stops a run), said at -vvvv. name is the callback's, which installs
    the wrapper once. Returns True, or a string that says why it is off.
    """
    from ansible.executor.task_result import _RawTaskResult  # noqa: PLC0415 - private: only when installing
    from ansible.plugins.strategy import StrategyBase  # noqa: PLC0415 - as above

    marker = "_" + name.replace(".", "_")
    original = StrategyBase._queue_task
    if getattr(original, marker, False):  # functools.wraps hands an inner wrapper's marker to the outer ones
        return True
    parameters = list(inspect.signature(original).parameters)
    if parameters != ["self", "host", "task", "task_vars", "play_context"]:
        return f"StrategyBase._queue_task takes {', '.join(parameters)}"

    @functools.wraps(original)
    def _queue_task(self, host, task, task_vars, play_context):
        try:
            finish = prepare(self, host, task, task_vars, play_context)
        except Exception as ex:  # any doubt goes to the worker, which reports it as ever
            display.vvvv(f"{name}: {task.get_name()!r} goes to a worker: {ex}")
            finish = None
        if finish is None:
            return original(self, host, task, task_vars, play_context)
        self._queued_task_cache[(host.name, task._uuid)] = {
            "host": host,
            "task": task,
            "task_vars": task_vars,
            "play_context": play_context,
        }
        self._tqm.send_callback("v2_runner_on_start", host, task)
        result_task, result = finish()
        self._final_q.send_task_result(
            _RawTaskResult(host=host, task=result_task, return_data=result, task_fields=result_task.dump_attrs())
        )
        self._pending_results += 1
        return None

    setattr(_queue_task, marker, True)
    StrategyBase._queue_task = _queue_task
    return True
