# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Overlay layers: the journal and swap the layer engine (_layer.converge) uses for them.

Overlay layers (``spec.overlay``) are not a directory of their own but a set of
files inside another one (pip inside the runtime's site-packages, the pycs of
an app's trees): the engine records their files (relative to
``spec.overlay_root()``) with the fingerprint, caches exactly those files, and
restores them by moving the previous version's files aside, moving the new
ones in, and dropping the moved-aside files only once the fingerprint is
written. A journal kept with the moved-aside files lets a failure, or the next
run after a kill, put the previous files back. Journal, staging and moved-aside
files live beside the fingerprint in the state directory, never in the tree, and
no file is moved through a link inside the tree (docs/security.md).

Also the file moves the engine's own roll-back shares (``remove_tree``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import json
import os
import shutil
import stat

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._fingerprint import (
    FINGERPRINT_FILE, read_fingerprint, record_key, write_fingerprint, write_json_atomic)

_OVERLAY_JOURNAL = ".appenv-journal.json"
_OVERLAY_STATE = FINGERPRINT_FILE  # the previous fingerprint, while the swap runs


def remove_tree(path):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def overlay_record_files(record):
    """The overlay files a fingerprint record lists (checked relative paths), or None."""
    if not isinstance(record, dict):
        return None
    overlay = (record.get("facts") or {}).get("overlay")
    if not isinstance(overlay, dict) or not isinstance(overlay.get("files"), list):
        return None
    return [rel for rel in overlay["files"] if overlay_path_ok(rel)]


