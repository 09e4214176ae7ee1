# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layer engine shared by every appenv.python module.

A *layer* is a directory a module builds, plus a fingerprint: the inputs it was
built from, stored as JSON. One call, ``converge(spec, ...)``, decides and does:

    stored = read fingerprint             (unreadable/foreign -> rebuild, with a reason)
    reasons = spec.compare(stored, wanted) (Heroku's shape: one function, a list of sentences)
    if not reasons: problems = spec.verify(stored)   (reality, not trust)
    kept      -> nothing runs, no subprocess is started
    created / recreated / updated -> build with roll-back, fingerprint written last

Roll-back: the old layer is moved aside, the new one is built in place (venvs
and console scripts hold absolute paths) or in a staging directory renamed into
place (relocatable trees), and the old one is deleted only after the new
fingerprint is written; on failure it is put back. A run killed half-way leaves
the moved-aside layer behind: the next run, under the same lock, restores it
first. Runs on one host are serialised by an flock next to the layer.

The options every layer module shares (_options): ``force`` rebuilds whatever
the decision (``forced``: the reason "forced", never a no-op, no layer cache
lookup); ``state: absent`` is ``remove(spec, ...)``: the layer and its
fingerprint go (``spec.removal``/``spec.remove``), "removed", or "absent" when
nothing was there.

Switched layers (``spec.switched``: venvs and target directories an app runs from) are built into a version
directory of their own beside the live one and switched in by one rename of the link at ``spec.path``
(_layer_switch); the live version is never moved aside, so a failed or killed build leaves the app untouched.

Overlay layers (``spec.overlay``: a set of files inside another directory) are
journalled and swapped by _layer_overlay; the fingerprint record (file name,
format, key, reading and writing) lives in _fingerprint.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import os
import time

from ansible_collections.appenv.python.plugins.module_utils import _layer_switch
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
# read_fingerprint and the record helpers are also reached as _layer.* by the layer specs.
from ansible_collections.appenv.python.plugins.module_utils._fingerprint import (  # noqa: F401 pylint: disable=unused-import
    FINGERPRINT_FILE, canonical_json, describe_changes, make_record, read_fingerprint, record_key, write_fingerprint,
    write_json_atomic)
# The actions and decide() are the engine's public names (modules and tests use _layer.ACTION_*, _layer.decide).
from ansible_collections.appenv.python.plugins.module_utils._layer_decide import (  # noqa: F401 pylint: disable=unused-import
    ACTION_ABSENT, ACTION_CREATED, ACTION_KEPT, ACTION_RECREATED, ACTION_REMOVED, ACTION_RESTORED, ACTION_UPDATED,
    ACTION_KEY, _aside_path, _staging_path, _state_aside_path, _state_inside_layer, action_keys, action_of, decide,
    predict, recover_interrupted)
from ansible_collections.appenv.python.plugins.module_utils._layer_lock import LayerLock
from ansible_collections.appenv.python.plugins.module_utils._layer_overlay import (
    overlay_record_files, recover_overlay, remove_tree, restore_overlay)


def file_sha256(path, chunk=1 << 20):
    """The sha256 of the file at path (or of the open descriptor path, which is closed)."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk)
            if not block:
                return sha.hexdigest()
            sha.update(block)


class LayerSpec:
    """What a module tells the engine about its layer. Subclass and override.

    kind:            the module name, also the fingerprint's kind
    path:            the layer directory
    state_path:      where the fingerprint lives (default: inside the layer)
    format_version:  bump when a layer built by older code must be rebuilt
    wanted:          the fingerprint inputs (JSON-able, host-independent)
    strategy:        "in_place" (build into path after moving the old one aside),
                     "staging" (build into a sibling, rename into place), or
                     "none" (the build step itself is safe to redo, e.g. bytecode)
    rolls_back:      "none" only: build() itself puts the old layer back when it fails (a snapshot, as
                     app_dependencies' location: system), so its fingerprint kept outside the layer comes back too
    previous:        the stored record of the layer a build replaces (set by converge before build())
    switched:        "in_place" only, fingerprint inside the layer: path is a link switched to each new version
                     built beside the live one (_layer_switch); keep_previous versions that were live stay
    version_dir:     the version a build of a switched layer is making (set by the engine)
    """

    kind = "layer"
    format_version = 1
    strategy = "in_place"
    labels = {}
    overlay = False
    rolls_back = False
    previous = None
    replaced = ()  # directories an upstream task of the chain would replace (check mode): see decide()
    switched = False
    keep_previous = _layer_switch.DEFAULT_KEEP_PREVIOUS
    version_dir = None

    def __init__(self, path, wanted, state_path=None):
        self.path = os.path.abspath(path)
        self.wanted = wanted
        self.state_path = state_path or os.path.join(self.path, FINGERPRINT_FILE)

    # -- decisions ---------------------------------------------------------
    def compare(self, stored, wanted):
        """Reasons to rebuild, given the stored record and the wanted inputs.

        Returns (action, reasons): action is ACTION_RECREATED or ACTION_UPDATED.
        """
        return ACTION_RECREATED, describe_changes(stored.get("inputs", {}), wanted, self.labels)

    def verify(self, stored):
        """Sentences naming what is wrong with the layer on disk (empty: intact).

        Must not start a subprocess: it runs on every no-op.
        """
        return []

    # -- work ------------------------------------------------------------------
    def build(self, target, runner):
        """Build the layer into target; return facts to store with the fingerprint."""
        raise NotImplementedError

    def update(self, stored, runner):
        """Additive change in place (only where equal to a clean build)."""
        raise NotImplementedError

    def restored(self, record):
        """Called after the layer was restored from the layer cache: wire it in where it lives
        outside its directory (a .pth file, say). Must be cheap and start no installer."""

    def refuse_cached(self, record):
        """A sentence when the cached layer built as record must not be restored here (too old, say), else None.

        Called with the entry's record before a restore; a refusal is a miss: the layer is built.
        """
        return None

    def removable(self):
        """The paths state: absent removes, the fingerprint first (written last, it goes first: a run killed
        half-way leaves files without one, which a present run rebuilds and an absent run removes)."""
        return [self.state_path, self.path, _aside_path(self.path), _staging_path(self.path)] + \
            _layer_switch.removable(self.path)

    def removal(self, stored):
        """Sentences naming what state: absent removes (empty: nothing is there). Reads only: check mode says them."""
        found = [path for path in self.removable() if os.path.lexists(path)]
        return ["state is absent: %s is removed" % ", ".join(found)] if found else []

    def remove(self, stored, runner):
        """Remove what removal() named (under the layer's lock)."""
        for path in self.removable():
            if os.path.lexists(path):
                remove_tree(path)

    def lock_path(self):
        parent, name = os.path.split(self.path.rstrip("/"))
        return os.path.join(parent, "." + name + ".appenv-lock")

    # -- the layer cache -----------------------------------------------------------
    def cache_key(self):
        """The key of the layer in a layer cache: everything that decides its content.

        The fingerprint's key by default. A spec whose fingerprint holds inputs that differ
        between hosts for the same content (the mtimes of a checkout) keys on the content.
        Only called when a cache is consulted, so it may read files. Callers ask layer_key(spec).
        """
        return record_key(self)

    # -- overlay layers (overlay = True): a set of files inside another directory ------
    def overlay_root(self):
        """The directory the overlay's files are relative to (their archive's root)."""
        return self.path

    def overlay_files(self, facts):
        """The files (paths relative to overlay_root, no directories) the layer is made of after a build.

        None when the layer cannot be cached (a file outside the root, say).
        """
        raise NotImplementedError

    def overlay_previous(self, stored, record):
        """The files (relative to overlay_root) a restore of record removes first: the previous version's."""
        return overlay_record_files(stored) or []

    def overlay_unexpected(self, files):
        """Those of a cached record's files (relative, inside overlay_root) this host would not make: refused."""
        return []

    def overlay_prunable(self, directory):
        """Whether a directory a restore emptied goes too (those inside the layer's path, __pycache__)."""
        return directory.startswith(self.path.rstrip("/") + "/") or os.path.basename(directory) == "__pycache__"


class LayerResult:
    live_version = None  # a switched layer: the version directory its link points at (predicted in check mode)

    def __init__(self, action, reasons, before, after, facts, path, warnings=None):
        self.action = action
        self.reasons = reasons
        self.before = before
        self.after = after
        self.facts = facts
        self.path = path
        self.warnings = warnings or []

    @property
    def changed(self):
        return self.action not in (ACTION_KEPT, ACTION_ABSENT)

    def as_result(self, diff=False):
        result = {
            "changed": self.changed,
            "reasons": self.reasons,
            "layer": self.path,
            "fingerprint": self.after.get("key") if self.after else None,
        }
        result.update(action_keys(self.action))
        if self.live_version:
            result["live_version"] = self.live_version
        if self.warnings:
            result["warnings"] = list(self.warnings)
        if diff:
            result["diff"] = {
                "before": canonical_json(self.before.get("inputs")) + "\n" if self.before else "",
                "after": canonical_json(self.after.get("inputs")) + "\n" if self.after else "",
                "before_header": "fingerprint of %s" % self.path,
                "after_header": "fingerprint of %s" % self.path,
            }
        return result


def _raise_os_error(spec, exc):
    parent = os.path.dirname(spec.path)
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        raise AppenvError("layer_no_space", kind=spec.kind, path=spec.path, detail=exc)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        raise AppenvError("layer_not_writable", kind=spec.kind, path=spec.path, parent=parent, detail=exc)
    raise AppenvError("layer_build_failed", kind=spec.kind, path=spec.path, detail=exc)


def _set_aside_fingerprint(spec, action):
    """Take away a fingerprint kept outside the layer before a build; where it waits for a roll-back, or None.

    The fingerprint is written last: until the build is done there is none, so a run killed half-way can
    never look complete. Where the old layer comes back on a failure, its fingerprint waits beside it.
    """
    if _state_inside_layer(spec) or not os.path.lexists(spec.state_path):
        return None
    if action == ACTION_UPDATED or (spec.strategy == "none" and not spec.rolls_back):
        os.unlink(spec.state_path)  # changed in place without a roll-back: a failure leaves it to be rebuilt
        return None
    aside = _state_aside_path(spec)
    os.rename(spec.state_path, aside)
    return aside


def _build(spec, action, stored, runner):
    """Build with roll-back; returns the facts of the new layer."""
    old_fingerprint = _set_aside_fingerprint(spec, action)
    spec.previous = stored
    try:
        return _build_layer(spec, action, stored, runner)
    except BaseException:
        if old_fingerprint:  # the old layer is back: so is what it was built from
            os.rename(old_fingerprint, spec.state_path)
        raise


def _build_layer(spec, action, stored, runner):
    if action == ACTION_UPDATED:
        return spec.update(stored, runner)
    if spec.switched:
        return _build_version(spec, runner)
    if spec.strategy == "none":
        return spec.build(spec.path, runner)
    if spec.strategy == "staging":
        # A relocatable tree: build it beside the old layer, which stays in use until the swap.
        staging = _staging_path(spec.path)
        facts = _build_beside(spec, staging, runner)
        _swap_in(spec, staging)
        return facts
    aside = _aside_path(spec.path)
    had_old = os.path.lexists(spec.path)
    if had_old:
        os.rename(spec.path, aside)
    try:
        os.makedirs(spec.path, 0o755)
        return spec.build(spec.path, runner)
    except BaseException:
        if os.path.lexists(spec.path):
            remove_tree(spec.path)
        if had_old:
            os.rename(aside, spec.path)
        raise


def _build_version(spec, runner):
    """A switched layer: build a new version beside the live one, which is not touched; a failure removes it."""
    version = _layer_switch.new_version(spec.path, layer_key(spec))
    _layer_switch.make_versions_dir(spec.path, "build the %s layer %s" % (spec.kind, spec.path))
    facts = _build_beside(spec, version, runner)
    spec.version_dir = version
    return facts


def _build_beside(spec, directory, runner):
    """Build into a new directory beside the live layer (which stays in use); a failure removes it."""
    os.makedirs(directory, 0o755)
    try:
        return spec.build(directory, runner)
    except BaseException:
        remove_tree(directory)
        raise


def _version_state_path(spec, version):
    return os.path.join(version, os.path.relpath(spec.state_path, spec.path))


def _commit_version(spec, record):
    """The new version's fingerprint (last, as always), the switch, then the versions beyond keep_previous go."""
    write_json_atomic(_version_state_path(spec, spec.version_dir), record)
    try:
        _layer_switch.switch(spec.path, spec.version_dir)
    except (IOError, OSError) as exc:
        remove_tree(spec.version_dir)
        raise AppenvError("layer_switch_failed", kind=spec.kind, path=spec.path, version=spec.version_dir,
                          parent=os.path.dirname(spec.path), detail=exc)
    _layer_switch.prune(spec.path, spec.keep_previous)


class _SeenAt:
    """spec looking at one of its versions (path and fingerprint there) while it is checked before the switch."""

    def __init__(self, spec, version):
        self.spec, self.version = spec, version
        self.real = None

    def __enter__(self):
        self.real = (self.spec.path, self.spec.state_path)
        self.spec.state_path = _version_state_path(self.spec, self.version)
        self.spec.path = self.version
        return self.spec

    def __exit__(self, *exc):
        self.spec.path, self.spec.state_path = self.real


def _restore_version(spec, cache, key, runner):
    """A switched layer from the layer cache: restored into the version its archive was built as, checked there,
    then switched in; its record, or None (a miss: the layer is built)."""
    version = os.path.join(_layer_switch.versions_dir(spec.path), _layer_switch.canonical_name(key))
    if os.path.lexists(version):
        return None  # these inputs are a previous version kept for running processes: built anew beside it
    _layer_switch.make_versions_dir(spec.path, "restore the %s layer %s" % (spec.kind, spec.path))
    meta = cache.restore(key, version, runner=runner, spec=spec)
    if meta is None:
        remove_tree(version)
        return None
    record = dict(meta["record"])
    record["key"] = record_key(spec, record.get("inputs"))
    from ansible_collections.appenv.python.plugins.module_utils._layer_cache_trust import restored_problems

    with _SeenAt(spec, version):
        spec.restored(record)
        problems = restored_problems(spec, record)
    if problems:  # the entry is not what it was signed as: the live version stays, the layer is built
        remove_tree(version)
        cache.discard(key, "the restored layer does not check out (%s)" % "; ".join(problems))
        return None
    spec.version_dir = version
    _commit_version(spec, record)
    return record


def _live_version(spec, check_mode, action):
    """The version directory a switched layer's link points at after the run (check mode: would point at)."""
    if not spec.switched:
        return None
    if spec.version_dir:
        return spec.version_dir
    if check_mode and action not in (ACTION_KEPT, ACTION_UPDATED):
        return _layer_switch.new_version(spec.path, layer_key(spec))
    name = _layer_switch.live_version(spec.path)
    return os.path.join(_layer_switch.versions_dir(spec.path), name) if name else None


def _swap_in(spec, staging):
    """Replace the layer with the finished staging tree; the old one goes aside until the fingerprint is written."""
    aside = _aside_path(spec.path)
    had_old = os.path.lexists(spec.path)
    if had_old:
        os.rename(spec.path, aside)
    try:
        os.rename(staging, spec.path)
    except BaseException:
        if had_old:
            os.rename(aside, spec.path)
        raise


def _restored_reason(meta):
    built_at = meta.get("built_at")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(built_at)) if built_at else "at an unknown time"
    return "restored from the layer cache (built %s on %s)" % (when, meta.get("built_on") or "an unknown host")


def _restore(spec, cache, key, runner=None):
    """Put the cached layer in place with the same roll-back as a build; its record, or None."""
    staging = _staging_path(spec.path)
    if os.path.lexists(staging):
        remove_tree(staging)
    meta = cache.restore(key, staging, runner=runner, spec=spec)
    if meta is None:
        return None
    if not _state_inside_layer(spec) and os.path.lexists(spec.state_path):
        os.unlink(spec.state_path)
    _swap_in(spec, staging)
    record = dict(meta["record"])
    spec.restored(record)
    record["key"] = record_key(spec, record.get("inputs"))
    aside = _aside_path(spec.path)
    from ansible_collections.appenv.python.plugins.module_utils._layer_cache_trust import restored_problems

    problems = restored_problems(spec, record)
    if problems:  # the entry is not what it was signed as: the previous layer goes back, the layer is built
        remove_tree(spec.path)
        if os.path.lexists(aside):
            os.rename(aside, spec.path)
        cache.discard(key, "the restored layer does not check out (%s)" % "; ".join(problems))
        return None
    write_fingerprint(spec, record)
    if os.path.lexists(aside):
        remove_tree(aside)
    return record


def layer_key(spec):
    """THE key of spec's layer in a layer cache: what decide_only reports, converge looks up and stores under.

    The fingerprint's key unless the spec keys on content (LayerSpec.cache_key).
    """
    return spec.cache_key()


FORCED = "forced"


def forced(action, reasons):
    """force: true: (action, reasons) of a run that rebuilds whatever the decision, the reason "forced" last.

    A kept or updated layer is recreated from empty; a forced task is never a no-op.
    """
    if action in (ACTION_KEPT, ACTION_UPDATED):
        action = ACTION_RECREATED
    return action, list(reasons) + [FORCED]


def decide_only(spec, force=False):
    """What converge would do, doing nothing: the result a controller-side cache asks for first."""
    action, reasons, _stored = decide(spec)
    if force:
        action, reasons = forced(action, reasons)
    return {"changed": False, ACTION_KEY: action, "reasons": reasons, "key": layer_key(spec)}


def converge(spec, runner, check_mode=False, lock_timeout=600.0, cache=None, force=False):
    """Bring the layer to spec.wanted. Returns a LayerResult.

    force: rebuild whatever the decision (forced()), never restored from the layer cache (it is filled after).

    cache: an optional layer cache (_layer_cache.DirectoryCache or HttpCache): looked up
    before building (a hit is restored, action "restored"), filled after.
    Layers of strategy "none" live inside other trees and are cached only when they are
    overlays (spec.overlay: a set of files the engine can record, archive and swap).
    """
    result = _converge(spec, runner, check_mode, lock_timeout, cache, force)
    result.live_version = _live_version(spec, check_mode, result.action)
    return result


def _converge(spec, runner, check_mode, lock_timeout, cache, force):
    lock = LayerLock(spec.lock_path(), timeout=lock_timeout, read_only=check_mode)
    if cache is not None and spec.strategy == "none" and not spec.overlay:
        cache = None
    spec.version_dir = None
    if spec.switched:
        _layer_switch.check(spec.path, "switch the %s layer %s" % (spec.kind, spec.path))
    try:
        with lock:
            # A switched layer: what a killed build left beside the live version goes first (it is never live).
            switch_note = _layer_switch.leftovers_note(spec.path) if spec.switched else None
            if check_mode:
                action, reasons, stored = predict(spec)
            else:
                if switch_note:
                    _layer_switch.recover(spec.path)
                notes = []
                for recover in ((recover_overlay,) if spec.overlay else ()) + (recover_interrupted,):
                    note = recover(spec)
                    if note:
                        notes.append(note)
                action, reasons, stored = decide(spec)
                reasons = notes + reasons
            if switch_note:
                reasons = [switch_note] + reasons
            if force:
                action, reasons = forced(action, reasons)
            if not check_mode and action != ACTION_KEPT:
                lock.claim()  # a no-op writes nothing, not even its PID
            if action == ACTION_KEPT:
                return LayerResult(action, reasons, stored, stored, stored.get("facts", {}), spec.path)
            after = make_record(spec, {})
            key = None
            if cache is not None and action != ACTION_UPDATED and not force:
                key = layer_key(spec)
                meta = cache.lookup(key)
                refusal = meta is not None and spec.refuse_cached(meta.get("record") or {})
                if refusal:
                    reasons, meta = reasons + [refusal], None
                if meta is not None:
                    if check_mode:
                        return LayerResult(ACTION_RESTORED, reasons + [_restored_reason(meta)], stored,
                                           meta["record"], {}, spec.path)
                    if spec.overlay:
                        record = restore_overlay(spec, cache, key, stored, runner)
                    elif spec.switched:
                        record = _restore_version(spec, cache, key, runner)
                    else:
                        record = _restore(spec, cache, key, runner)
                    if record is not None:
                        return LayerResult(ACTION_RESTORED, reasons + [_restored_reason(meta)], stored, record,
                                           record.get("facts", {}), spec.path, cache.warnings)
            if check_mode:
                return LayerResult(action, reasons, stored, after, {}, spec.path)
            facts = _build(spec, action, stored, runner)
            files = None
            if spec.overlay:
                files = spec.overlay_files(facts)
                facts = dict(facts or {}, overlay={"files": files or []})
            after = make_record(spec, facts)
            if spec.version_dir:
                _commit_version(spec, after)
            else:
                write_fingerprint(spec, after)
            for aside in (_aside_path(spec.path), _state_aside_path(spec)):
                if aside and os.path.lexists(aside):
                    remove_tree(aside)
            # A version named otherwise than its key (a rebuild beside a live one of the same inputs) names its own
            # path inside: it is not stored, as a restore puts an entry at the key's name.
            if cache is not None and (not spec.overlay or files) and (
                    not spec.version_dir or _layer_switch.is_canonical(spec.version_dir, key or layer_key(spec))):
                if spec.overlay:
                    cache.store(key or layer_key(spec), spec.overlay_root(), after, files=files)
                else:
                    cache.store(key or layer_key(spec), spec.version_dir or spec.path, after)
            return LayerResult(action, reasons, stored, after, after["facts"], spec.path,
                               cache.warnings if cache is not None else None)
    except (IOError, OSError) as exc:
        _raise_os_error(spec, exc)


def remove(spec, runner, check_mode=False, lock_timeout=600.0):
    """state: absent: remove the layer and its fingerprint (spec.removal names it, spec.remove does it). Returns a
    LayerResult: "removed" with those sentences, or "absent" when nothing was there (then no lock is taken and
    nothing is made, not even the lock file). Check mode names what would go and changes nothing."""
    try:
        if not spec.removal(read_fingerprint(spec)[0]):
            return LayerResult(ACTION_ABSENT, [], None, None, {}, spec.path)
        lock = LayerLock(spec.lock_path(), timeout=lock_timeout, read_only=check_mode)
        with lock:
            stored, _problem = read_fingerprint(spec)
            reasons = spec.removal(stored)
            if reasons and not check_mode:
                lock.claim()
                spec.remove(stored, runner)
            return LayerResult(ACTION_REMOVED if reasons else ACTION_ABSENT, reasons, stored, None, {}, spec.path)
    except (IOError, OSError) as exc:
        _raise_os_error(spec, exc)
