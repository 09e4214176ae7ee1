# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every file a requirements file pulls in, by content: the inputs of a dependency layer.

``walk(project_dir, names)`` follows ``-r``/``--requirement`` and
``-c``/``--constraint`` lines recursively (paths relative to the including
file, as pip reads them), detects cycles, and returns one entry per file with
its sha256 and the file that included it, so a changed include is reported as
``requirements/common.txt (included from requirements.txt) changed``.
Only what decides the installed set is followed; pip itself parses the rest.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

_INCLUDE = re.compile(r"^(?P<opt>-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+|(?<=-r)|(?<=-c))(?P<path>\S.*)$")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_HASH = re.compile(r"(^|\s)--hash[=\s]")


def logical_lines(text):
    """(first line number, logical line) pairs: continuations joined, comments and blanks dropped."""
    pending, start = "", None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw
        # A comment starts at '#' at line start or after whitespace (pip's rule); URLs keep their fragments.
        line = re.sub(r"(^|\s+)#.*$", "", line)
        if start is None:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        stripped = pending.strip()
        if stripped:
            yield start, stripped
        pending, start = "", None
    if pending.strip():
        yield start, pending.strip()


class RequirementFile:
    def __init__(self, rel, sha256, via, kind):
        self.rel = rel
        self.sha256 = sha256
        self.via = via
        self.kind = kind

    def as_input(self):
        return {"sha256": self.sha256, "via": self.via, "kind": self.kind}


class Walk:
    """The result of walking requirement files."""

    def __init__(self):
        self.files = {}
        self.urls = []
        self.hashes = False

    def inputs(self):
        return dict((rel, entry.as_input()) for rel, entry in sorted(self.files.items()))


def _rel(project_dir, path):
    rel = os.path.relpath(path, project_dir)
    return path if rel.startswith("..") else rel


def walk(project_dir, names, max_files=500):
    """Follow names (relative to project_dir, or absolute) and their includes; a Walk."""
    project_dir = os.path.abspath(project_dir)
    result = Walk()
    for name in names:
        path = os.path.normpath(os.path.join(project_dir, name))
        _visit(project_dir, path, None, "requirements", [], result, max_files)
    return result


def _visit(project_dir, path, via, kind, stack, result, max_files):
    rel = _rel(project_dir, path)
    if path in stack:
        chain = " -> ".join(_rel(project_dir, item) for item in stack[stack.index(path):] + [path])
        raise AppenvError("requirements_cycle", chain="%s includes itself: %s" % (rel, chain))
    if rel in result.files:
        return  # included twice on different paths (a diamond), not a cycle
    if len(result.files) >= max_files:
        raise AppenvError("requirements_invalid", path=rel, line=0,
                          detail="more than %d requirement files are included" % max_files)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        where = " (included from %s)" % via if via else ""
        if os.path.isdir(path):
            raise AppenvError("requirements_invalid", path=rel, line=0, detail="it is a directory, not a file")
        if getattr(exc, "errno", None) == 2:
            raise AppenvError("requirements_missing", path=rel, via=where)
        raise AppenvError("requirements_invalid", path=rel, line=0, detail="cannot be read: %s" % exc)
    result.files[rel] = RequirementFile(rel, hashlib.sha256(data).hexdigest(), via, kind)
    text = data.decode("utf-8", "replace")
    here = os.path.dirname(path)
    for number, line in logical_lines(text):
        if _HASH.search(line):
            result.hashes = True
        match = _INCLUDE.match(line)
        if not match:
            continue
        target = match.group("path").strip().strip("\"'")
        if not target:
            raise AppenvError("requirements_invalid", path=rel, line=number, detail="%s names no file" % match.group("opt"))
        if _URL.match(target):
            result.urls.append(target)
            continue
        child_kind = "constraints" if match.group("opt") in ("-c", "--constraint") else "requirements"
        child = os.path.normpath(os.path.join(here, os.path.expanduser(target)))
        _visit(project_dir, child, rel, child_kind, stack + [path], result, max_files)


def describe_file_changes(old, new):
    """Sentences naming the requirement files that changed, appeared or went away."""
    reasons = []

    def where(entry):
        return " (included from %s)" % entry["via"] if entry.get("via") else ""

    for rel in sorted(set(old) | set(new)):
        before, after = old.get(rel), new.get(rel)
        if before is None:
            reasons.append("%s%s is new" % (rel, where(after)))
        elif after is None:
            reasons.append("%s%s is no longer used" % (rel, where(before)))
        elif before.get("sha256") != after.get("sha256"):
            reasons.append("%s%s changed" % (rel, where(after)))
    return reasons