def overlay_path_ok(rel):
    """Whether rel may name an overlay file: relative, normalised, not one of the engine's own paths."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\0" in rel:
        return False
    if os.path.normpath(rel) != rel or rel == ".." or rel.startswith("../"):
        return False
    return not rel.split("/", 1)[0].startswith(".appenv-overlay-")


def overlay_relative(root, paths):
    """Sorted paths relative to root of the files among paths (absolute); None when one is outside root."""
    root = root.rstrip("/") + "/"
    found = set()
    for path in paths:
        if not path.startswith(root):
            return None
        if _is_file(path):
            found.add(path[len(root):])
    return sorted(found)


def _overlay_dirs(spec):
    """(root, staging, aside) of an overlay; named after the fingerprint so two overlays in one state dir differ.

    Staging, the moved-aside files and the journal live beside the fingerprint, in the state directory of the
    user running the step, never in the tree: another user who can write the tree could plant a journal there
    (docs/security.md). Across file systems a move is a copy (see _move).
    """
    root = os.path.abspath(spec.overlay_root())
    state_dir = os.path.dirname(os.path.abspath(spec.state_path))
    tag = hashlib.sha256(spec.state_path.encode("utf-8")).hexdigest()[:12]
    return (root, os.path.join(state_dir, ".appenv-overlay-%s.new" % tag),
            os.path.join(state_dir, ".appenv-overlay-%s.old" % tag))


def link_on_the_way(root, rel, seen=None):
    """The first directory between root and the file rel (relative to root) that is a symbolic link, or None.

    lstat only: a file moved to or from root/rel must never go through a link out of the tree.
    seen: {directory: what lstat found} shared by the calls of one check, so that the thousands of files of a
    layer cost one lstat per directory, not one per directory per file.
    """
    seen = {} if seen is None else seen
    current = root
    for part in rel.split("/")[:-1]:
        current = os.path.join(current, part)
        found = seen.get(current)
        if found is None:
            try:
                found = "link" if stat.S_ISLNK(os.lstat(current).st_mode) else "there"
            except OSError:
                found = "missing"
            seen[current] = found
        if found == "link":
            return current
        if found == "missing":
            return None
    return None


def refuse_links(root, rels):
    """Raise tree_symlink for the first of rels whose way from root goes through a link."""
    seen = {}
    for rel in rels:
        link = link_on_the_way(root, rel, seen)
        if link:
            raise AppenvError("tree_symlink", path=link, target=os.readlink(link), tree=root)


def _is_file(path):
    """Whether path is there and not a directory (a symbolic link counts as a file, whatever it points to)."""
    try:
        return not stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _move(source, dest):
    """rename(2), with the parent created; across file systems a copy renamed into place."""
    parent = os.path.dirname(dest)
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    try:
        os.rename(source, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        temp = "%s.appenv-tmp-%d" % (dest, os.getpid())
        shutil.move(source, temp)
        os.rename(temp, dest)


def whole_dirs(spec, base, rels):
    """The topmost directories (relative to base) that rels name every file of, that the spec lets a restore
    remove: each moves as one rename instead of one a file (a pip is 1,500 files in 340 directories).

    Read with lstat (scandir), no link followed: a directory holding anything else (a file not among rels, a link
    not among them, an empty directory) is not one of them, nor are those above it.
    """
    files = set(rels)
    below = {}
    for rel in rels:
        parent = os.path.dirname(rel)
        while parent:
            below.setdefault(parent, True)
            parent = os.path.dirname(parent)
    whole = {}
    for directory in sorted(below, key=lambda path: path.count("/"), reverse=True):
        whole[directory] = spec.overlay_prunable(os.path.join(base, directory)) and \
            _only(os.path.join(base, directory), directory, files, whole)
    return sorted(directory for directory, ok in whole.items()
                  if ok and not whole.get(os.path.dirname(directory)))


def _only(path, rel, files, whole):
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                name = rel + "/" + entry.name
                if entry.is_dir(follow_symlinks=False):
                    if not whole.get(name):
                        return False
                elif name not in files:
                    return False
    except OSError:
        return False
    return True


def _move_all(source_root, dest_root, rels, dirs):
    """Move rels (files) from source_root to dest_root, the directories dirs (which hold only files of rels) as one."""
    top = tuple(directory + "/" for directory in dirs)
    for directory in dirs:
        _move(os.path.join(source_root, directory), os.path.join(dest_root, directory))
    for rel in rels:
        if not rel.startswith(top):
            _move(os.path.join(source_root, rel), os.path.join(dest_root, rel))


def _move_in(staging, root, rels, exact):
    """Move the restored files rels from staging into root: a directory the root has nothing at moves as one when
    staging holds nothing but rels (exact; so no file the record does not list comes in), else file by file."""
    if not exact:
        for rel in rels:
            _move(os.path.join(staging, rel), os.path.join(root, rel))
        return
    absent = {}
    moved = set()
    for rel in rels:
        parts = rel.split("/")
        whole = None
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            if directory in moved:
                whole = directory
                break
            if directory not in absent:
                absent[directory] = not os.path.lexists(os.path.join(root, directory))
            if absent[directory]:
                whole = directory
                break
        if whole is None:
            _move(os.path.join(staging, rel), os.path.join(root, rel))
        elif whole not in moved:
            _move(os.path.join(staging, whole), os.path.join(root, whole))
            moved.add(whole)


def _overlay_rollback(spec, root, aside, journal):
    """Put the files a journal names back as they were before the swap started.

    A path whose way from the root goes through a link is skipped, never followed: the list of those.
    """
    skipped = sorted(rel for rel in set(journal.get("existing") or []) | set(journal.get("new") or [])
                     if link_on_the_way(root, rel))
    existing = set(journal.get("existing") or []) - set(skipped)
    added = [rel for rel in journal.get("new") or [] if rel not in existing and rel not in skipped]
    for rel in added:
        if os.path.lexists(os.path.join(root, rel)):
            remove_tree(os.path.join(root, rel))  # nothing was there: moved in by the swap
    _prune(spec, root, added)
    for rel in journal.get("dirs") or []:
        # Moved aside as one: back as one where nothing is in its place now, else file by file below.
        held = os.path.join(aside, rel)
        if not link_on_the_way(root, rel + "/-") and os.path.isdir(held) and not os.path.islink(held) and \
                not os.path.lexists(os.path.join(root, rel)):
            _move(held, os.path.join(root, rel))
    for rel in sorted(existing):
        held = os.path.join(aside, rel)
        if os.path.lexists(held):  # moved aside: what is at its place now came from the swap
            if os.path.lexists(os.path.join(root, rel)):
                remove_tree(os.path.join(root, rel))
            _move(held, os.path.join(root, rel))
    state = journal.get("state_path")
    if state and os.path.lexists(os.path.join(aside, _OVERLAY_STATE)):
        _move(os.path.join(aside, _OVERLAY_STATE), state)
    remove_tree(aside)
    return skipped


def _read_journal(aside):
    if os.path.islink(aside) or not os.path.isdir(aside):
        return None
    try:
        with open(os.path.join(aside, _OVERLAY_JOURNAL)) as handle:
            journal = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    if not isinstance(journal, dict):
        return None
    for name in ("new", "existing", "dirs"):
        journal[name] = [rel for rel in journal.get(name) or [] if overlay_path_ok(rel)]
    return journal


def _interrupted_restore(spec):
    """(root, staging, aside, journal) of an overlay; journal is set when a restore was killed half-way (its
    moved-aside files must be put back), else None (an aside is then only a leftover to drop)."""
    root, staging, aside = _overlay_dirs(spec)
    journal = None
    if os.path.lexists(aside):
        journal = _read_journal(aside)
        finished, _problem = read_fingerprint(spec)
        if finished is not None:
            # No journal: killed before the first move. A fingerprint: killed before the previous one
            # was moved aside (nothing moved yet), or after the new one was written (the swap was complete).
            journal = None
    return root, staging, aside, journal


def _rolled_back_note(root):
    return "a restore interrupted earlier left %s half-replaced; the previous files were put back" % root


def recover_overlay(spec):
    """Undo what a restore killed half-way left behind (under the lock). A sentence, or None."""
    root, staging, aside, journal = _interrupted_restore(spec)
    note = None
    if journal is not None:
        journal["state_path"] = spec.state_path
        skipped = _overlay_rollback(spec, root, aside, journal)
        note = _rolled_back_note(root)
        if skipped:
            note += (" (except %d path(s) of its journal that go through a symbolic link, which were not "
                     "followed: %s)" % (len(skipped), ", ".join(skipped[:3])))
    elif os.path.lexists(aside):
        remove_tree(aside)
    if os.path.lexists(staging):
        remove_tree(staging)
    return note


def overlay_recovery_view(spec):
    """What recover_overlay would do, doing nothing (check mode): (note, state_path). state_path is where the
    layer's fingerprint would be read from after it (the moved-aside one), None when nothing would be rolled
    back."""
    root, _staging, aside, journal = _interrupted_restore(spec)
    if journal is None:
        return None, None
    return _rolled_back_note(root), os.path.join(aside, _OVERLAY_STATE)


def _prune(spec, root, rels):
    """Remove the directories of rels left empty (those the spec calls prunable, below the root)."""
    top = root.rstrip("/") + "/"
    for directory in sorted(set(os.path.dirname(os.path.join(root, rel)) for rel in rels), reverse=True):
        while directory.startswith(top) and spec.overlay_prunable(directory):
            try:
                os.rmdir(directory)
            except OSError:
                break
            directory = os.path.dirname(directory)


def restore_overlay(spec, cache, key, stored, runner=None):
    """Swap the cached files in over the previous version's; its record, or None (then the layer is built)."""
    root, staging, aside = _overlay_dirs(spec)
    if os.path.lexists(staging):
        remove_tree(staging)
    meta = cache.restore(key, staging, runner=runner, spec=spec)
    if meta is None:
        return None
    record = dict(meta["record"])
    new = overlay_record_files(record)
    if new is None or len(new) != len(((record.get("facts") or {}).get("overlay") or {}).get("files") or []) or \
            [rel for rel in new if not _is_file(os.path.join(staging, rel))]:
        remove_tree(staging)
        cache.discard(key, "its archive does not hold the files its record lists")
        return None
    old = [rel for rel in spec.overlay_previous(stored, record) if overlay_path_ok(rel)]
    try:
        refuse_links(root, sorted(set(old) | set(new)))
    except AppenvError:
        remove_tree(staging)
        raise
    news = set(new)
    existing = sorted(rel for rel in set(old) | news if os.path.lexists(os.path.join(root, rel)))
    leaving = [rel for rel in existing if rel in news or _is_file(os.path.join(root, rel))]
    journal = {"key": key, "new": new, "state_path": spec.state_path, "existing": existing,
               "dirs": whole_dirs(spec, root, leaving)}
    if os.path.lexists(aside):
        remove_tree(aside)
    os.makedirs(aside, 0o700)
    write_json_atomic(os.path.join(aside, _OVERLAY_JOURNAL), journal)
    try:
        if os.path.lexists(spec.state_path):
            # Aside with the files it describes (and back with them on a roll-back): from here until the
            # new one is written there is no fingerprint, so a kill is rolled back by the next run.
            _move(spec.state_path, os.path.join(aside, _OVERLAY_STATE))
        _move_all(root, aside, leaving, journal["dirs"])
        # Directories the old files leave empty go now: an empty *.dist-info would still count as installed.
        _prune(spec, root, set(old) - news)
        extracted = meta.get("extracted") or {}
        # Every file listed is in staging (checked above): as many members as files listed, and it holds nothing else.
        _move_in(staging, root, new, exact=extracted.get("files", 0) + extracted.get("symlinks", 0) == len(news))
        facts = dict(record.get("facts") or {})
        record["facts"] = facts
        spec.restored(record)
        record["key"] = record_key(spec, record.get("inputs"))
        from ansible_collections.appenv.python.plugins.module_utils._layer_cache_trust import restored_problems

        problems = restored_problems(spec, record)
        if problems:
            raise _RestoreRejected("; ".join(problems))
    except _RestoreRejected as rejected:
        _overlay_rollback(spec, root, aside, journal)
        remove_tree(staging)
        cache.discard(key, "the restored files do not check out (%s)" % rejected)
        return None
    except BaseException:
        _overlay_rollback(spec, root, aside, journal)
        remove_tree(staging)
        raise
    write_fingerprint(spec, record)
    remove_tree(aside)
    remove_tree(staging)
    return record


class _RestoreRejected(Exception):
    pass
