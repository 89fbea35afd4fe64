# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start a host's lasting Mitogen interpreter, and its imports, while the controller works on other tasks."""

from __future__ import annotations

DOCUMENTATION = r"""
name: warm_connection
type: aggregate
author: shipyard developers (@shipyard)
short_description: Start each local host's Mitogen interpreter and its slow imports beside the run's first tasks
description:
  - With a Mitogen strategy, the first task of a host that needs the host opens its connection; the
    connection multiplexer starts a lasting Python interpreter for it (about 0.45 s here), then that task's
    module imports what it needs there (the Kubernetes client, about 0.35 s), once per run. Meanwhile
    nothing else runs, and the run's first tasks before it (checks of the inputs, which run in the
    controller) left the machine's other cores idle.
  - When the first task of a host is queued, this callback forks a helper process that asks the host's
    multiplexer for the same interpreter the worker will ask for, and imports the modules named in
    O(imports) in it. The worker that needs the connection later finds the interpreter there, or waits
    for the one being started (the multiplexer starts one per connection), and its module finds the
    imports done. The helper prints nothing; what came of it is said at C(-vvv).
  - A run that ends before a helper's interpreter is up waits for it, at most O(timeout), since a Mitogen
    multiplexer told to exit while it starts an interpreter may never exit. The helper's imports are not
    waited for.
  - A play that needs no such import names its own with the variable C(shipyard_warm_connection_imports)
    (a list of module names, V([]) for none), which wins over O(imports) for the hosts whose first task is
    in that play. C(playbooks/render.yml), which talks to no cluster, imports nothing, so that a render, or
    a run that its input checks refuse, does not pay for the Kubernetes client. A value that is not such a
    list warms nothing and says why at C(-vvv).
  - Only a host with a local connection, an interpreter named in C(ansible_python_interpreter) (not
    discovered), no C(become) and no C(mitogen_via) is warmed; for any other, and without a Mitogen
    strategy, nothing changes. An interpreter that cannot import a module in O(imports) only loses the
    head start.
  - It wraps the strategies' private C(_queue_task) and uses Mitogen's private multiplexer routing; tested
    with ansible-core 2.19 and Mitogen 0.3.54 only; with another version it does nothing and says so at
    C(-vvv). List it last in C(callbacks_enabled), so that it sees every task before the collection's
    other callbacks handle one in the controller; it installs itself when the first play starts, after
    their playbook start.
requirements:
  - Enabled in C(callbacks_enabled), with a Mitogen strategy (C(mitogen_linear) or C(mitogen_free)).
options:
  imports:
    description:
      - The modules imported in each warmed interpreter, in order. Plain dotted module names.
    type: list
    elements: str
    default: [kubernetes]
    ini:
      - section: callback_shipyard_warm_connection
        key: imports
    env:
      - name: SHIPYARD_WARM_IMPORTS
  timeout:
    description: Seconds after which a helper that is not done gives up (the run goes on as without it).
    type: int
    default: 60
    ini:
      - section: callback_shipyard_warm_connection
        key: timeout
    env:
      - name: SHIPYARD_WARM_TIMEOUT
"""

import atexit
import contextlib
import os
import re
import signal
import threading
import time

from ansible import constants as C
from ansible.plugins.callback import CallbackBase
from ansible.template import Templar
from ansible.utils.display import Display
from ansible.utils.shlex import shlex_split
from ansible_collections.shipyard.platform.plugins.plugin_utils.engine_patch import (
    install_if_tested,
    queue_in_controller,
    untested_mitogen,
)

display = Display()

LOCAL = frozenset({"local", "ansible.builtin.local", "mitogen_local"})
MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
PLAY_IMPORTS = "shipyard_warm_connection_imports"


