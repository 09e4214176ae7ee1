# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pyc_compile's layer: the pycs of a set of trees, fingerprinted by the tree listing, the invalidation mode,
the optimisation levels and the identity of the interpreter that compiles them (a python_runtime's key, or
_interpreter's identity of any other CPython), with its state (fingerprint, lock, overlay journal) in a private
state directory. The compiling itself, the listing and the pyc paths are _bytecode's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

from ansible_collections.appenv.python.plugins.module_utils import _interpreter, _layer as _layer_base
from ansible_collections.appenv.python.plugins.module_utils import _privilege
from ansible_collections.appenv.python.plugins.module_utils._bytecode import (
    list_tree, listing_digest, pyc_paths, remove_orphans, missing_pycs, compile_trees, interpreter_minor, describe_listing_changes)
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._fingerprint import digest, read_runtime_fingerprint
from ansible_collections.appenv.python.plugins.module_utils._layer_overlay import overlay_relative
from ansible_collections.appenv.python.plugins.module_utils._upstream import predicted_runtime


def _runtime_key(interpreter):
    """The python_runtime fingerprint key of the runtime interpreter belongs to (venvs resolve to it), or None."""
    record, _problem = read_runtime_fingerprint(os.path.dirname(os.path.dirname(os.path.realpath(interpreter))))
    return record["key"] if record else None


def pyc_state_files(trees, state_dir):
    """(fingerprint, lock file) of the pycs of trees, in state_dir."""
    name = hashlib.sha256("\0".join(sorted(os.path.abspath(tree) for tree in trees)).encode("utf-8")).hexdigest()[:16]
    return os.path.join(state_dir, name + ".json"), os.path.join(state_dir, name + ".lock")


def identity_of(interpreter, runner, recorded=None):
    """What pyc_compile fingerprints of its interpreter: a python_runtime's key, else _interpreter's identity.

    Without a runner (callers that only read) a foreign interpreter is named by its real path and sha256.
    """
    key = _runtime_key(interpreter)
    if key:
        return {"runtime": key}
    if runner is None:
        real = os.path.realpath(interpreter)
        return {"path": real, "sha256": _layer_base.file_sha256(real)}
    return _interpreter.identify(interpreter, runner, "pyc_compile", recorded)


def describe_identity_change(old, new, interpreter):
    """Why the bytecode must be compiled again for another interpreter ([] when it is the same one)."""
    if old == new:
        return []
    if old and "sha256" in old and "sha256" in new:
        return _interpreter.describe_change(old, new, interpreter)
    if old is None:
        return ["the fingerprint did not name the interpreter's identity yet (only its X.Y): %s is compiled "
                "again once" % interpreter]
    return ["the interpreter %s is not the one the bytecode was compiled by (another runtime or interpreter)"
            % interpreter]


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
                 exclude=(), remove_orphans=True, state_dir="/var/lib/appenv/pyc", env=None, runner=None,
                 runtime=None, check_mode=False):
        """runtime: in check mode, the runtime record an upstream task predicts for interpreter (_upstream).

        check_mode: the state directory is made (0700) by a real run only."""
        self.trees = sorted(os.path.abspath(tree) for tree in trees)
        self.predicted_runtime = runtime
        self.interpreter = interpreter
        self.invalidation_mode = invalidation_mode
        self.workers = workers
        self.exclude = list(exclude)
        self.remove_orphans_enabled = remove_orphans
        self.env = env
        self.warnings = []
        for tree in self.trees:
            if not os.path.isdir(tree):
                raise AppenvError("bad_argument", option="paths", module="pyc_compile",
                                  detail="%s is not a directory on the host" % tree)
            # As root: never write into a tree, nor run an interpreter (its .pth files), another user can write.
            _privilege.check_tree(tree, "compile the bytecode of %s" % tree)
        _privilege.check_interpreter(interpreter)
        if not check_mode:
            # The running user's own state directory (0700; an existing one is checked): check mode writes nothing.
            _privilege.make_private_dir(state_dir)
        self.listing = list_tree(self.trees, self.exclude, self.warnings)
        state_path, self._lock = pyc_state_files(self.trees, state_dir)
        if runtime:
            self.identity = {"runtime": runtime["key"]}
            self.minor = ".".join(runtime["inputs"]["python_version"].split(".")[:2])
        else:
            self.identity = identity_of(interpreter, runner, _interpreter.recorded_identity(state_path))
            self.minor = ".".join(self.identity["version"].split(".")[:2]) if "version" in self.identity \
                else interpreter_minor(interpreter)
        self.levels = sorted(set(optimize_levels))
        wanted = {
            "trees": self.trees,
            "exclude": self.exclude,
            "sources": listing_digest(self.listing),
            "invalidation_mode": invalidation_mode,
            "optimize": self.levels,
            "python": self.minor,
            "interpreter": self.identity,
        }
        super(PycLayerSpec, self).__init__(self.trees[0], wanted, state_path=state_path)

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
        if "runtime" in self.identity:
            return self.identity
        return dict((key, self.identity.get(key)) for key in _interpreter.IDENTITY_KEYS)

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

    def overlay_unexpected(self, files):
        """A cached record may list only the pycs of this host's sources."""
        root = self.overlay_root().rstrip("/") + "/"
        expected = set(path[len(root):] for source in self.listing
                       for path in pyc_paths(source, self.cache_tag, self.levels) if path.startswith(root))
        return [rel for rel in files if rel not in expected]

    def restored(self, record):
        """The record was made on the host that compiled: take this host's listing (same content)."""
        record["inputs"] = dict(self.wanted)
        removed = remove_orphans(self.trees) if self.remove_orphans_enabled else 0
        record["facts"].update(listing=self.listing, compiled=0, removed=removed)

    @property
    def cache_tag(self):
        return self.identity.get("cache_tag") or "cpython-" + self.minor.replace(".", "")

    def compare(self, stored, wanted):
        old = stored.get("inputs", {})
        skip = ("sources", "interpreter")
        others = dict((key, value) for key, value in wanted.items() if key not in skip)
        reasons = _layer_base.describe_changes(dict((k, v) for k, v in old.items() if k not in skip), others,
                                               self.labels)
        reasons += describe_identity_change(old.get("interpreter"), wanted["interpreter"], self.interpreter)
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
        """The changed sources, and those whose pycs went missing (a __pycache__ removed with the change)."""
        old = stored.get("facts", {}).get("listing", {})
        return self._compile(runner, sorted(
            path for path, stat in self.listing.items() if old.get(path) != stat or
            not all(os.path.exists(pyc) for pyc in pyc_paths(path, self.cache_tag, self.levels))))


