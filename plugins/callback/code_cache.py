# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep the Python code that Jinja compiles from templates and conditions, and Mitogen from the modules it serves,
so that a rerun does not compile it again."""

from __future__ import annotations

DOCUMENTATION = r"""
name: code_cache
type: aggregate
author: shipyard developers (@shipyard)
short_description: Keep the code Jinja and Mitogen compile across runs, as Python keeps bytecode
description:
  - Ansible runs each task in a worker process forked from the controller, and the worker compiles every
    template of the task's arguments, every C(when) condition and every template file that a lookup
    renders into Python code before it runs it. Ansible keeps none of that code, so each task compiles
    its templates again on every run, and a rerun of a large site spends seconds compiling what it
    compiled the run before.
  - This callback keeps that code in a folder, one file per compiled template, named by a hash of
    everything the compiled code depends on (the template's text, whether it is a template or a
    condition, the Jinja environment's compile settings, and the versions of Python, Jinja and
    ansible-core). A worker that compiles a template looks there first, and writes what it compiled.
    Nothing else changes, nothing is printed, and a template that fails to compile fails as before.
  - The folder and its files belong to the user who runs Ansible and only that user can write them
    (like Python's C(__pycache__), their code runs); when the folder is not so, the cache stays off for
    the run and says why at C(-vvv).
  - It works on the private parts of ansible-core's templating (C(AnsibleEnvironment.compile) and
    C(compile_expression)), which it has been tested with on ansible-core 2.19 only; with another
    version it does nothing and says so at C(-vvv).
  - When a play runs with a Mitogen strategy, it also keeps, in the same folder, what Mitogen's
    multiplexer compiles on every run only to find which modules a module imports (the source of
    each module it serves, and of each module that a task's module imports), and the minified
    source of C(mitogen.core) that each new Mitogen interpreter boots from. Each is named by a hash
    of what it is made from (the source, its file name, the compiler flags, the versions of Python
    and Mitogen). It replaces the C(compile) of the Mitogen modules that make those calls, and
    C(mitogen.parent._get_core_source), before the multiplexer is forked; tested with Mitogen 0.3
    only, with another version it leaves them alone and says so at C(-vvv).
  - Enable it with C(callbacks_enabled = shipyard.platform.code_cache) in C(ansible.cfg).
requirements:
  - Enabled in C(callbacks_enabled).
options:
  folder:
    description:
      - Where the compiled code is kept (C(~) is expanded; a relative path is taken from the working directory).
      - An empty value turns the cache off for the run, as leaving the callback out of C(callbacks_enabled) does.
    type: str
    default: ~/.cache/shipyard/jinja-code
    ini:
      - section: callback_shipyard_code_cache
        key: folder
    env:
      - name: SHIPYARD_CODE_CACHE
  max_entries:
    description: When the folder holds more files than this at a run's start, it is emptied first.
    type: int
    default: 20000
    ini:
      - section: callback_shipyard_code_cache
        key: max_entries
"""

import __future__

import builtins
import contextvars
import functools
import hashlib
import inspect
import marshal
import os
import stat
import sys
import tempfile
import types

import jinja2
from ansible.module_utils.ansible_release import __version__ as ansible_version
from ansible.plugins.callback import CallbackBase
from ansible.utils.display import Display
from ansible_collections.shipyard.platform.plugins.plugin_utils.engine_patch import install_if_tested, uses_mitogen

try:  # ansible-core's private templating parts, as 2.19 has them
    from ansible._internal._templating import _jinja_bits
except ImportError:
    _jinja_bits = None

display = Display()

# Bump when the file format or the key changes.
FORMAT = "1"
# The Mitogen versions (major, minor) whose private parts the Mitogen half was tested with.
TESTED_MITOGEN = ((0, 3),)
# The compiled code of the expression that compile_expression is compiling, handed up from compile.
_recording: contextvars.ContextVar[list | None] = contextvars.ContextVar("shipyard_code_cache_recording", default=None)


class CodeCache:
    """Compiled Jinja code by key: in this process's memory, then in the folder."""

    def __init__(self, folder):
        self.folder = folder
        self.memory = {}

    def get(self, key):
        code = self.memory.get(key)
        if code is not None:
            return code
        try:
            with open(os.path.join(self.folder, key), "rb") as f:
                # The folder is this user's and only this user's (_owned_private_folder), as Python trusts __pycache__.
                code = marshal.loads(f.read())  # noqa: S302 - see the line above
        except (OSError, EOFError, ValueError, TypeError):
            return None
        self.memory[key] = code
        return code

    def put(self, key, code):
        self.memory[key] = code
        try:
            data = marshal.dumps(code)
        except ValueError:  # a constant marshal cannot write: keep it in memory only
            return
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, os.path.join(self.folder, key))
        except OSError as ex:  # a full or read-only disk only costs speed
            display.vvv(f"shipyard.platform.code_cache: could not keep {key}: {ex}")


