# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A layer's list of files, so a no-op run can check reality in-process.

The manifest (relative path, type, size) is written into the layer when it is
built; its sha256 goes into the fingerprint's facts. verify() re-reads it and
stats every entry: a deleted or resized file makes the layer "changed on disk".
Files added later (pip_tooling upgrading pip inside the runtime, say) are not
the layer's concern: only what the layer put there is checked.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import stat

MANIFEST_NAME = ".appenv-manifest"


def _walk(root, exclude_dirs, exclude_prefixes=()):
    root = root.rstrip("/")
    for directory, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(name for name in dirnames if (rel_dir + name) not in exclude_dirs)
        for name in sorted(filenames):
            rel = rel_dir + name
            if rel == MANIFEST_NAME or rel.startswith(".appenv-") or rel.startswith(tuple(exclude_prefixes)):
                continue
            yield rel, os.path.join(directory, name)
        for name in dirnames:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                yield rel_dir + name, path


def write_manifest(root, exclude_dirs=(), exclude_prefixes=()):
    """Write root/.appenv-manifest; return (sha256, number of entries).

    exclude_prefixes: relative paths starting with these belong to another layer
    (bin/pip* is rewritten when pip_tooling upgrades pip).
    """
    lines = []
    for rel, path in _walk(root, set(exclude_dirs), exclude_prefixes):
        if os.path.islink(path):
            lines.append("l\t%s\t%s" % (os.readlink(path), rel))
        else:
            lines.append("f\t%d\t%s" % (os.lstat(path).st_size, rel))
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    with open(os.path.join(root, MANIFEST_NAME), "wb") as handle:
        handle.write(data)
    return hashlib.sha256(data).hexdigest(), len(lines)


def check_manifest(root, expected_sha256, limit=5):
    """Sentences naming what differs from the manifest (empty when intact)."""
    path = os.path.join(root, MANIFEST_NAME)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError):
        return ["its file list %s is missing" % path]
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        return ["its file list %s was modified" % path]
    missing, altered = [], []
    prefix = root.rstrip("/") + "/"  # entries are relative paths: a concatenation, not os.path.join per file
    lstat = os.lstat
    for line in data.decode("utf-8", "surrogateescape").splitlines():
        kind, value, rel = line.split("\t", 2)
        full = prefix + rel
        try:
            info = lstat(full)
        except OSError:
            missing.append(rel)
            continue
        if kind == "f":
            if info.st_size != int(value):
                altered.append(rel)
        elif kind == "l" and (not stat.S_ISLNK(info.st_mode) or os.readlink(full) != value):
            altered.append(rel)
    problems = []
    if missing:
        problems.append("%d file(s) missing (%s%s)" % (
            len(missing), ", ".join(missing[:limit]), ", …" if len(missing) > limit else ""))
    if altered:
        problems.append("%d file(s) changed (%s%s)" % (
            len(altered), ", ".join(altered[:limit]), ", …" if len(altered) > limit else ""))
    return problems
