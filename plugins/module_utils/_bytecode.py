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

from ansible_collections.appenv.python.plugins.module_utils import _layer as _layer_base
from ansible_collections.appenv.python.plugins.module_utils._fingerprint import digest, read_runtime_fingerprint
from ansible_collections.appenv.python.plugins.module_utils._layer_overlay import overlay_relative
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._host import cpu_count

INVALIDATION_MODES = ("timestamp", "checked-hash", "unchecked-hash")

# Runs inside the target interpreter: stdin is {"files": [...], "mode": ..., "levels": [...], "workers": N}.
_COMPILER = r"""
import json, os, sys, py_compile
from concurrent.futures import ProcessPoolExecutor
job = json.load(sys.stdin)
mode = getattr(py_compile.PycInvalidationMode, job["mode"].upper().replace("-", "_"))
if os.environ.get("SOURCE_DATE_EPOCH") and mode == py_compile.PycInvalidationMode.TIMESTAMP:
    # A timestamp pyc records the source's mtime, which differs between checkouts: like
    # py_compile itself, reproducible builds get hash-based pycs.
    mode = py_compile.PycInvalidationMode.CHECKED_HASH
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


def pyc_paths(source, cache_tag, levels):
    """The pycs of source for cache_tag and levels (importlib.util.cache_from_source's names)."""
    directory, name = os.path.split(source)
    stem = name[:-3]
    for level in levels:
        suffix = "" if level == 0 else ".opt-%d" % level
        yield os.path.join(directory, "__pycache__", "%s.%s%s.pyc" % (stem, cache_tag, suffix))


_pyc_paths = pyc_paths
_PYC_TAIL = re.compile(r"^[A-Za-z0-9_-]+(\.opt-[0-9]+)?\.pyc$")


def pyc_files_of(source):
    """Every pyc of source in its __pycache__, whatever the interpreter and level."""
    directory, name = os.path.split(source)
    cache = os.path.join(directory, "__pycache__")
    prefix = name[:-3] + "."
    try:
        names = os.listdir(cache)
    except OSError:
        return []
    return [os.path.join(cache, pyc) for pyc in sorted(names)
            if pyc.startswith(prefix) and _PYC_TAIL.match(pyc[len(prefix):])]


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


def _runtime_key(interpreter):
    """The python_runtime fingerprint key of the runtime interpreter belongs to (venvs resolve to it), or None."""
    record, _problem = read_runtime_fingerprint(os.path.dirname(os.path.dirname(os.path.realpath(interpreter))))
    return record["key"] if record else None


class PycLayerSpec(_layer_base.LayerSpec):
    """The .pyc files of a set of trees. Recompiling is safe to redo, so no roll-back is needed.

    An overlay layer: the pycs of the listed sources are its files. Its fingerprint holds each
    source's mtime (cheap to compare on every run), which differs between checkouts of the same
    code, so its layer cache key holds the sources' content instead (and their size and mtime in
    seconds for timestamp pycs, which record both), with the interpreter's identity.
    """

    kind = "pyc_compile"
    format_version = 1
    strategy = "none"
    overlay = True
    labels = {"invalidation_mode": "Invalidation mode", "optimize": "Optimisation levels",
              "python": "Python version", "trees": "Trees", "exclude": "Excluded paths"}

    def __init__(self, trees, interpreter, invalidation_mode="checked-hash", optimize_levels=(0,), workers=0,
                 exclude=(), remove_orphans=True, state_dir="/var/lib/appenv/pyc", env=None):
        self.trees = sorted(os.path.abspath(tree) for tree in trees)
        self.interpreter = interpreter
        self.invalidation_mode = invalidation_mode
        self.workers = workers
        self.exclude = list(exclude)
        self.remove_orphans_enabled = remove_orphans
        self.env = env
        for tree in self.trees:
            if not os.path.isdir(tree):
                raise AppenvError("bad_argument", option="paths", module="pyc_compile",
                                  detail="%s is not a directory on the host" % tree)
        self.listing = list_tree(self.trees, self.exclude)
        self.minor = interpreter_minor(interpreter)
        self.levels = sorted(set(optimize_levels))
        wanted = {
            "trees": self.trees,
            "exclude": self.exclude,
            "sources": listing_digest(self.listing),
            "invalidation_mode": invalidation_mode,
            "optimize": self.levels,
            "python": self.minor,
        }
        name = hashlib.sha256("\0".join(self.trees).encode("utf-8")).hexdigest()[:16]
        super(PycLayerSpec, self).__init__(self.trees[0], wanted, state_path=os.path.join(state_dir, name + ".json"))
        self._lock = os.path.join(state_dir, name + ".lock")

    def lock_path(self):
        return self._lock

    # -- the layer cache ---------------------------------------------------------------------
    def effective_mode(self):
        """The mode the pycs are written in: timestamp becomes checked-hash under SOURCE_DATE_EPOCH."""
        epoch = (self.env or {}).get("SOURCE_DATE_EPOCH") or os.environ.get("SOURCE_DATE_EPOCH")
        if self.invalidation_mode == "timestamp" and epoch not in (None, ""):
            return "checked-hash"
        return self.invalidation_mode

    def interpreter_identity(self):
        key = _runtime_key(self.interpreter)
        if key:
            return {"runtime": key}
        real = os.path.realpath(self.interpreter)
        return {"interpreter": real, "sha256": _layer_base.file_sha256(real)}

    def cache_inputs(self):
        mode = self.effective_mode()
        sources = {}
        for path, (size, mtime_ns) in self.listing.items():
            sources[path] = [_layer_base.file_sha256(path)]
            if mode == "timestamp":
                sources[path] += [size, mtime_ns // 1000000000]
        inputs = dict((key, value) for key, value in self.wanted.items() if key != "sources")
        inputs.update(sources=digest(sources), invalidation_mode=mode,
                      interpreter=self.interpreter_identity())
        return inputs

    def cache_key(self):
        return digest({"kind": self.kind, "layer_version": self.format_version, "path": self.path,
                       "cache_inputs": self.cache_inputs()})

    def overlay_root(self):
        if len(self.trees) == 1:
            return self.trees[0]
        return os.path.commonpath(self.trees)

    def overlay_files(self, facts):
        paths = []
        for source in self.listing:
            paths.extend(pyc_paths(source, self.cache_tag, self.levels))
        return overlay_relative(self.overlay_root(), paths)

    def overlay_prunable(self, directory):
        return os.path.basename(directory) == "__pycache__"

    def restored(self, record):
        """The record was made on the host that compiled: take this host's listing (same content)."""
        record["inputs"] = dict(self.wanted)
        removed = remove_orphans(self.trees) if self.remove_orphans_enabled else 0
        record["facts"].update(listing=self.listing, compiled=0, removed=removed)

    @property
    def cache_tag(self):
        return "cpython-" + self.minor.replace(".", "")

    def compare(self, stored, wanted):
        old = stored.get("inputs", {})
        others = dict((key, value) for key, value in wanted.items() if key != "sources")
        reasons = _layer_base.describe_changes(dict((k, v) for k, v in old.items() if k != "sources"), others,
                                               self.labels)
        if reasons:
            return _layer_base.ACTION_RECREATED, reasons
        if old.get("sources") != wanted["sources"]:
            listing = stored.get("facts", {}).get("listing", {})
            return _layer_base.ACTION_UPDATED, [describe_listing_changes(listing, self.listing)]
        return _layer_base.ACTION_KEPT, []

    def verify(self, stored):
        missing = missing_pycs(self.listing, self.cache_tag, self.levels)
        failed = set(item["file"] for item in stored.get("facts", {}).get("failed", []))
        missing = [path for path in missing
                   if os.path.join(os.path.dirname(os.path.dirname(path)), os.path.basename(path).split(".")[0] + ".py")
                   not in failed]
        if missing:
            return ["%d pyc file(s) missing (%s)" % (len(missing), ", ".join(missing[:3]))]
        return []

    def _compile(self, runner, files):
        removed = remove_orphans(self.trees) if self.remove_orphans_enabled else 0
        result = {"compiled": 0, "failed": []}
        if files:
            result = compile_trees(runner, self.interpreter, self.trees, self.wanted["invalidation_mode"],
                                   self.levels, self.workers, env=self.env, files=files)
        return {"listing": self.listing, "compiled": result["compiled"], "failed": result["failed"],
                "removed": removed, "cache_tag": self.cache_tag}

    def build(self, target, runner):
        return self._compile(runner, sorted(self.listing))

    def update(self, stored, runner):
        old = stored.get("facts", {}).get("listing", {})
        return self._compile(runner, sorted(path for path, stat in self.listing.items() if old.get(path) != stat))


def reproducible_env(epoch):
    """The environment of a compile reproducible at epoch (pyc_compile's source_date_epoch); None without one."""
    return {"SOURCE_DATE_EPOCH": epoch} if epoch is not None else None


def run_pyc_compile(params, runner, check_mode=False, diff=False, cache=None):
    """The module pyc_compile: its parameters in, its result out."""
    env = reproducible_env(params["source_date_epoch"])
    missing = [path for path in params["paths"] if not os.path.isdir(path)]
    if check_mode and (missing or not os.path.exists(params["interpreter"])):
        # An earlier task of the play would create them: predict a full compile.
        return {"changed": True, "action": _layer_base.ACTION_CREATED, "compiled": 0, "removed": 0,
                "compile_errors": [], "sources": 0, "layer": params["paths"][0], "fingerprint": None,
                "reasons": ["%s does not exist yet (check mode: an earlier task would create it); everything "
                            "would be compiled" % ", ".join(missing or [params["interpreter"]])]}
    spec = PycLayerSpec(params["paths"], params["interpreter"], invalidation_mode=params["invalidation_mode"],
                        optimize_levels=params["optimize"], workers=params["workers"], exclude=params["exclude"],
                        remove_orphans=params["remove_orphans"], state_dir=params["state_dir"], env=env)
    layer = _layer_base.converge(spec, runner, check_mode=check_mode, lock_timeout=params["lock_timeout"], cache=cache)
    result = layer.as_result(diff=diff)
    facts = layer.facts if layer.action != _layer_base.ACTION_KEPT else {}
    result.update(compiled=facts.get("compiled", 0), removed=facts.get("removed", 0),
                  compile_errors=facts.get("failed", []), sources=len(spec.listing))
    return result
