# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Least privilege: what a module running as root may execute, follow or write through.

Root never runs an interpreter (or a ``.pth`` file it processes at start-up, ``-I`` or not), nor writes into a
tree, that a less-privileged user can write: that user could make root run their code, or write where they
choose. The rule is sshd's StrictModes: every directory from ``/`` down to the path, and the path itself, is
owned by root (or by the user running the module) and not writable by group or others; a world-writable
directory with the sticky bit (``/tmp``) may be passed through, since others cannot replace what root owns in
it. Links are followed and their targets checked the same way. Pure stdlib and in-process: a no-op run starts
no process. The threat model is docs/security.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import pwd
import stat

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

_MAX_LINKS = 40


def running_as_root():
    return os.geteuid() == 0


def owner_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "uid %d" % uid


def unsafe_reason(info, uid=None, passable=False):
    """Why an lstat/stat result is not safe for root to use (a phrase), or None.

    passable: a directory only passed through on the way down, where a sticky world-writable one is fine.
    """
    uid = os.geteuid() if uid is None else uid
    if info.st_uid not in (0, uid):
        return "owned by %s" % owner_name(info.st_uid)
    if info.st_mode & 0o022 and not stat.S_ISLNK(info.st_mode):
        if passable and stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX and info.st_uid == 0:
            return None
        return "writable by %s (mode %04o)" % ("group and others" if info.st_mode & 0o022 == 0o022 else
                                               "others" if info.st_mode & 0o002 else "its group",
                                               stat.S_IMODE(info.st_mode))
    return None


def refuse(path, info, why, what):
    raise AppenvError("unsafe_path", path=path, why=why, what=what, owner=owner_name(info.st_uid),
                      mode="%04o" % stat.S_IMODE(info.st_mode))


def check_chain(path, what, _depth=0):
    """Check every directory from / down to path, and path itself (links followed, their targets checked).

    Returns the resolved path. Raises unsafe_path naming the first unsafe one. A missing path is left to the
    caller (returned as it is).
    """
    path = os.path.abspath(path)
    current = "/"
    parts = [part for part in path.split("/") if part]
    for index, part in enumerate(parts):
        candidate = os.path.join(current, part)
        try:
            info = os.lstat(candidate)
        except OSError:
            return os.path.join(candidate, *parts[index + 1:]) if index + 1 < len(parts) else candidate
        if stat.S_ISLNK(info.st_mode):
            if _depth >= _MAX_LINKS:
                raise AppenvError("unsafe_path", path=candidate, why="a chain of more than %d links" % _MAX_LINKS,
                                  what=what, owner=owner_name(info.st_uid), mode="%04o" % stat.S_IMODE(info.st_mode))
            target = os.path.join(current, os.readlink(candidate))
            current = check_chain(os.path.normpath(target), what, _depth + 1)
            continue
        last = index == len(parts) - 1
        why = unsafe_reason(info, passable=not last)
        if why:
            refuse(candidate, info, why, what)
        current = candidate
    return current


def _check_entries(directory, what):
    """directory and what is directly inside it (.pth files, the modules they import, package directories)."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return
    for name in [None] + names:
        path = directory if name is None else os.path.join(directory, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        why = unsafe_reason(info)
        if why:
            refuse(path, info, why, what)


def check_interpreter(interpreter):
    """As root: refuse an interpreter, or a venv or installation around it, that another user can write.

    Checked: the path to the interpreter (links and their targets), each prefix it starts from (the venv's
    root and the base installation's), the venv's pyvenv.cfg (its `home` says which python runs), and each
    site-packages (dist-packages) directory with what is directly in it, where start-up reads .pth files even under -I.
    """
    if not running_as_root():
        return
    what = "run the interpreter %s" % interpreter
    real = check_chain(interpreter, what)
    prefixes = []
    for binary in (os.path.abspath(interpreter), real):
        prefix = os.path.dirname(os.path.dirname(binary))
        if prefix not in prefixes:
            prefixes.append(prefix)
    for prefix in prefixes:
        check_chain(prefix, what)
        config = os.path.join(prefix, "pyvenv.cfg")
        if os.path.lexists(config):
            check_chain(config, what)
        for site in sorted(glob.glob(os.path.join(prefix, "lib*", "python*", "*-packages"))):
            if not os.path.islink(site):
                _check_entries(site, what)
            else:
                check_chain(site, what)


def check_tree(tree, what):
    """As root: refuse a tree root would write into when it, or a directory above it, another user can write."""
    if running_as_root():
        check_chain(tree, what)


def check_link(path, what):
    """As root: refuse a symbolic link at path that another user owns (who could point it elsewhere), and every
    directory from / down to it that another user can write (check_chain of its parent). Its target is
    check_chain's, when the path is used."""
    if not running_as_root():
        return
    check_chain(os.path.dirname(os.path.abspath(path)), what)
    try:
        info = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(info.st_mode):
        why = unsafe_reason(info)
        if why:
            refuse(path, info, "a symbolic link " + why, what)


def inside(path, trees):
    """Whether path is one of trees or below one."""
    return any(path == tree or path.startswith(tree.rstrip("/") + "/") for tree in trees)


def check_pyc_dir(tree, directory, checked):
    """Before pycs are written in directory/__pycache__ (directory inside tree): the __pycache__ is no link
    (tree_symlink); as root, neither it nor a directory from tree down to it is another user's or writable by
    others (unsafe_path). checked: a dict of the directories already looked at (lstat once per run)."""
    pycache = os.path.join(directory, "__pycache__")
    try:
        info = os.lstat(pycache)
    except OSError:
        info = None
    if info is not None and stat.S_ISLNK(info.st_mode):
        raise AppenvError("tree_symlink", path=pycache, target=os.readlink(pycache), tree=tree)
    if not running_as_root():
        return
    what = "write bytecode in %s" % pycache
    if info is not None and stat.S_ISDIR(info.st_mode):
        why = unsafe_reason(info)
        if why:
            refuse(pycache, info, why, what)
    # From directory up to the tree; a directory checked before had its own way up checked then (os.walk is
    # top-down), so the climb stops there.
    current = directory
    while current not in checked:
        info = os.lstat(current)
        checked[current] = (info, "a symbolic link" if stat.S_ISLNK(info.st_mode) else unsafe_reason(info))
        if checked[current][1] or len(current) <= len(tree.rstrip("/")) or current == "/":
            break
        current = os.path.dirname(current)
    info, why = checked[current]
    if why:
        refuse(current, info, why, what)


def make_private_dir(path):
    """Create path (and its parents) for the state of the user running the step: the last level 0700.

    An existing directory is checked, not trusted: a link, or one another user owns, is refused.
    """
    if not os.path.isdir(path) or os.path.islink(path):
        parent = os.path.dirname(path.rstrip("/"))
        if parent and not os.path.isdir(parent):
            os.makedirs(parent, 0o755)
        if not os.path.lexists(path):
            os.mkdir(path, 0o700)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        refuse(path, info, "not a directory (a link or a file)", "keep its state in %s" % path)
    if info.st_uid != os.geteuid():
        refuse(path, info, "owned by %s" % owner_name(info.st_uid), "keep its state in %s" % path)
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path
