# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Switched layers: a venv or target directory that a running app never sees half-built (docs/guides/live-hosts.md).

The path the app uses (``dest``) is a symbolic link into ``<dest>.appenv-versions/``; each build goes into a
version directory of its own beside the live one, gets its fingerprint there (last, as always) and is then
switched in with one ``rename(2)`` of a new link over the old one. A failed or killed build never touches the live
version; the next run removes what it left (``recover``). The versions that were live before are kept
(``keep_previous``, newest first) so processes started from them keep their files, then removed.

A version's name is the first 12 hex digits of the layer's cache key (``<key12>``), so the same inputs build into
the same absolute path on every host and a layer cache entry restores where it was built (venvs and console-script
shebangs name their own path); a rebuild with unchanged inputs (``force``, a repair) goes to ``<key12>.2``, ``.3``…
and is not stored in a cache. Inside the versions directory, names starting with a dot are the engine's own: the
history (which versions were live, oldest first) and the temporary link of a switch.

The first switch on a host where ``dest`` is still a real directory (built by an earlier release, or by hand)
exchanges the directory and the new link in one ``renameat2(RENAME_EXCHANGE)`` where the kernel and file system
have it; elsewhere two renames leave ``dest`` missing for the moment between them (the one non-atomic moment,
documented). The old directory is then kept as the version ``migrated`` and pruned like any other.

A process resolves ``dest`` once, when it starts: a venv's site-packages and a target's ``.pth`` file in the runtime
carry a start-up line (``pin_venv_line``, ``pin_target_line``) that puts the version the link names at that moment
on ``sys.path``, so every import of the process comes from that one version (kept for ``keep_previous`` rebuilds),
even when a switch happens while it is still importing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.appenv.python.plugins.module_utils._fingerprint import write_json_atomic
from ansible_collections.appenv.python.plugins.module_utils._layer_overlay import remove_tree

VERSIONS_SUFFIX = ".appenv-versions"
HISTORY = ".appenv-history.json"
_LINK_PREFIX = ".appenv-link-"
MIGRATED = "migrated"
DEFAULT_KEEP_PREVIOUS = 1
_NAME_DIGITS = 12
# Sorts after the .pth files installers write, so the paths they add under the link are resolved too.
PIN_PTH = "zz-appenv-one-version.pth"


def pin_venv_line():
    """A .pth line for a venv's site-packages: the sys.path entries under sys.prefix (the link, for a process
    started as dest/bin/python) become entries under the version the link names now."""
    return ("import os, sys; (lambda p, r: r == p or sys.path.__setitem__(slice(None), [r + e[len(p):] "
            "if e == p or e.startswith(p + os.sep) else e for e in sys.path]))"
            "(sys.prefix, os.path.realpath(sys.prefix))\n")


def pin_target_line(dest):
    """The .pth line that puts the version the target layer's link dest names now on sys.path (as a path line
    would: once, and only when it is a directory)."""
    return ("import os, sys; (lambda d: d in sys.path or not os.path.isdir(d) or sys.path.append(d))"
            "(os.path.realpath(%r))\n" % dest)


def write_pin_venv(site_packages):
    with open(os.path.join(site_packages, PIN_PTH), "w") as handle:
        handle.write(pin_venv_line())


def versions_dir(path):
    """Where the versions of the switched layer at path live."""
    return path.rstrip("/") + VERSIONS_SUFFIX


def live_version(path):
    """The name of the version path's link points at, or None (path is no link into its versions directory)."""
    try:
        target = os.readlink(path)
    except OSError:
        return None
    base = os.path.basename(versions_dir(path))
    parts = target.split("/")
    if len(parts) == 2 and parts[0] == base and parts[1] and not parts[1].startswith("."):
        return parts[1]
    return None


def _link_target(path, name):
    """The relative target of the link at path to its version name (survives a move of the parent)."""
    return os.path.join(os.path.basename(versions_dir(path)), name)


def read_history(path):
    """The names of the versions that were live, oldest first ([] when the file is missing or unreadable)."""
    try:
        with open(os.path.join(versions_dir(path), HISTORY)) as handle:
            names = json.load(handle)
    except (IOError, OSError, ValueError):
        return []
    return [name for name in names if isinstance(name, str) and _plain_name(name)] if isinstance(names, list) else []


def _plain_name(name):
    return bool(name) and "/" not in name and not name.startswith(".")


def _write_history(path, names):
    write_json_atomic(os.path.join(versions_dir(path), HISTORY), names)


def _entries(path):
    try:
        return sorted(os.listdir(versions_dir(path)))
    except OSError:
        return []


