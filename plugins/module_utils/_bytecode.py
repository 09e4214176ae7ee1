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

from ansible_collections.appenv.python.plugins.module_utils import _privilege
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._host import cpu_count

INVALIDATION_MODES = ("timestamp", "checked-hash", "unchecked-hash")

# Runs inside the target interpreter: stdin is {"files": [...], "mode": ..., "levels": [...], "workers": N,
# "reuse": bool}. With reuse, a pyc already beside a source that the import system would load for it (a timestamp
# pyc whose recorded mtime and size are the source's, or a hash-based pyc whose hash is the source's) keeps its
# code and gets the header of the mode asked for (the hash of the source read now), instead of a compile: the code
# is what that interpreter would run anyway. Anything else is compiled.
_COMPILER = r"""
import importlib.util, json, os, sys, py_compile
from concurrent.futures import ProcessPoolExecutor
from importlib._bootstrap_external import _calc_mode, _write_atomic
job = json.load(sys.stdin)
mode = getattr(py_compile.PycInvalidationMode, job["mode"].upper().replace("-", "_"))
if os.environ.get("SOURCE_DATE_EPOCH") and mode == py_compile.PycInvalidationMode.TIMESTAMP:
    # A timestamp pyc records the source's mtime, which differs between checkouts: like
    # py_compile itself, reproducible builds get hash-based pycs.
    mode = py_compile.PycInvalidationMode.CHECKED_HASH
MAGIC = importlib.util.MAGIC_NUMBER
def u32(value):
    return (value & 0xFFFFFFFF).to_bytes(4, "little")
def reuse(path, level):
    cfile = importlib.util.cache_from_source(path, optimization=level if level else "")
    try:
        with open(cfile, "rb") as fh:
            data = fh.read()
        with open(path, "rb") as fh:
            source = fh.read()
        st = os.stat(path)
    except OSError:
        return False
    if len(data) < 16 or data[:4] != MAGIC:
        return False
    flags, stamp = int.from_bytes(data[4:8], "little"), u32(int(st.st_mtime)) + u32(st.st_size)
    source_hash = importlib.util.source_hash(source)
    if not ((flags == 0 and data[8:16] == stamp) or (flags in (1, 3) and data[8:16] == source_hash)):
        return False
    if mode == py_compile.PycInvalidationMode.TIMESTAMP:
        header = MAGIC + u32(0) + stamp
    else:
        header = MAGIC + u32(3 if mode == py_compile.PycInvalidationMode.CHECKED_HASH else 1) + source_hash
    if data[:16] != header:
        _write_atomic(cfile, header + data[16:], _calc_mode(path))
    return True
def one(path):
    errors, reused = [], 0
    for level in job["levels"]:
        try:
            if job.get("reuse") and reuse(path, level):
                reused += 1
                continue
            py_compile.compile(path, doraise=True, optimize=level, invalidation_mode=mode)
        except py_compile.PyCompileError as exc:
            errors.append(str(exc.msg).strip().splitlines()[-1][:300])
            break
        except (OSError, UnicodeError, ValueError) as exc:
            errors.append(str(exc)[:300])
            break
    return path, errors, reused
files = job["files"]
if job.get("reuse"):
    # Reusing costs a read and a hash: done here, only what must be compiled goes to the pool.
    done = [one(path) for path in files]
    files = [path for path, errs, reused in done if not errs and reused < len(job["levels"])]
    job["reuse"] = False
    done = [item for item in done if item[1] or item[2] == len(job["levels"])]
else:
    done = []
if job["workers"] > 1 and len(files) > 1:
    with ProcessPoolExecutor(job["workers"]) as pool:
        results = done + list(pool.map(one, files, chunksize=max(1, len(files) // (job["workers"] * 8))))
else:
    results = done + [one(path) for path in files]
failed = [{"file": path, "error": errs[0]} for path, errs, _reused in results if errs]
print(json.dumps({"compiled": len(results) - len(failed), "failed": failed, "cache_tag": sys.implementation.cache_tag,
                  "reused": sum(1 for _path, errs, reused in results if not errs and reused == len(job["levels"]))}))
"""


def _walk_sources(trees, exclude=(), checked=None):
    """Every .py source under trees. checked: a dict, to check each directory a pyc would be written in
    (_privilege.check_pyc_dir: no linked __pycache__; as root, no directory another user can write)."""
    patterns = [re.compile(pattern) for pattern in exclude]
    for tree in trees:
        for directory, dirnames, filenames in os.walk(tree):
            dirnames[:] = sorted(name for name in dirnames if name != "__pycache__")
            sources = [os.path.join(directory, name) for name in sorted(filenames) if name.endswith(".py")]
            sources = [path for path in sources if not any(pattern.search(path) for pattern in patterns)]
            if sources and checked is not None:
                _privilege.check_pyc_dir(tree, directory, checked)
            yield from sources


def list_tree(trees, exclude=(), warnings=None):
    """{path: [size, mtime_ns]} of every .py source under trees (in-process), each directory checked.

    As root, a source that links outside the trees is skipped (a warning in warnings): its pyc would copy a
    file only root may read into a tree others may read.
    """
    listing = {}
    root = _privilege.running_as_root()
    for path in _walk_sources(trees, exclude, checked={}):
        if root and os.path.islink(path) and not _privilege.inside(os.path.realpath(path), trees):
            if warnings is not None:
                warnings.append("%s links outside the trees (to %s): not compiled as root" % (
                    path, os.path.realpath(path)))
            continue
        info = os.stat(path)
        listing[path] = [info.st_size, info.st_mtime_ns]
    return listing


