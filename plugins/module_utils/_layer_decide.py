# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layer engine's decisions: what a run would do, and the recovery of a run killed half-way.

``decide(spec)`` compares the stored fingerprint with the wanted inputs and checks the layer on disk, changing
nothing; ``recover_interrupted(spec)`` (under the lock) puts back a layer a killed build moved aside and drops
staging leftovers; ``predict(spec)`` is check mode's view: the decision after that recovery, with its notes.
The actions a run reports (``ACTION_*``) are named here; ``_layer.converge`` acts on them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.appenv.python.plugins.module_utils._fingerprint import clean_leftovers, read_fingerprint
from ansible_collections.appenv.python.plugins.module_utils._layer_overlay import overlay_recovery_view, remove_tree

ACTION_CREATED = "created"
ACTION_KEPT = "kept"
ACTION_RECREATED = "recreated"
ACTION_UPDATED = "updated"
ACTION_RESTORED = "restored"
ACTION_REMOVED, ACTION_ABSENT = "removed", "absent"  # state: absent: removed now, nothing was there

# The result key that carries a run's action. It was `action` until 0.1, the key Ansible's JSON callbacks
# (ansible.posix.json and jsonl) overwrite with the module's name; `action` is returned too, deprecated, for one
# release (removed in 0.3.0). No per-task deprecation warning: every run of every task would print it.
ACTION_KEY = "layer_action"
DEPRECATED_ACTION_KEY = "action"


def action_keys(action):
    """The keys of a module result that carry action: layer_action and, deprecated, action."""
    return {ACTION_KEY: action, DEPRECATED_ACTION_KEY: action}


def action_of(result):
    """The action a module result (or its runtime entry) carries: layer_action, else the deprecated action."""
    return result.get(ACTION_KEY, result.get(DEPRECATED_ACTION_KEY))


_ASIDE = ".appenv-old"
_STAGING = ".appenv-new"


def _aside_path(path):
    return path.rstrip("/") + _ASIDE


def _staging_path(path):
    return path.rstrip("/") + _STAGING


def _state_aside_path(spec):
    """Where a build keeps the old fingerprint of a layer that keeps it outside itself (None: it is inside).

    It goes back with the old layer (a failed build rolled back, or a killed one recovered), else it goes.
    """
    return None if _state_inside_layer(spec) else _aside_path(spec.state_path)


def _interrupted(spec, remove=False):
    """What a run killed half-way left: (a note on the temporary fingerprint files it left (removed when remove),
    the staging leftover or None, whether the moved-aside layer must be put back, the aside path)."""
    note = None
    leftovers = clean_leftovers(os.path.dirname(spec.state_path), os.path.basename(spec.state_path), remove=remove)
    if leftovers:
        note = "a run killed earlier left %s behind; removed" % ", ".join(leftovers)
    staging = _staging_path(spec.path)
    aside = _aside_path(spec.path)
    put_back = False
    if os.path.lexists(aside):
        finished, _problem = read_fingerprint(spec)
        # Killed after the fingerprint was written, the new layer is whole: the aside only goes.
        put_back = not (finished is not None and os.path.lexists(spec.path))
    return note, (staging if os.path.lexists(staging) else None), put_back, aside


_STAGING_NOTE = "a build interrupted earlier left %s behind; it was removed"
_ASIDE_NOTE = "a build interrupted earlier left the previous layer moved aside; it was restored"


def _recovery_note(note, staging, put_back):
    """The sentence recover_interrupted returns (and check mode predicts)."""
    if put_back:
        return _ASIDE_NOTE
    if staging:
        note = (note + "; " if note else "") + _STAGING_NOTE % staging
    return note


def recover_interrupted(spec):
    """Undo what a run killed half-way left behind (under the lock); a sentence for the result, or None.

    A moved-aside layer means the run died between moving the old layer aside and writing the new
    fingerprint: what is at path is incomplete, the old layer was complete; it is put back, with the
    fingerprint the build set aside (a layer keeping it outside itself), else that one goes. Staging goes.
    """
    note, staging, put_back, aside = _interrupted(spec, remove=True)
    if staging:
        remove_tree(staging)
    if put_back:
        if os.path.lexists(spec.path):
            remove_tree(spec.path)
        os.rename(aside, spec.path)
    elif os.path.lexists(aside):
        remove_tree(aside)
    state_aside = _state_aside_path(spec)
    if state_aside and os.path.lexists(state_aside):
        if put_back:
            os.rename(state_aside, spec.state_path)
        else:
            os.unlink(state_aside)
    return _recovery_note(note, staging, put_back)


def _state_inside_layer(spec):
    return os.path.abspath(spec.state_path).startswith(spec.path.rstrip("/") + "/")


def _replaced(spec, path):
    """Whether path lies in a directory an upstream task is predicted to replace (check mode of a chain)."""
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in spec.replaced)


def decide(spec, verify=True):
    """(action, reasons, stored) without changing anything. Paths under spec.replaced count as absent (check
    mode: an upstream task would replace them, e.g. the runtime); verify=False trusts the files."""
    stored, problem = (None, None) if _replaced(spec, spec.state_path) else read_fingerprint(spec)
    exists = os.path.lexists(spec.path) and not _replaced(spec, spec.path)
    if stored is None:
        if problem:
            return ACTION_RECREATED, [problem[0].upper() + problem[1:] + "; the layer is rebuilt"], None
        if spec.strategy != "none" and exists and os.path.isdir(spec.path) and os.listdir(spec.path):
            return ACTION_RECREATED, ["%s holds files but no fingerprint (an interrupted build or "
                                      "files put there by hand); the layer is rebuilt" % spec.path], None
        return ACTION_CREATED, ["no %s layer at %s yet" % (spec.kind, spec.path)], None
    action, reasons = spec.compare(stored, spec.wanted)
    if reasons:
        return action, reasons, stored
    problems = spec.verify(stored) if verify else []
    if problems:
        return ACTION_RECREATED, ["the layer was changed on disk: " + problem for problem in problems], stored
    return ACTION_KEPT, [], stored


def _decide_as_seen_by(spec, path, state_path, verify=True):
    """decide() on the layer read from path/state_path (where a recovery takes it from), naming spec.path."""
    real = (spec.path, spec.state_path)
    spec.path, spec.state_path = path, state_path
    try:
        action, reasons, stored = decide(spec, verify=verify)
    finally:
        spec.path, spec.state_path = real
    return action, [reason.replace(path, real[0]) for reason in reasons], stored


def predict(spec):
    """Check mode: decide() after the recovery a real run does first (with its notes), changing nothing."""
    if spec.overlay:
        note, state_path = overlay_recovery_view(spec)
        if note:
            # The rollback puts the moved-aside files and fingerprint back: trust them, compare the inputs.
            action, reasons, stored = _decide_as_seen_by(spec, spec.path, state_path, verify=False)
            return action, [note] + reasons, stored
    note, staging, put_back, aside = _interrupted(spec)
    note = _recovery_note(note, staging, put_back)
    if not put_back:
        action, reasons, stored = decide(spec)
        return action, ([note] if note else []) + reasons, stored
    state_aside = _state_aside_path(spec)
    if state_aside is None:
        state_path = aside + spec.state_path[len(spec.path.rstrip("/")):]
    else:
        state_path = state_aside if os.path.lexists(state_aside) else spec.state_path
    action, reasons, stored = _decide_as_seen_by(spec, aside, state_path)
    return action, [note] + reasons, stored
