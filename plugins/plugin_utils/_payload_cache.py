# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine's AnsiballZ payload kept on the controller between ansible-playbook runs.

Ansible builds a module's payload on the first task of that module in a run and keeps it in the run's private
temporary directory (``<local tmp>/ansiballz_cache``), removed when the run ends: every run of a play that uses
the collection parses its module_utils again, about 0.16 s before the first task's module starts (0.07 s for
``ansible.builtin.command``'s; docs/performance.md, issue 16). This keeps the files Ansible wrote there for the
engine, byte for byte and never read by us, and puts them back into the next run's directory before Ansible
looks, so the build is skipped.

An entry is named after a key of everything the payload is made of: the sources of the engine and of every
module_util of the collection, the collection's path, ansible-core's version and path, and the controller's
Python. A changed source, an upgrade or another collection path is a new key, and the payload is built as
without the cache.

Least privilege (docs/security.md): a payload runs as root on every host, so entries are kept only in a
directory the controller user owns, mode 0700, reached through directories owned by root or that user that no
one else can write, with no link on the way (the rule of the host's compiled module_utils,
``module_utils/_pycache.py``), and used only when they are that user's own regular files no one else can read
or write. ``APPENV_PAYLOAD_CACHE`` names another directory, or ``off`` turns it off. Any error: the payload is
built, as without the cache.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time

import ansible
from ansible import constants as C
from ansible.release import __version__ as ANSIBLE_VERSION

from ansible_collections.appenv.python.plugins.module_utils._pycache import private_dir, read_private, write_private

ENV = "APPENV_PAYLOAD_CACHE"
_COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Ansible names its cache files <the module's python name>-<compression>[-<extensions>].
_PREFIX = "ansible_collections.appenv.python.plugins.modules.engine-"
_KEY_LENGTH = 32
_KEYS = {}
_HEADER = b"appenv-payload-1 "  # then the payload's sha256 and a newline: a damaged entry is never used
_UNUSED_DAYS = 7  # entries of other keys not used for that long go when a new one is kept


def store_dir(make=True):
    """The directory entries are kept in (made 0700 when missing, unless make is false), or None: off, no home, or
    not safe."""
    chosen = os.environ.get(ENV, "")
    if chosen.lower() in ("off", "0", "false", "no"):
        return None
    if not chosen:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        chosen = os.path.join(base, "appenv", "payloads")
    if not chosen.startswith("/"):
        return None
    return private_dir(os.path.normpath(chosen), make=make)


def _run_dir():
    """This run's own cache directory of payloads (Ansible's), or None outside a run."""
    local_tmp = getattr(C, "DEFAULT_LOCAL_TMP", None)
    if not local_tmp or not os.path.isdir(local_tmp):
        return None
    return os.path.join(local_tmp, "ansiballz_cache")


def payload_key(root=_COLLECTION_ROOT):
    """The sha256 of what the engine's payload is built from (hex); read once a process."""
    if root not in _KEYS:
        _KEYS[root] = _payload_key(root)
    return _KEYS[root]


def _payload_key(root):
    digest = hashlib.sha256()
    for part in ("appenv-payload-1", ANSIBLE_VERSION, os.path.dirname(ansible.__file__), sys.version, root):
        digest.update(part.encode("utf-8") + b"\0")
    sources = [os.path.join(root, "plugins", "modules", "engine.py")]
    for directory, subdirs, files in os.walk(os.path.join(root, "plugins", "module_utils")):
        subdirs.sort()
        sources.extend(os.path.join(directory, name) for name in sorted(files) if name.endswith(".py"))
    for path in sources:
        with open(path, "rb") as handle:
            data = handle.read()
        digest.update(os.path.relpath(path, root).encode("utf-8") + b"\0%d\0" % len(data) + data)
    return digest.hexdigest()


def _ours(name):
    return name.startswith(_PREFIX) and not name.endswith((".lock", "-part")) and ".tmp-" not in name


def _read_own(path):
    """The payload kept at path when it is the running user's own private file (``_pycache.read_private``), whole
    (the sha256 it was kept with), else None."""
    data = read_private(path)
    header, _newline, payload = (data or b"").partition(b"\n")
    if data is None or header != _HEADER + hashlib.sha256(payload).hexdigest().encode("ascii"):
        return None
    return payload


def _entries(directory, key):
    """{Ansible's file name: our entry's path} of key's entries in directory."""
    mark = key[:_KEY_LENGTH] + "-"
    return {name[len(mark):]: os.path.join(directory, name)
            for name in os.listdir(directory) if name.startswith(mark) and _ours(name[len(mark):])}


def seed():
    """Put the kept payload into this run's directory before Ansible builds one. True when it did."""
    try:
        run_dir = _run_dir()
        if run_dir is None or (os.path.isdir(run_dir) and any(_ours(name) for name in os.listdir(run_dir))):
            return False  # outside a run, or this run has its payload already
        directory = store_dir(make=False)
        if directory is None:
            return False
        entries = _entries(directory, payload_key())
        if not entries:
            return False
        payloads = {}
        for name, path in entries.items():
            try:
                payloads[name] = _read_own(path)
            except OSError:
                payloads[name] = None
            if payloads[name] is None:
                os.unlink(path)  # in our own private directory: kept again by this run (keep)
                return False
        os.makedirs(run_dir, exist_ok=True)
        for name, data in payloads.items():
            write_private(os.path.join(run_dir, name), data)
        now = time.time()
        for path in entries.values():
            os.utime(path, (now, now))
        return True
    except (OSError, ValueError):
        return False


def keep():
    """Keep the payload this run built, when it is not kept yet. True when it was kept now."""
    try:
        run_dir = _run_dir()
        if run_dir is None or not os.path.isdir(run_dir):
            return False
        built = sorted(name for name in os.listdir(run_dir) if _ours(name))
        if not built:
            return False
        directory = store_dir()
        if directory is None:
            return False
        key = payload_key()
        kept = _entries(directory, key)
        if all(name in kept for name in built):
            return False
        for name in built:
            with open(os.path.join(run_dir, name), "rb") as handle:
                payload = handle.read()
            write_private(os.path.join(directory, "%s-%s" % (key[:_KEY_LENGTH], name)),
                          _HEADER + hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n" + payload)
        _prune(directory, key)
        return True
    except (OSError, ValueError):
        return False


def _prune(directory, key):
    """Remove the entries of other keys not used for _UNUSED_DAYS (another ansible-core or collection release)."""
    limit = time.time() - _UNUSED_DAYS * 86400
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if name.startswith(key[:_KEY_LENGTH] + "-"):
            continue
        try:
            if os.lstat(path).st_mtime < limit:
                os.unlink(path)
        except OSError:
            pass