def listing_digest(listing):
    return hashlib.sha256(json.dumps(listing, sort_keys=True).encode("utf-8")).hexdigest()


def pyc_paths(source, cache_tag, levels):
    """The pycs of source for cache_tag and levels (importlib.util.cache_from_source's names)."""
    directory, name = os.path.split(source)
    stem = name[:-3]
    for level in levels:
        suffix = "" if level == 0 else ".opt-%d" % level
        yield os.path.join(directory, "__pycache__", "%s.%s%s.pyc" % (stem, cache_tag, suffix))


_pyc_paths = pyc_paths
_PYC_TAIL = re.compile(r"^[A-Za-z0-9_-]+(\.opt-[0-9]+)?\.pyc$")


def pyc_files_of(source, listings=None):
    """Every pyc of source in its __pycache__, whatever the interpreter and level.

    listings: {__pycache__ directory: its sorted names} shared by the calls for one tree's sources, so that each
    directory is listed once, not once per source in it.
    """
    directory, name = os.path.split(source)
    cache = os.path.join(directory, "__pycache__")
    prefix = name[:-3] + "."
    listings = {} if listings is None else listings
    if cache not in listings:
        try:
            listings[cache] = sorted(os.listdir(cache))
        except OSError:
            listings[cache] = []
    return [os.path.join(cache, pyc) for pyc in listings[cache]
            if pyc.startswith(prefix) and _PYC_TAIL.match(pyc[len(prefix):])]


def delete_pycs(trees, keep_tag=None):
    """Delete every .pyc under trees, but (keep_tag) the optimization level 0 pycs of that cache tag in __pycache__
    whose source is beside it; returns how many were deleted."""
    removed = 0
    for tree in trees:
        for directory, _dirnames, filenames in os.walk(tree):
            in_cache = os.path.basename(directory) == "__pycache__"
            for name in filenames:
                if not name.endswith(".pyc"):
                    continue
                stem, _dot, tail = name.partition(".")
                if keep_tag and in_cache and tail == keep_tag + ".pyc" and \
                        os.path.isfile(os.path.join(os.path.dirname(directory), stem + ".py")):
                    continue
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
                  exclude=(), env=None, files=None, reuse=False):
    """Compile every source under trees with interpreter. Returns {compiled, failed, cache_tag, reused}.

    reuse: keep the code of the pycs the interpreter would load for a source as it is (shipped with a runtime's
    archive) under the header of invalidation_mode, instead of compiling it again (see _COMPILER)."""
    if invalidation_mode not in INVALIDATION_MODES:
        raise AppenvError("bad_argument", option="invalidation_mode", module="pyc_compile",
                          detail="%r is not one of %s" % (invalidation_mode, ", ".join(INVALIDATION_MODES)))
    files = sorted(files if files is not None else _walk_sources(trees, exclude))
    job = {"files": files, "mode": invalidation_mode, "levels": list(optimize_levels),
           "workers": workers if workers and workers > 0 else cpu_count(), "reuse": bool(reuse)}
    result = runner.run([interpreter, "-I", "-c", _COMPILER], what="Compiling bytecode", env=env,
                        stdin=json.dumps(job))
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AppenvError("internal_error", detail="the bytecode compiler printed no result: %s"
                          % runner.mask(result.output[-1000:]))


# --- the pyc_compile layer -----------------------------------------------------------

_PYTHON_NAME = re.compile(r"^python(\d+\.\d+)$")


def interpreter_minor(interpreter):
    """'3.11' for an interpreter, found without running it (a no-op starts no process)."""
    real = os.path.realpath(interpreter)
    match = _PYTHON_NAME.match(os.path.basename(real))
    if match:
        return match.group(1)
    if not (os.path.basename(interpreter).startswith("python") and os.path.basename(real).startswith("python")):
        raise AppenvError("interpreter_unknown", interpreter=interpreter)
    bin_dir = os.path.dirname(os.path.abspath(interpreter))
    for candidate in (os.path.join(bin_dir, "..", "pyvenv.cfg"), os.path.join(os.path.dirname(real), "..", "pyvenv.cfg")):
        try:
            with open(candidate) as handle:
                for line in handle:
                    key, _sep, value = line.partition("=")
                    if key.strip() in ("version", "version_info"):
                        return ".".join(value.strip().split(".")[:2])
        except (IOError, OSError):
            pass
    for root in (os.path.dirname(bin_dir), os.path.dirname(os.path.dirname(real))):
        try:
            minors = [name[6:] for name in os.listdir(os.path.join(root, "lib")) if _PYTHON_NAME.match(name)]
        except OSError:
            continue
        if len(minors) == 1:
            return minors[0]
    raise AppenvError("interpreter_unknown", interpreter=interpreter)


def describe_listing_changes(old, new, limit=3):
    """'3 source files changed in /app (added: a.py; changed: b.py; removed: c.py)'."""
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(path for path in set(old) & set(new) if old[path] != new[path])

    def names(paths):
        shown = ", ".join(os.path.basename(path) for path in paths[:limit])
        return shown + (", …" if len(paths) > limit else "")

    parts = ["%s: %s" % (label, names(paths)) for label, paths in
             (("added", added), ("changed", changed), ("removed", removed)) if paths]
    total = len(added) + len(removed) + len(changed)
    return "%d source file%s changed (%s)" % (total, "" if total == 1 else "s", "; ".join(parts))
