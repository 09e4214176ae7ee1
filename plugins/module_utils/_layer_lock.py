# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layer lock: runs on one host that converge one layer go one at a time.

An flock on a file next to the layer, released by the kernel if its holder dies.
What a user can see of it is kept to what a change needs:

- a run that changes the layer writes its PID into the lock file (``claim()``),
  so a run that times out waiting can name the holder;
- a no-op run takes the lock but writes nothing (no PID, no new mtime);
- a check-mode run (``read_only``) creates nothing: it takes a shared lock on an
  existing lock file (so it does not read a layer half-way through a change),
  and takes none where there is no lock file yet (no run ever changed the layer).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import time

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

# flock failing for the filesystem, not for another holder: NFS without lockd, some FUSE filesystems
_LOCK_UNSUPPORTED = frozenset(code for code in (getattr(errno, "ENOLCK", None), getattr(errno, "EOPNOTSUPP", None),
                                                getattr(errno, "ENOTSUP", None), getattr(errno, "ENOSYS", None))
                              if code is not None)


def filesystem_of(path, mounts="/proc/self/mounts"):
    """'<type> at <mount point>' for the filesystem holding path (the longest mount point above it), or 'unknown'."""
    path = os.path.realpath(path)
    best = None
    try:
        with open(mounts) as handle:
            for line in handle:
                fields = line.split()
                if len(fields) < 3:
                    continue
                point = fields[1].replace("\\040", " ")
                inside = path == point or path.startswith(point.rstrip("/") + "/")
                if inside and (best is None or len(point) >= len(best[0])):
                    best = (point, fields[2])
    except (IOError, OSError):
        return "unknown"
    return "%s at %s" % (best[1], best[0]) if best else "unknown"


class LayerLock:
    """An flock on path; exclusive, or shared and creating nothing when read_only."""

    def __init__(self, path, timeout=600.0, poll=0.2, read_only=False):
        self.path = path
        self.timeout = timeout
        self.poll = poll
        self.read_only = read_only
        self._fd = None
        self._claimed = False

    def _open(self):
        if self.read_only:
            try:
                return os.open(self.path, os.O_RDONLY)
            except (IOError, OSError) as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
                    return None  # nothing to wait for, or not ours to read: predict without it
                raise
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def __enter__(self):
        self._fd = self._open()
        if self._fd is None:
            return self
        mode = fcntl.LOCK_SH if self.read_only else fcntl.LOCK_EX
        started = time.monotonic()
        while True:
            try:
                fcntl.flock(self._fd, mode | fcntl.LOCK_NB)
                return self
            except (IOError, OSError) as exc:
                if exc.errno in _LOCK_UNSUPPORTED:
                    os.close(self._fd)
                    self._fd = None
                    raise AppenvError("layer_lock_unsupported", lock_path=self.path, error=os.strerror(exc.errno),
                                      filesystem=filesystem_of(self.path))
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                waited = time.monotonic() - started
                if waited >= self.timeout:
                    holder = self._holder()
                    os.close(self._fd)
                    self._fd = None
                    raise AppenvError("layer_locked", waited=int(waited), lock_path=self.path, holder=holder)
                time.sleep(self.poll)

    def claim(self):
        """Write our PID into the lock file: called once a run is about to change the layer (never on a
        no-op, never in check mode), so a run waiting for the lock can name the holder."""
        if self._fd is None or self.read_only or self._claimed:
            return
        os.ftruncate(self._fd, 0)
        os.write(self._fd, ("%d\n" % os.getpid()).encode("ascii"))
        self._claimed = True

    def _holder(self):
        try:
            with open(self.path) as handle:
                return "pid " + (handle.read().strip() or "unknown")
        except (IOError, OSError):
            return "pid unknown"

    def __exit__(self, *exc_info):
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        return False