def local_stack(task, task_vars, play_context, loader):
    """The connection stack a Mitogen worker would ask its multiplexer for, or a string saying why none.

    As ansible_mitogen's connection builds it for a local connection: one hop, method local, the
    interpreter from INTERPRETER_PYTHON (ansible_python_interpreter), templated, split like a shell.
    """
    connection = task_vars.get("ansible_connection") or task.connection or play_context.connection
    if connection not in LOCAL:
        return f"its connection is {connection!r}, not local"
    if play_context.become or task.become or task_vars.get("ansible_become") or task_vars.get("mitogen_via"):
        return "it uses become or mitogen_via"
    interpreter = C.config.get_config_value("INTERPRETER_PYTHON", variables=task_vars)
    if "{{" in interpreter or "{%" in interpreter:
        interpreter = Templar(loader=loader, variables=task_vars).template(interpreter)
    if not isinstance(interpreter, str) or not interpreter or interpreter.startswith("auto"):
        return "its interpreter is discovered, not named"
    return [{"method": "local", "kwargs": {"python_path": [str(arg) for arg in shlex_split(interpreter)]}}]


def not_module_names(names):
    """Those of names that are not plain dotted module names."""
    return [name for name in names if not (isinstance(name, str) and MODULE_NAME.match(name))]


def play_imports(task_vars, default):
    """The imports for the host: its play's shipyard_warm_connection_imports if set, else default; or a
    string that says why the value is not a list of module names."""
    if PLAY_IMPORTS not in task_vars:
        return default
    value = task_vars[PLAY_IMPORTS]
    if not isinstance(value, list) or not_module_names(value):
        return f"{PLAY_IMPORTS} is not a list of module names: {value!r}"
    return [str(name) for name in value]


def _warm_in_child(path, stack, imports, answered):
    """In the helper: ask the multiplexer at path for the interpreter of stack, then import there.

    answered() once the multiplexer has answered: from then on it has nothing of the helper's at work."""
    import ansible_mitogen.process  # noqa: PLC0415 - only with a Mitogen strategy, which has imported it
    import mitogen.fork  # noqa: PLC0415 - as above
    import mitogen.service  # noqa: PLC0415 - as above
    import mitogen.unix  # noqa: PLC0415 - as above

    mitogen.fork.on_fork()
    start = time.monotonic()
    broker = ansible_mitogen.process.Broker()
    try:
        router, parent = mitogen.unix.connect(path=path, broker=broker)
        router.max_message_size = ansible_mitogen.process.MAX_MESSAGE_SIZE
        answer = mitogen.service.call(
            call_context=parent,
            service_name="ansible_mitogen.services.ContextService",
            method_name="get",
            stack=stack,
        )
        answered()
        if answer.get("msg"):
            return f"no interpreter: {answer['msg']}"
        ready = time.monotonic()
        if imports:
            # exec with its own globals: the statement binds nothing in the interpreter's own modules.
            answer["context"].call(exec, "import " + ", ".join(imports), {})
        return (
            f"interpreter ready in {ready - start:.2f} s, "
            f"imported {', '.join(imports) or 'nothing'} in {time.monotonic() - ready:.2f} s more"
        )
    finally:
        broker.shutdown()
        broker.join()


# Helpers still running: their PID, an event set once the multiplexer has answered the helper's
# request, and when the helper gives up. The PID of the process that forked them. _REAPING is held
# from a helper's removal from _LIVE to its reaping, and by each kill, so that no PID is killed once
# it may belong to another process.
_LIVE = {}
_PARENT = []
_REAPING = threading.Lock()
ANSWERED = b"\x06"  # the helper's first byte on its pipe once its request is answered


def _end_live_helpers():
    """At the run's end, before Mitogen's multiplexers exit: each helper still at work is ended.

    Not before the multiplexer has answered its request: a multiplexer told to exit while one of its
    service threads starts the interpreter a helper asked for held the run's exit for 5 s while the
    helper was there, and once, with the helper killed, forever: that thread waited for the
    multiplexer's own broker, gone by then (both threads found in a futex wait with gdb). After the
    answer, the helper is killed: its imports are not waited for, and the interpreter that runs them
    ends with the multiplexer."""
    if _PARENT and _PARENT[0] == os.getpid():
        for pid, (answered, gives_up) in list(_LIVE.items()):
            answered.wait(max(gives_up - time.monotonic(), 0))
            with _REAPING, contextlib.suppress(OSError):
                if pid in _LIVE:  # not reaped meanwhile: its PID is still the helper's
                    os.kill(pid, signal.SIGKILL)


