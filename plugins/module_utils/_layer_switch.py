# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Switched layers (``strategy = "switch"``): a layer a running app uses, replaced without a gap.

The layer's path (``dest``, the path the app uses) is a symbolic link to a
versioned real directory beside it, ``<dest>.appenv-<key12>-<tag6>`` (key: the
fingerprint key; tag: random, so a rebuild of the same inputs gets its own
directory). A build or a layer-cache restore makes a new versioned directory,
builds it AT that path (venvs and console scripts hold absolute paths, so they
name the versioned directory and keep working for processes started before the
switch), writes the fingerprint inside it last, and then switches ``dest`` to
it with one step: a temporary link renamed over ``dest`` (rename(2) is atomic,
a process opening ``dest/...`` sees the old layer or the new one, never a gap).

The previous directories stay after the switch, ``spec.keep_previous`` of them
(default 1, the newest first): processes started before the switch keep their
files until a later switch removes them. A build that fails or is killed never
touches ``dest``; the next run (under the layer's lock) removes every versioned
directory that is not live and holds no fingerprint, and stale temporary links.

Migration: a ``dest`` that is a real directory (built by an earlier version, in
place) is replaced by the link once: the directory is renamed to
``<dest>.appenv-old`` and the link renamed in, two renames back to back (the
only non-atomic step; a kill between them is rolled back by the next run, which
puts the old directory back). The engine's writes never go through the link:
the build, the fingerprint and the restore write into the new real directory.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import os
import re

from ansible_collections.appenv.python.plugins.module_utils._fingerprint import (
    FINGERPRINT_FILE, make_record, write_json_atomic)
from ansible_collections.appenv.python.plugins.module_utils._layer_overlay import remove_tree

_ASIDE = ".appenv-old"  # the engine's name for a layer moved aside (_layer._aside_path)
_LINK_TAG = ".appenv-link-"
DEFAULT_KEEP = 1


def _tag():
    return binascii.hexlify(os.urandom(3)).decode("ascii")


def _parts(spec):
    return os.path.split(spec.path.rstrip("/"))


def _version_re(name):
    return re.compile(r"^%s\.appenv-[0-9a-f]{12}-[0-9a-f]{6}$" % re.escape(name))


def version_dir(spec, key):
    """A new versioned directory's path for a layer of fingerprint key."""
    return "%s.appenv-%s-%s" % (spec.path.rstrip("/"), key[:12], _tag())


def is_version_dir(spec, path):
    parent, name = _parts(spec)
    return os.path.dirname(path) == parent and bool(_version_re(name).match(os.path.basename(path)))


def live_dir(spec):
    """The versioned directory dest links to, or None (no link, a real directory, or a foreign link)."""
    if not os.path.islink(spec.path):
        return None
    target = os.readlink(spec.path)
    target = os.path.normpath(os.path.join(os.path.dirname(spec.path), target))
    return target if is_version_dir(spec, target) else None


def _state_in(spec, root):
    """Where spec's fingerprint lives inside root (the layer's fingerprint is inside the layer)."""
    rel = os.path.relpath(os.path.abspath(spec.state_path), spec.path)
    if rel.startswith("..") or os.path.isabs(rel):
        rel = FINGERPRINT_FILE
    return os.path.join(root, rel)


def _versions(spec):
    """The versioned directories beside dest, and the other leftovers of builds named after them."""
    parent, name = _parts(spec)
    pattern = _version_re(name)
    versions, leftovers = [], []
    try:
        entries = os.listdir(parent)
    except OSError:
        return versions, leftovers
    for entry in sorted(entries):
        path = os.path.join(parent, entry)
        if pattern.match(entry):
            versions.append(path)
        elif entry.startswith(name + ".appenv-") and pattern.match(entry.split(".appenv-work", 1)[0]):
            leftovers.append(path)  # the work directory of a build killed half-way
        elif entry.startswith("." + name + _LINK_TAG):
            leftovers.append(path)  # a temporary link a switch killed half-way left
    return versions, leftovers


def recover_switch(spec, predict=False):
    """Remove what a build or a switch killed half-way left (under the lock). A sentence, or None.

    predict: only say so (check mode), with the same sentence.
    """
    live = live_dir(spec)
    versions, leftovers = _versions(spec)
    stale = [path for path in versions if path != live and not os.path.lexists(_state_in(spec, path))]
    for path in [] if predict else stale + leftovers:
        remove_tree(path)
    if stale:
        return "a build interrupted earlier left %s behind (the live layer was not touched); %s removed" % (
            ", ".join(stale), "it is" if len(stale) == 1 else "they are")
    return None


def build_switched(spec, runner):
    """Build a new version beside the live one, write its fingerprint, switch dest to it. Its record."""
    new = version_dir(spec, make_record(spec, {})["key"])
    os.makedirs(new, 0o755)
    try:
        facts = spec.build(new, runner)
        record = make_record(spec, dict(facts or {}, version_dir=new))
        write_json_atomic(_state_in(spec, new), record)
        switch(spec, new)
    except BaseException:
        remove_tree(new)
        raise
    prune(spec, keep=getattr(spec, "keep_previous", DEFAULT_KEEP))
    return record


def restore_switched(spec, cache, key, meta, runner=None):
    """Restore the cache entry for key into a versioned directory and switch to it; its record, or None.

    A venv holds the absolute path it was built at: the entry is restored at the versioned directory it
    was built in (the record's version_dir, when it names a sibling of dest), or at a new one when it was
    built in place at dest (its paths then name dest, which resolves to it after the switch).
    """
    built_in = ((meta.get("record") or {}).get("facts") or {}).get("version_dir")
    if isinstance(built_in, str) and is_version_dir(spec, built_in):
        if built_in == live_dir(spec):
            return None  # the live layer is that very directory (damaged): build a new one instead
        if os.path.lexists(built_in):
            remove_tree(built_in)  # an older copy of the same entry, not live
        new = built_in
    else:
        new = version_dir(spec, key)
    meta = cache.restore(key, new, runner=runner)
    if meta is None:
        return None
    try:
        record = dict(meta["record"])
        record["facts"] = dict(record.get("facts") or {}, version_dir=new)
        spec.restored(record)
        write_json_atomic(_state_in(spec, new), record)
        switch(spec, new)
    except BaseException:
        remove_tree(new)
        raise
    prune(spec, keep=getattr(spec, "keep_previous", DEFAULT_KEEP))
    return record


def switch(spec, new):
    """Point dest at new (a sibling) in one rename: a temporary link renamed over dest."""
    parent, name = _parts(spec)
    temp = os.path.join(parent, "." + name + _LINK_TAG + _tag())
    os.symlink(os.path.basename(new), temp)
    try:
        if os.path.isdir(spec.path) and not os.path.islink(spec.path):
            _migrate(spec, temp)
        else:
            os.rename(temp, spec.path)
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)


def _migrate(spec, temp):
    """dest is a real directory (a layer built in place by an earlier version): replace it by the link.

    The one non-atomic step, done once: two renames back to back. A kill between them leaves no dest and
    the old directory at <dest>.appenv-old, which the next run puts back (_layer.recover_interrupted).
    """
    aside = spec.path.rstrip("/") + _ASIDE
    remove_tree(aside)
    os.rename(spec.path, aside)
    try:
        os.rename(temp, spec.path)
    except BaseException:
        os.rename(aside, spec.path)
        raise
    remove_tree(aside)


def prune(spec, keep=DEFAULT_KEEP):
    """Remove the versioned directories that are not live, beyond the keep newest (by their fingerprint)."""
    live = live_dir(spec)
    previous = [path for path in _versions(spec)[0] if path != live]

    def finished(path):
        try:
            return os.lstat(_state_in(spec, path)).st_mtime
        except OSError:
            return 0.0
    previous.sort(key=finished, reverse=True)
    for path in previous[max(int(keep or 0), 0):]:
        remove_tree(path)
