# Copyright: shipyard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Give the run a private temp folder and remove it when the run ends: a kubeconfig's key does not stay behind."""

from __future__ import annotations

DOCUMENTATION = r"""
name: private_tmp
type: aggregate
author: shipyard developers (@shipyard)
short_description: A private temp folder for the run, removed at its end, so that no kubeconfig key stays behind
description:
  - The Kubernetes Python client writes a kubeconfig's embedded certificate authority, client certificate
    and client key (C(certificate-authority-data), C(client-certificate-data), C(client-key-data)) to
    files in the temp folder and removes them when its interpreter exits normally.
  - With Mitogen, kubernetes.core's modules run in one lasting interpreter per host that ends with a
    signal, so those files stay. Each run leaves the cluster user's private key in the temp folder.
    Without Mitogen each module's own process exits normally and removes them.
  - This callback creates a folder only the run's user can read (mode 0700) in the temp folder when the
    run starts, points C(TMPDIR) and Python's C(tempfile) at it for every process the run starts after
    that, and removes it with what is in it when the controller exits.
  - The client's discovery caches (C(k8srcp-*.json), the API's resource lists, no credentials) are linked
    into the folder at the start (hard links, so the client rewrites a cache in place as it does without
    this callback; copied where the file system has no hard links), and the ones the run creates or replaces are
    moved back at the end, so that each run finds them as it would without this callback. Linking costs
    the same for a few caches or for hundreds (one per API server address and user, so a machine that starts
    many test clusters gathers them; 258 caches took 0.12 s to copy and 0.01 s to link here).
  - Enable it with C(callbacks_enabled) in C(ansible.cfg), as the repository does. It must be loaded
    before Mitogen starts its processes; callbacks are.
  - The controller holds a lock on a file in its folder (C(flock)) for as long as it and the processes
    it forked live. A controller killed with SIGKILL leaves its folder; the next run with this callback
    takes the folder's lock, which only a folder whose run has ended gives, and removes it.
requirements:
  - Enabled in C(callbacks_enabled).
"""

import atexit
import fcntl
import os
import shutil
import tempfile
from pathlib import Path

from ansible.plugins.callback import CallbackBase
from ansible.utils.display import Display

display = Display()

# What kubernetes.core writes to the temp folder to keep across runs: discovery caches, no credentials.
KEPT = "k8srcp-*.json"
# The file in a run's folder that the run holds locked while it lives.
LOCK = ".lock"


def _take(folder):
    """An open, locked descriptor of folder's lock file, or None when a live run holds it or there is none."""
    try:
        fd = os.open(folder / LOCK, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _share(cache, into):
    """Hard-link cache at into, or copy it where the file system refuses a link."""
    try:
        os.link(cache, into, follow_symlinks=False)
    except OSError:
        shutil.copy2(cache, into)


def remove_ended(shared):
    """Remove the folders of this user's runs that ended without removing theirs (killed with SIGKILL)."""
    for folder in shared.glob("shipyard-run-*"):
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        fd = _take(folder)
        if fd is None:  # a live run's, or one without a lock file: left alone
            continue
        try:
            shutil.rmtree(folder, ignore_errors=True)
            display.vvv(f"shipyard.platform.private_tmp: removed {folder}, left by a run that was killed")
        finally:
            os.close(fd)


class CallbackModule(CallbackBase):
    """Point the run's temp files at a private folder and remove it when the controller exits."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "shipyard.platform.private_tmp"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.shared = Path(tempfile.gettempdir())
        remove_ended(self.shared)
        # The folder gets its run name only once its lock is held, so that no other run's sweep sees it
        # unlocked. The lock's descriptor stays open in this process and in every process forked from it.
        new = Path(tempfile.mkdtemp(prefix="shipyard-new-", dir=self.shared))  # mode 0700
        self.lock = os.open(new / LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        self.private = new.with_name(new.name.replace("shipyard-new-", "shipyard-run-", 1))
        os.rename(new, self.private)
        self.owner = os.getpid()
        self.copied = {}  # name: modification time of the copy; an unchanged copy does not go back
        for cache in self.shared.glob(KEPT):
            try:
                if cache.is_file() and not cache.is_symlink() and cache.stat().st_uid == os.getuid():
                    _share(cache, self.private / cache.name)
                    self.copied[cache.name] = (self.private / cache.name).stat().st_mtime_ns
            except OSError as ex:  # a cache is only a cache
                display.vvv(f"shipyard.platform.private_tmp: the discovery cache {cache} was not linked: {ex}")
        # Processes started from now on (Mitogen's, modules', commands') and the workers forked from
        # this one use the private folder.
        os.environ["TMPDIR"] = str(self.private)
        tempfile.tempdir = str(self.private)
        atexit.register(self.remove)

    def remove(self):
        if os.getpid() != self.owner:  # a forked process that exits normally leaves the run's folder alone
            return
        try:
            for cache in self.private.glob(KEPT):
                written = self.copied.get(cache.name) != cache.stat().st_mtime_ns  # by this run
                if written and cache.is_file() and not cache.is_symlink():
                    os.replace(cache, self.shared / cache.name)
        except OSError as ex:  # a cache is only a cache
            display.vvv(f"shipyard.platform.private_tmp: a discovery cache was not kept: {ex}")
        shutil.rmtree(self.private, ignore_errors=True)
        os.close(self.lock)
        if self.private.exists():
            display.warning(f"shipyard.platform.private_tmp: could not remove {self.private}; remove it by hand")
