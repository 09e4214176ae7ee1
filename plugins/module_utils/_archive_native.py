# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GNU tar writer of safe_extract (see _archive): the checked members written by ``tar``.

This file owns when GNU tar may write (``_native_ready``: many members, a new or empty destination,
plain tar or gzip, no mode bit to strip), how it is run (``_extract_native``: ``tar`` reading the
already open, already checked file), emptying a destination it wrote into (``_clear``) and the
overlapped mode of the layer cache (``_Overlapped``: tar writes into an empty staging directory while
the checks read). ``_archive`` decides, after the checks of ``_archive_checks``, whether to call it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import shutil
import stat

from ansible_collections.appenv.python.plugins.module_utils._archive_checks import _file_mode, _odd_mode
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner, find_program


# Below this many members the Python writer is done before tar would have started.
NATIVE_MIN_MEMBERS = 256
# Below this size the checks take too little time for overlapping them with tar to pay.
OVERLAP_MIN_BYTES = 8 << 20
_GNU_TAR = []
# What tar says when the disk, not the archive, is at fault: raised as OSError, like the Python writer.
_TAR_OS_ERRORS = (("No space left on device", errno.ENOSPC), ("Read-only file system", errno.EROFS),
                  ("Permission denied", errno.EACCES), ("Disk quota exceeded", errno.EDQUOT))


def gnu_tar():
    """The path of GNU tar on the host (checked once per process), or None."""
    if not _GNU_TAR:
        program = find_program("tar")
        found = None
        if program is not None:
            try:
                version = CommandRunner().run([program, "--version"], what="Looking for GNU tar", check=False)
            except AppenvError:
                version = None
            if version is not None and version.rc == 0 and "GNU tar" in version.stdout.split("\n", 1)[0]:
                found = program
        _GNU_TAR.append(found)
    return _GNU_TAR[0]


def _tar_usable(fmt):
    """GNU tar's path when it can read an archive of this format on this host, else None."""
    if fmt not in ("tar", "gzip") or (fmt == "gzip" and find_program("gzip") is None):
        return None
    return gnu_tar()


def _empty(dest):
    try:
        return not os.listdir(dest)
    except OSError:
        return True  # missing: made before tar runs


def _native_ready(fmt, dest, entries, min_members):
    """GNU tar's path when it may write these checked members into dest, else None."""
    if len(entries) < min_members or not _empty(dest):
        return None  # tar's writes into a full destination could not be told from what was there
    for member, _rel, kind, _target in entries:
        if _odd_mode(kind, member.mode):
            return None  # tar keeps setuid, sticky and group-writable bits; the Python writer normalises them
    return _tar_usable(fmt)


def _tar_argv(tar_program, fmt, dest):
    argv = [tar_program, "-x", "-f", "-", "-C", dest, "--no-same-owner", "--same-permissions",
            "--no-overwrite-dir", "--warning=no-unknown-keyword"]
    if fmt == "gzip":
        argv.insert(2, "-z")
    return argv


def _tar_result(result):
    """Raise OSError for a tar run that failed: the disk's errors by their errno, anything else as EIO."""
    if result.rc == 0:
        return
    detail = result.output[-2000:] or "tar exited with status %d" % result.rc
    for text, code in _TAR_OS_ERRORS:
        if text in detail:
            raise OSError(code, "%s (tar: %s)" % (os.strerror(code), detail.strip()))
    raise OSError(errno.EIO, "tar could not extract the checked archive: %s" % detail.strip())


def _after_tar(dest, entries):
    """Check that tar wrote every member and finish what it does otherwise than the Python writer. The counts."""
    counts = {"files": 0, "directories": 0, "symlinks": 0}
    stale = []
    for member, rel, kind, _target in entries:
        path = os.path.join(dest, rel)
        try:
            written = os.lstat(path)
        except OSError:
            raise OSError(errno.EIO, "tar exited with status 0 but did not write %s" % member.name)
        if _odd_mode(kind, member.mode):
            os.chmod(path, _file_mode(kind, member.mode))
        if kind == "dir" and written.st_mtime != member.mtime:
            stale.append((rel, member.mtime))
        counts[{"file": "files", "lnk": "files", "dir": "directories", "sym": "symlinks"}[kind]] += 1
    # tar makes the symlinks it must not follow yet (absolute, or with '..') at its very end, and may leave the
    # directories holding them with the time of the run: those mtimes again (only those: a venv has thousands of
    # directories), deepest first, as the Python writer sets them.
    for rel, mtime in sorted(stale, reverse=True):
        os.utime(os.path.join(dest, rel), (mtime, mtime))
    return counts


def _extract_native(runner, tar_program, archive, fmt, dest, entries):
    """Write the checked members with GNU tar reading the already open archive. Raises OSError."""
    os.lseek(archive.fileno(), 0, os.SEEK_SET)  # the fd tar inherits: a buffered seek may move only the buffer
    _tar_result(runner.run(_tar_argv(tar_program, fmt, dest), what="Extracting an archive", check=False,
                           stdin_file=archive))
    return _after_tar(dest, entries)


def _reopen(raw):
    """The same open file with an offset of its own (through /proc), or None where that is not possible."""
    try:
        fd = os.open("/proc/self/fd/%d" % raw.fileno(), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    mine, theirs = os.fstat(raw.fileno()), os.fstat(fd)
    if (mine.st_dev, mine.st_ino) != (theirs.st_dev, theirs.st_ino):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb", buffering=0)


class _Overlapped:
    """GNU tar writing the archive into a private, empty staging directory while the scan reads it.

    Only for callers that put dest in place after a success and delete it otherwise (the layer cache): tar
    itself keeps every member inside dest (no absolute names, no '..', links it must not follow made last),
    dest is 0700 until the end so no other user reaches what tar wrote, and the checks' verdict decides.
    """

    def __init__(self, runner, raw, fmt, dest):
        self.dest = dest
        self.reader = None
        self.started = None
        self.mode = stat.S_IMODE(os.stat(dest).st_mode)
        tar_program = _tar_usable(fmt)
        reader = _reopen(raw) if tar_program is not None else None
        if reader is None:
            return
        os.chmod(dest, 0o700)
        try:
            self.started = runner.start(_tar_argv(tar_program, fmt, dest), "Extracting an archive",
                                        stdin_file=reader)
        except AppenvError:
            os.chmod(dest, self.mode)
            reader.close()
            return
        self.reader = reader

    def finish(self, entries):
        """After the checks passed: tar's verdict, then the counts (OSError when tar failed)."""
        try:
            _tar_result(self.started.wait())
            counts = _after_tar(self.dest, entries)
        finally:
            self.reader.close()
        os.chmod(self.dest, self.mode)
        return counts

    def abandon(self):
        """The checks failed (or finish raised): stop tar, empty dest."""
        self.started.kill()
        self.reader.close()
        _clear(self.dest, None)
        os.chmod(self.dest, self.mode)


def _clear(dest, created_root):
    """Empty dest (which was empty before), or remove what was created for it."""
    if created_root is not None:
        shutil.rmtree(created_root, ignore_errors=True)
        return
    try:
        names = os.listdir(dest)
    except OSError:
        return
    for name in names:
        path = os.path.join(dest, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            _remove_file(path)


def _remove_file(path):
    try:
        os.unlink(path)
    except OSError:
        pass