def _owned_private_folder(folder):
    """Why folder cannot hold code that this user runs, or None when it can."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        st = os.stat(folder, follow_symlinks=False)
    except OSError as ex:
        return str(ex)
    if not stat.S_ISDIR(st.st_mode):
        return f"{folder} is not a folder"
    if st.st_uid != os.getuid():
        return f"{folder} belongs to uid {st.st_uid}, not to this user"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"others can write to {folder} (mode {stat.S_IMODE(st.st_mode):o})"
    return None


class Wrapper:
    """The compile steps of ansible-core's Jinja environment, looking in the cache first."""

    def __init__(self, cache):
        self.cache = cache
        self.config = _jinja_bits._TemplateConfig
        self.compile_context = _jinja_bits._TemplateCompileContext
        self.field_names = _jinja_bits._TEMPLATE_OVERRIDE_FIELD_NAMES
        self.versions = f"{FORMAT}|{sys.version}|{jinja2.__version__}|{ansible_version}"
        self.original_compile = _jinja_bits.AnsibleEnvironment.compile
        self.original_compile_expression = _jinja_bits.AnsibleEnvironment.compile_expression

    def key(self, env, kind, source):
        """A hash of what the code compiled from source depends on, or None when it cannot be cached."""
        if env._debuggable_template_source or not isinstance(env.autoescape, bool):
            return None
        context = self.compile_context.current(optional=True)
        settings = (
            type(env).__qualname__,
            env.code_generator_class.__qualname__,
            tuple(getattr(env, name) for name in self.field_names),
            env.trim_blocks,
            env.lstrip_blocks,
            env.keep_trailing_newline,
            env.newline_sequence,
            env.optimized,
            env.autoescape,
            env.is_async,
            tuple(sorted(env.extensions)),
            getattr(env.finalize, "__qualname__", repr(env.finalize)),
            self.config.allow_embedded_templates,
            bool(context and context.escape_backslashes),
        )
        text = f"{self.versions}|{kind}|{settings!r}|".encode() + str(source).encode("utf-8", "surrogatepass")
        return hashlib.sha256(text).hexdigest()

    def compile(self, env, source, *args, **kwargs):
        """Environment.compile(source, name, filename, raw, defer_init); cached for a bare template."""
        recording = _recording.get()
        if recording is not None:  # compile_expression compiling its parsed tree: hand the code up
            _recording.set(None)
            try:
                code = self.original_compile(env, source, *args, **kwargs)
            finally:
                _recording.set(recording)
            recording.append(code)
            return code
        if args or any(kwargs.values()) or not isinstance(source, str):  # a named template, raw source: as before
            return self.original_compile(env, source, *args, **kwargs)
        k = self.key(env, "template", source)
        code = self.cache.get(k) if k else None
        if code is None:
            code = self.original_compile(env, source)
            if k:
                self.cache.put(k, code)
        return code

    def compile_expression(self, env, source, *args, **kwargs):
        """Environment.compile_expression(source, undefined_to_none=True), cached."""
        k = self.key(env, "expression", source) if isinstance(source, str) else None
        if k is None:
            return self.original_compile_expression(env, source, *args, **kwargs)
        code = self.cache.get(k)
        if code is None:
            recording = []
            token = _recording.set(recording)
            try:
                expression = self.original_compile_expression(env, source, *args, **kwargs)
            finally:
                _recording.reset(token)
            if len(recording) == 1:
                self.cache.put(k, recording[0])
            return expression
        # What jinja2.Environment.compile_expression builds around the code it compiles.
        undefined_to_none = kwargs.get("undefined_to_none", args[0] if args else True)
        template = env.template_class.from_code(env, code, env.make_globals(None), None)
        return jinja2.environment.TemplateExpression(template, undefined_to_none)


def _future_flags(module):
    """The compiler flags of the __future__ features that module imports (what its own compile() calls inherit)."""
    flags = 0
    for name in __future__.all_feature_names:
        feature = getattr(__future__, name)
        if module.__dict__.get(name) is feature:
            flags |= feature.compiler_flag
    return flags


