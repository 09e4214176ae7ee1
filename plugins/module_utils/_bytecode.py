# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bytecode of trees, compiled by the interpreter that will run it.

.pyc magic numbers belong to one Python version, so compilation runs in the
target interpreter (one subprocess, given the file list on stdin, compiling in
parallel with a process pool), while listing, orphan removal and checks run
in-process so that a no-op starts no process at all.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._host import cpu_count

INVALIDATION_MODES = ("timestamp", "checked-hash", "unchecked-hash")

# Runs inside the target interpreter: stdin is {"files": [...], "mode": ..., "levels": [...], "workers": N}.
_COMPILER = r"""
import json, sys, py_compile
from concurrent.futures import ProcessPoolExecutor
job = json.load(sys.stdin)
mode = getattr(py_compile.PycInvalidationMode, job["mode"].upper().replace("-", "_"))
def one(path):
    errors = []
    for level in job["levels"]:
        try:
            py_compile.compile(path, doraise=True, optimize=level, invalidation_mode=mode)
        except py_compile.PyCompileError as exc:
            errors.append(str(exc.msg).strip().splitlines()[-1][:300])
            break
        except (OSError, UnicodeError, ValueError) as exc:
            errors.append(str(exc)[:300])
            break
    return path, errors
files = job["files"]
if job["workers"] > 1 and len(files) > 1:
    with ProcessPoolExecutor(job["workers"]) as pool:
        results = list(pool.map(one, files, chunksize=max(1, len(files) // (job["workers"] * 8))))
else:
    results = [one(path) for path in files]
failed = [{"file": path, "error": errs[0]} for path, errs in results if errs]
print(json.dumps({"compiled": len(files) - len(failed), "failed": failed, "cache_tag": sys.implementation.cache_tag}))
"""


def _walk_sources(trees, exclude=()):
    patterns = [re.compile(pattern) for pattern in exclude]
    for tree in trees:
        for directory, dirnames, filenames in os.walk(tree):
            dirnames[:] = sorted(name for name in dirnames if name != "__pycache__")
            for name in sorted(filenames):
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    if not any(pattern.search(path) for pattern in patterns):
                        yield path


def list_tree(trees, exclude=()):
    """{path: [size, mtime_ns]} of every .py source under trees (in-process)."""
    listing = {}
    for path in _walk_sources(trees, exclude):
        info = os.stat(path)
        listing[path] = [info.st_size, info.st_mtime_ns]
    return listing


def listing_digest(listing):
    return hashlib.sha256(json.dumps(listing, sort_keys=True).encode("utf-8")).hexdigest()


def _pyc_paths(source, cache_tag, levels):
    directory, name = os.path.split(source)
    stem = name[:-3]
    for level in levels:
        suffix = "" if level == 0 else ".opt-%d" % level
        yield os.path.join(directory, "__pycache__", "%s.%s%s.pyc" % (stem, cache_tag, suffix))


def delete_pycs(trees):
    """Delete every .pyc under trees; returns how many."""
    removed = 0
    for tree in trees:
        for directory, _dirnames, filenames in os.walk(tree):
            for name in filenames:
                if name.endswith(".pyc"):
                    os.unlink(os.path.join(directory, name))
                    removed += 1
    return removed


def remove_orphans(trees):
    """Delete pycs in __pycache__ whose source is gone, and __pycache__ dirs left empty."""
    removed = 0
    for tree in trees:
        for directory, dirnames, filenames in os.walk(tree, topdown=False):
            if os.path.basename(directory) != "__pycache__":
                continue
            parent = os.path.dirname(directory)
            for name in filenames:
                if name.endswith(".pyc") and not os.path.exists(os.path.join(parent, name.split(".", 1)[0] + ".py")):
                    os.unlink(os.path.join(directory, name))
                    removed += 1
            if not os.listdir(directory):
                os.rmdir(directory)
    return removed


def missing_pycs(listing, cache_tag, levels, limit=5):
    """Sources of listing whose pyc for cache_tag is missing (in-process check for verify())."""
    missing = []
    for source in sorted(listing):
        for pyc in _pyc_paths(source, cache_tag, levels):
            if not os.path.exists(pyc):
                missing.append(pyc)
                break
        if len(missing) >= limit:
            break
    return missing


def compile_trees(runner, interpreter, trees, invalidation_mode="checked-hash", optimize_levels=(0,), workers=0,
                  exclude=(), env=None, files=None):
    """Compile every source under trees with interpreter. Returns {compiled, failed, cache_tag}."""
    if invalidation_mode not in INVALIDATION_MODES:
        raise AppenvError("bad_argument", option="invalidation_mode", module="pyc_compile",
                          detail="%r is not one of %s" % (invalidation_mode, ", ".join(INVALIDATION_MODES)))
    files = sorted(files if files is not None else _walk_sources(trees, exclude))
    job = {"files": files, "mode": invalidation_mode, "levels": list(optimize_levels),
           "workers": workers if workers and workers > 0 else cpu_count()}
    result = runner.run([interpreter, "-I", "-c", _COMPILER], what="Compiling bytecode", env=env,
                        stdin=json.dumps(job))
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AppenvError("internal_error", detail="the bytecode compiler printed no result: %s"
                          % runner.mask(result.output[-1000:]))