def leftovers(path):
    """What a run killed half-way left in the versions directory: versions never switched in (half-built, or
    built and not switched), their work directories, temporary links. Reads only (check mode predicts with it)."""
    keep = set(read_history(path)) | set([live_version(path)])
    return [name for name in _entries(path) if name != HISTORY and name not in keep]


def leftovers_note(path):
    found = leftovers(path)
    if not found:
        return None
    return "a build interrupted earlier left %s behind in %s; removed (the live version was not touched)" % (
        ", ".join(found), versions_dir(path))


def recover(path):
    """Remove what leftovers() names (under the layer's lock); the sentence for the result, or None."""
    note = leftovers_note(path)
    for name in leftovers(path):
        remove_tree(os.path.join(versions_dir(path), name))
    return note


def canonical_name(key):
    return key[:_NAME_DIGITS]


def new_version(path, key):
    """The directory of the next version, not yet made: <key12>, or <key12>.N when that name is taken."""
    base = canonical_name(key)
    # What a killed run left is removed before a build (check mode predicts with it still there).
    taken = set(_entries(path)) - set(leftovers(path))
    name, count = base, 1
    while name in taken:
        count += 1
        name = "%s.%d" % (base, count)
    return os.path.join(versions_dir(path), name)


def is_canonical(version_dir, key):
    return os.path.basename(version_dir) == canonical_name(key)


def make_versions_dir(path, what):
    """Create the versions directory (0755) and, as root, refuse it when another user could write it or a
    directory above it (root never builds into, nor switches a link to, what a less-privileged user controls)."""
    from ansible_collections.appenv.python.plugins.module_utils import _privilege  # only where a switch is made

    directory = versions_dir(path)
    if os.path.islink(directory):
        info = os.lstat(directory)
        _privilege.refuse(directory, info, "a symbolic link (the versions directory must be a real directory)", what)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    _privilege.check_tree(directory, what)
    return directory


def check(path, what):
    """As root: the link at path and its versions directory are root's (or the running user's), and so is every
    directory above them (_privilege): a less-privileged user who could replace the link would choose the app's
    environment."""
    from ansible_collections.appenv.python.plugins.module_utils import _privilege  # only where a switch is made

    _privilege.check_link(path, what)
    if os.path.lexists(versions_dir(path)):
        _privilege.check_tree(versions_dir(path), what)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first, second):
    """Swap two paths in one step (renameat2 RENAME_EXCHANGE); False where libc, kernel or file system lack it."""
    try:
        import ctypes  # not in every minimal Python: then two renames
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2  # libc's, linked into python (no lookup process)
    except (ImportError, OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0


def switch(path, version_dir):
    """Make the link at path point at version_dir in one rename; the version it replaced (a name), or None.

    A real directory (or a foreign link) at path is migrated: exchanged with the new link in one step where
    renameat2 works, else moved into the versions directory just before the link is renamed in.
    """
    name = os.path.basename(version_dir)
    directory = versions_dir(path)
    history = [entry for entry in read_history(path) if entry != name]
    previous = live_version(path)
    if previous is not None and previous not in history:
        history.append(previous)
    migrate = os.path.lexists(path) and previous is None
    if migrate:
        history = [entry for entry in history if entry != MIGRATED] + [MIGRATED]
        remove_tree(os.path.join(directory, MIGRATED))
    # The history names the new version before the switch: killed after this, the version is kept, not removed.
    _write_history(path, history + [name])
    temp = os.path.join(directory, "%s%d" % (_LINK_PREFIX, os.getpid()))
    remove_tree(temp)
    os.symlink(_link_target(path, name), temp)
    if not migrate:
        os.rename(temp, path)
        return previous
    if _exchange(temp, path):
        os.rename(temp, os.path.join(directory, MIGRATED))
        return MIGRATED
    os.rename(path, os.path.join(directory, MIGRATED))  # from here to the next rename, the one moment path is missing
    try:
        os.rename(temp, path)
    except BaseException:
        os.rename(os.path.join(directory, MIGRATED), path)
        remove_tree(temp)
        raise
    return MIGRATED


def prune(path, keep_previous):
    """Remove the versions beyond the keep_previous newest that were live before; the names removed."""
    live = live_version(path)
    history = [name for name in read_history(path) if name != live and os.path.lexists(
        os.path.join(versions_dir(path), name))]
    keep = history[len(history) - keep_previous:] if keep_previous > 0 else []
    removed = [name for name in history if name not in keep]
    for name in removed:
        remove_tree(os.path.join(versions_dir(path), name))
    _write_history(path, keep + ([live] if live else []))
    return removed


def removable(path):
    """What state: absent removes beside the link: the versions directory."""
    return [versions_dir(path)]