def reproducible_env(epoch):
    """The environment of a compile reproducible at epoch (pyc_compile's source_date_epoch); None without one."""
    return {"SOURCE_DATE_EPOCH": epoch} if epoch is not None else None


def run_pyc_compile(params, runner, check_mode=False, diff=False, cache=None):
    """The module pyc_compile: its parameters in, its result out."""
    env = reproducible_env(params["source_date_epoch"])
    missing = [path for path in params["paths"] if not os.path.isdir(path)]
    predicted, _action = predicted_runtime(params.get("upstream") if check_mode else None)
    if check_mode and (missing or (predicted is None and not os.path.exists(params["interpreter"]))):
        # An earlier task of the play would create them: predict a full compile, in the real run's words when
        # no pycs were compiled for these trees yet.
        fresh = not os.path.exists(pyc_state_files(params["paths"], params["state_dir"])[0])
        first = sorted(os.path.abspath(path) for path in params["paths"])[0]
        return {"changed": True, **_layer_base.action_keys(_layer_base.ACTION_CREATED), "compiled": 0, "removed": 0,
                "compile_errors": [], "sources": 0, "layer": first, "fingerprint": None,
                "reasons": ["no %s layer at %s yet" % (PycLayerSpec.kind, first)] if fresh else
                ["%s does not exist yet (check mode: an earlier task would create it); everything would be "
                 "compiled" % ", ".join(missing or [params["interpreter"]])]}
    spec = PycLayerSpec(params["paths"], params["interpreter"], invalidation_mode=params["invalidation_mode"],
                        optimize_levels=params["optimize"], workers=params["bytecode_workers"], exclude=params["exclude"],
                        remove_orphans=params["remove_orphans"], state_dir=params["state_dir"], env=env,
                        runner=runner, runtime=predicted, check_mode=check_mode)
    layer = _layer_base.converge(spec, runner, check_mode=check_mode, lock_timeout=params["lock_timeout"], cache=cache,
                                 force=params.get("force", False))
    result = layer.as_result(diff=diff)
    facts = layer.facts if layer.action != _layer_base.ACTION_KEPT else {}
    result.update(compiled=facts.get("compiled", 0), removed=facts.get("removed", 0),
                  compile_errors=facts.get("failed", []), sources=len(spec.listing))
    if spec.warnings:
        result["warnings"] = result.get("warnings", []) + spec.warnings
    return result