class SourceCompiler:
    """compile() for a module of Mitogen's: the code of the same source, file name and mode, kept in the cache.

    Mitogen's multiplexer compiles the source of every module it serves, and of every module a task's
    module imports, only to read its import statements; the source is the same from one run to the next.
    """

    def __init__(self, cache, module):
        self.cache = cache
        # A module's compile() calls inherit its __future__ features: the same flags, stated, so that the
        # code is what the original call compiles.
        self.flags = _future_flags(module)
        self.versions = f"{FORMAT}|{sys.version}|python"

    def __call__(self, source, filename, mode, *args, **kwargs):
        if args or kwargs or not isinstance(source, (str, bytes)) or not isinstance(filename, str):
            return builtins.compile(source, filename, mode, *args, **kwargs)  # not the calls it was made for
        data = source if isinstance(source, bytes) else source.encode("utf-8", "surrogatepass")
        head = f"{self.versions}|{self.flags}|{mode}|{filename}|".encode("utf-8", "surrogatepass")
        key = hashlib.sha256(head + data).hexdigest()
        code = self.cache.get(key)
        if not isinstance(code, types.CodeType):
            code = builtins.compile(source, filename, mode, self.flags, True)
            self.cache.put(key, code)
        return code


def install_mitogen(cache):
    """Keep what Mitogen's multiplexer compiles and minifies; return the cache, or why it is off."""
    try:
        import ansible_mitogen.module_finder  # noqa: PLC0415 - only when a play runs with a Mitogen strategy
        import mitogen  # noqa: PLC0415 - as above
        import mitogen.core  # noqa: PLC0415 - as above
        import mitogen.master  # noqa: PLC0415 - as above; its import installs the minifying core source
        import mitogen.parent  # noqa: PLC0415 - as above
    except ImportError as ex:
        return f"Mitogen cannot be imported: {ex}"
    if tuple(mitogen.__version__[:2]) not in TESTED_MITOGEN:
        return f"not tested with Mitogen {'.'.join(map(str, mitogen.__version__))}"
    if getattr(mitogen.parent, "_shipyard_code_cache", None) is not None:
        return mitogen.parent._shipyard_code_cache
    for module in (mitogen.master, ansible_mitogen.module_finder):
        if "compile" in module.__dict__:
            return f"{module.__name__} defines its own compile"
        module.compile = SourceCompiler(cache, module)
    original_core_source = mitogen.parent._get_core_source
    versions = f"{FORMAT}|{sys.version}|mitogen-core|{mitogen.__version__}|"

    def core_source():
        # The minified source of mitogen.core that each new interpreter boots from: a function of that source.
        key = hashlib.sha256(versions.encode() + inspect.getsource(mitogen.core).encode("utf-8")).hexdigest()
        kept = cache.get(key)
        if isinstance(kept, str):
            return kept
        minified = original_core_source()
        cache.put(key, minified)
        return minified

    mitogen.parent._get_core_source = core_source
    mitogen.parent._shipyard_code_cache = cache
    return cache


def open_cache(folder, max_entries):
    """The cache in folder, emptied first when it holds more than max_entries files; or why it cannot be."""
    why = _owned_private_folder(folder)
    if why:
        return why
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries]
        if len(names) > max_entries:
            for name in names:
                os.unlink(os.path.join(folder, name))
    except OSError as ex:
        return str(ex)
    return CodeCache(folder)


def install(cache):
    """Wrap the compile steps of ansible-core's Jinja environment; return the cache."""
    env_class = _jinja_bits.AnsibleEnvironment
    if getattr(env_class, "_shipyard_code_cache", None) is not None:
        return env_class._shipyard_code_cache
    wrapper = Wrapper(cache)

    def compile(self, source, *args, **kwargs):
        return wrapper.compile(self, source, *args, **kwargs)

    def compile_expression(self, source, *args, **kwargs):
        return wrapper.compile_expression(self, source, *args, **kwargs)

    env_class.compile = compile
    env_class.compile_expression = compile_expression
    env_class._shipyard_code_cache = cache
    return cache


class CallbackModule(CallbackBase):
    """Install the code cache when the playbook starts, before any task's worker is forked."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "shipyard.platform.code_cache"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        # Not type "path": that makes an empty value the working directory.
        folder = self.get_option("folder")
        if not folder:
            display.vvv("shipyard.platform.code_cache: off, its folder is empty")
            return
        folder = os.path.abspath(os.path.expanduser(folder))
        # Opened once, by the first half that installs (inside install_if_tested, which never fails a run).
        opened = functools.cache(lambda: open_cache(folder, self.get_option("max_entries")))

        def on_cache(install_half):
            return lambda: opened() if isinstance(opened(), str) else install_half(opened())

        if _jinja_bits is None:
            display.vvv(f"{self.CALLBACK_NAME}: off for templates, not tested with ansible-core {ansible_version}")
        else:
            install_if_tested(self.CALLBACK_NAME, on_cache(install), f"compiled templates kept in {folder}")
        # Mitogen's multiplexer is forked from this process when the first play starts: it inherits the wrapper.
        if any(uses_mitogen(play) for play in playbook.get_plays()):
            install_if_tested(
                self.CALLBACK_NAME,
                on_cache(install_mitogen),
                f"the code Mitogen compiles to find imports, and its minified core, kept in {folder}",
            )
