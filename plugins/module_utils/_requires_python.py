# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Python versions an app's project or lock file accepts, checked against the runtime before installing.

It runs on the target (stdlib only, no TOML reader before Python 3.11), so it
reads the few lines it needs from machine-written files by pattern:
``uv.lock``'s top-level ``requires-python``, ``poetry.lock``'s
``[metadata] python-versions``, ``Pipfile.lock``'s ``_meta.requires``
(JSON), and ``pyproject.toml``'s ``project.requires-python`` or
``[tool.poetry.dependencies] python``. The specifiers are the common forms of
PEP 440 (``>=``, ``<=``, ``>``, ``<``, ``==``, ``!=``, ``~=``, wildcards
``3.12.*``) and poetry's (``^3.11``, ``~3.11``, a bare version, ``||``).
A form it does not know is not guessed at: the check is skipped for that
file (the installer still reads it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

_CLAUSE = re.compile(r"^(===|==|!=|~=|>=|<=|>|<|\^|~|=)?\s*v?(\d+(?:\.\d+)*)(\.\*)?$")
_KEY_LINE = re.compile(r"""^\s*([A-Za-z0-9_.-]+|"[^"]+")\s*=\s*(["'])(.*?)\2\s*(?:#.*)?$""")


def _parts(text):
    return [int(part) for part in text.split(".")]


def _pad(parts, size):
    return list(parts) + [0] * (size - len(parts))


def _cmp(left, right):
    size = max(len(left), len(right))
    left, right = _pad(left, size), _pad(right, size)
    return (left > right) - (left < right)


def _clause_allows(clause, version):
    """True/False for one clause; None when the form is not one this module reads."""
    clause = clause.strip()
    if clause in ("*", ""):
        return True
    match = _CLAUSE.match(clause)
    if not match:
        return None
    op, text, wildcard = match.group(1) or "==", match.group(2), match.group(3)
    want = _parts(text)
    if wildcard:
        if op not in ("==", "!=", "="):
            return None
        prefix = version[:len(want)] == _pad(want, len(want))
        return prefix if op != "!=" else not prefix
    order = _cmp(version, want)
    if op in ("==", "=", "==="):
        return order == 0
    if op == "!=":
        return order != 0
    if op == ">=":
        return order >= 0
    if op == "<=":
        return order <= 0
    if op == ">":
        return order > 0
    if op == "<":
        return order < 0
    if op == "~=":
        if len(want) < 2:
            return None
        return order >= 0 and version[:len(want) - 1] == want[:-1]
    if op == "~":  # poetry: ~3.11 -> >=3.11,<3.12; ~3 -> >=3,<4
        upper = want[:2] if len(want) >= 2 else want[:1]
        return order >= 0 and version[:len(upper)] == upper
    # poetry ^: the left-most non-zero part stays
    keep = next((index for index, part in enumerate(want) if part != 0), len(want) - 1) + 1
    return order >= 0 and version[:keep] == want[:keep]


def allows(specifier, version):
    """Whether the Python version (text, e.g. '3.13.1') meets specifier; None when the form is not read."""
    have = _parts(re.match(r"\d+(?:\.\d+)*", version).group(0))
    answers = []
    for alternative in specifier.split("||"):
        alternative = re.sub(r"([<>=!~^])\s+", r"\1", alternative.strip())
        results = [_clause_allows(clause, have) for clause in re.split(r"[,\s]+", alternative) if clause]
        if any(result is None for result in results):
            return None
        answers.append(all(results))
    return any(answers)


def _toml_value(path, section, key):
    """The string value of key in [section] (None: the top level) of a TOML file, by pattern; None if absent."""
    try:
        with open(path, errors="replace") as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError):
        return None
    current = None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            current = stripped.strip("[]").strip()
            continue
        if current != section:
            continue
        match = _KEY_LINE.match(line)
        if match and match.group(1).strip('"') == key:
            return match.group(3)
    return None


def _pipfile_lock(path):
    try:
        with open(path) as handle:
            requires = json.load(handle).get("_meta", {}).get("requires", {})
    except (IOError, OSError, ValueError, AttributeError):
        return None
    if requires.get("python_full_version"):
        return "==" + requires["python_full_version"]
    if requires.get("python_version"):
        return "==%s.*" % requires["python_version"]
    return None


def requirements(project_dir, files):
    """[(file, specifier)] the app's files state, in the order they are checked (lock first)."""
    readers = {
        "uv.lock": lambda path: _toml_value(path, None, "requires-python"),
        "poetry.lock": lambda path: _toml_value(path, "metadata", "python-versions"),
        "Pipfile.lock": _pipfile_lock,
        "pyproject.toml": lambda path: (_toml_value(path, "project", "requires-python")
                                        or _toml_value(path, "tool.poetry.dependencies", "python")),
    }
    found = []
    for name in files:
        if name in readers:
            value = readers[name](os.path.join(project_dir, name))
            if value:
                found.append((name, value))
    return found


def excluded(project_dir, files, version):
    """(file, specifier) of the first of files that excludes the Python version, or None."""
    for name, specifier in requirements(project_dir, files):
        if allows(specifier, version) is False:
            return name, specifier
    return None


def refuse_excluded(project_dir, installer, runtime):
    """deps_python_excluded when the installer's lock or project file excludes the runtime's Python version."""
    found = excluded(project_dir, (installer.lock_file, installer.project_file), runtime.version)
    if found:
        raise AppenvError("deps_python_excluded", file=os.path.join(project_dir, found[0]), specifier=found[1],
                          version=runtime.version, runtime=runtime.root, installer=installer.name)