def warm(host_name, path, stack, imports, timeout):
    """Fork the helper; a thread of this process reaps it and says at -vvv what came of it."""
    if not _PARENT:
        # Registered after Mitogen's own exit handler, so it runs before it.
        _PARENT.append(os.getpid())
        atexit.register(_end_live_helpers)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the helper: never back into Ansible's code, never an exception out of here
        code = 1
        try:
            os.close(read)
            for number in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
                signal.signal(number, signal.SIG_DFL)
            signal.alarm(timeout)
            said = _warm_in_child(path, stack, imports, lambda: os.write(write, ANSWERED))
            code = 0
        except BaseException as ex:  # anything at all ends the helper, never the run
            said = f"{type(ex).__name__}: {ex}"
        try:
            os.write(write, said.encode(errors="replace")[:4096])
        finally:
            os._exit(code)
    os.close(write)
    answered = threading.Event()
    _LIVE[pid] = (answered, time.monotonic() + timeout + 1)

    def reap():
        with os.fdopen(read, "rb") as pipe:
            first = pipe.read(1)  # the answer's mark, or the start of what the helper says, or its end
            answered.set()
            said = (b"" if first == ANSWERED else first) + pipe.read()
        with _REAPING:  # the pipe's end: the helper has exited or is about to
            _LIVE.pop(pid, None)
            os.waitpid(pid, 0)
        said = said.decode(errors="replace")
        display.vvv(f"{CallbackModule.CALLBACK_NAME}: {host_name}: {said or 'the helper ended without a word'}")

    threading.Thread(target=reap, name="warm_connection", daemon=True).start()


class CallbackModule(CallbackBase):
    """Install the wrapper when the first play starts, outside the collection's other callbacks' wrappers."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "shipyard.platform.warm_connection"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._hosts = set()  # hosts decided: warmed, or never to be
        self._started = set()  # (multiplexer, stack) pairs asked for: one helper each
        self._installed = False

    def v2_playbook_on_play_start(self, play):
        if not self._installed:
            self._installed = True
            install_if_tested(self.CALLBACK_NAME, self._install, "each local host's interpreter starts ahead")

    def _install(self):
        untested = untested_mitogen()
        if untested:
            return untested
        imports = list(self.get_option("imports") or [])
        wrong = not_module_names(imports)
        if wrong:
            return f"imports: not module names: {', '.join(map(str, wrong))}"
        self._imports, self._timeout = imports, int(self.get_option("timeout"))
        return queue_in_controller(self.CALLBACK_NAME, self._prepare)

    def _prepare(self, strategy, host, task, task_vars, play_context):
        """Never takes the task (returns None): starts the helper on the first task of a host."""
        if host.name in self._hosts or task.delegate_to:
            return None
        self._hosts.add(host.name)
        try:
            import ansible_mitogen.process  # noqa: PLC0415 - present when a Mitogen strategy runs
            from ansible_mitogen.services import key_from_dict  # noqa: PLC0415 - as above

            model = ansible_mitogen.process.get_worker_model()
        except Exception:  # not a Mitogen strategy: nothing to warm
            return None
        imports = play_imports(task_vars, self._imports)
        stack = imports if isinstance(imports, str) else local_stack(task, task_vars, play_context, strategy._loader)
        if isinstance(stack, str):
            display.vvv(f"{self.CALLBACK_NAME}: {host.name} not warmed: {stack}")
            return None
        path = model._listener_for_name(host.name)
        key = (path, key_from_dict(via=None, **stack[0]))
        if key not in self._started:
            self._started.add(key)
            warm(host.name, path, stack, imports, self._timeout)
        return None
