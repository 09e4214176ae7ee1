# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""app_code's layer: the app's code, a tree on the controller, as a set of files inside the project directory.

The action plugin lists the tree on the controller (``listing``: each file's path and sha256; the digest of the
listing is the layer's input) and runs the module with the digest alone. The module compares it with the
fingerprint (kept in a state directory root owns, as pyc_compile's) and checks that every file it wrote is as it
left it (one ``lstat`` each: size, mtime, mode, owner): a no-op starts no process and needs none of the code.
Otherwise the module answers ``needs_content`` and the action plugin sends a tar of the tree and runs it again.

A write changes only what differs: a file whose content, mode or owner differ is written to a temporary file in
its directory and renamed over the old one (a running app sees the old file or the new one, whole); a file the
previous version had and this one has not is removed, with the directories that held only such files. Nothing
else in the directory is touched (pycs, the app's data). Every directory is opened relative to its parent without
following links (``O_NOFOLLOW``): root can write code the app user owns (``owner``) into a tree the app user can
write without ever writing through a link the app user planted. Files are never changed in place, so a hard link
the app user made to a file elsewhere is replaced, not written through.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import grp
import hashlib
import os
import pwd
import stat
import tarfile

from ansible_collections.appenv.python.plugins.module_utils import _layer, _privilege
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._fingerprint import digest

# The bytecode layer's files: never part of the code (a controller's __pycache__ would fight pyc_compile's).
SKIPPED_DIRS = ("__pycache__",)
SKIPPED_SUFFIXES = (".pyc",)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def listing_digest(listing):
    """The layer's input: the digest of {relative path: sha256} (directories map to None)."""
    return digest(listing)


def describe_listing_change(old, new, limit=5):
    """One sentence naming the files added, changed and removed between two listings."""
    parts = []
    for word, names in (("added", sorted(set(new) - set(old))),
                        ("changed", sorted(name for name in new if name in old and old[name] != new[name])),
                        ("removed", sorted(set(old) - set(new)))):
        names = [name for name in names if (new.get(name) or old.get(name))]  # files, not directories
        if names:
            parts.append("%s: %s%s" % (word, ", ".join(names[:limit]), ", …" if len(names) > limit else ""))
    count = len([name for name in set(old) | set(new) if old.get(name) != new.get(name) and
                 (new.get(name) or old.get(name))])
    return "%d file(s) of the code changed (%s)" % (count, "; ".join(parts)) if parts else \
        "the code's directories changed"


def _ids(owner, group, check_mode):
    """(uid, gid) the files get; None for a name not known on the host yet (check mode: an earlier task makes it)."""
    uid, gid = os.geteuid(), os.getegid()
    for option, name, lookup in (("owner", owner, pwd.getpwnam), ("group", group, grp.getgrnam)):
        if not name:
            continue
        try:
            entry = lookup(name)
        except KeyError:
            if check_mode:
                return None
            raise AppenvError("bad_argument", option=option, module="app_code",
                              detail="%s is %s, which is not known on this host" % (option, name))
        if option == "owner":
            uid, gid = entry.pw_uid, entry.pw_gid
        else:
            gid = entry.gr_gid
    return uid, gid


class CodeSpec(_layer.LayerSpec):
    """The code under dest: the files of the controller's listing, written with mode and owner."""

    kind = "app_code"
    strategy = "none"
    labels = {"files": "the code", "owner": "owner", "group": "group", "mode": "mode",
              "directory_mode": "directory mode"}

    def __init__(self, dest, files_digest, owner=None, group=None, mode="0644", directory_mode="0755",
                 state_dir="/var/lib/appenv/code", listing=None, archive=None, check_mode=False):
        self.dest = os.path.abspath(dest)
        name = hashlib.sha256(self.dest.encode("utf-8")).hexdigest()[:16]
        self._lock = os.path.join(state_dir, name + ".lock")
        self.listing = listing
        self.archive = archive
        self.ids = _ids(owner, group, check_mode)
        self.file_mode = _mode(mode, "mode")
        self.dir_mode = _mode(directory_mode, "directory_mode")
        wanted = {"files": files_digest, "owner": owner, "group": group, "mode": "%04o" % self.file_mode,
                  "directory_mode": "%04o" % self.dir_mode}
        super(CodeSpec, self).__init__(self.dest, wanted, state_path=os.path.join(state_dir, name + ".json"))

    def lock_path(self):
        return self._lock

    # -- decisions ---------------------------------------------------------------------------
    def compare(self, stored, wanted):
        old = stored.get("inputs", {})
        others = dict((key, value) for key, value in wanted.items() if key != "files")
        reasons = _layer.describe_changes(dict((key, value) for key, value in old.items() if key != "files"),
                                          others, self.labels)
        if reasons:
            return _layer.ACTION_RECREATED, reasons
        if old.get("files") != wanted["files"]:
            before = stored.get("facts", {}).get("listing")
            if self.listing is not None and isinstance(before, dict):
                return _layer.ACTION_UPDATED, [describe_listing_change(before, self.listing)]
            return _layer.ACTION_UPDATED, ["the code on the controller changed"]
        return _layer.ACTION_KEPT, []

    def verify(self, stored):
        if self.ids is None:
            return ["the owner %s does not exist yet (check mode: an earlier task would create it)"
                    % self.wanted["owner"]]
        facts = stored.get("facts", {})
        written, listing = facts.get("written", {}), facts.get("listing") or {}
        changed = []
        for rel, recorded in sorted(written.items()):
            path = os.path.join(self.dest, rel)
            try:
                record = _stat_record(os.lstat(path))
            except OSError:
                record = None
            # Only a file whose stat differs is read: touched (a new mtime), it is still the code.
            if record != recorded and not (record and record[2:] == recorded[2:] and
                                           _file_sha256(path) == listing.get(rel)):
                changed.append(rel)
        if changed:
            return ["%d file(s) of the code were changed or removed on the host since they were written (%s%s)"
                    % (len(changed), ", ".join(changed[:5]), ", …" if len(changed) > 5 else "")]
        return []

    # -- work -------------------------------------------------------------------------------------
    def build(self, target, runner):
        _privilege.check_tree(os.path.dirname(self.dest), "write the app's code into %s" % self.dest)
        previous = (self.previous or {}).get("facts", {})
        return _Writer(self, previous).write()

    def update(self, stored, runner):
        return self.build(self.dest, runner)


def _mode(text, option):
    try:
        mode = int(str(text), 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        raise AppenvError("bad_argument", option=option, module="app_code",
                          detail="%s is %r: an octal mode such as 0644 is expected" % (option, text))
    return mode


def _file_sha256(path, dir_fd=None):
    """The sha256 of the regular file at path, read without following a link (None when it cannot be read)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError:
        return None
    return _layer.file_sha256(descriptor)


def _stat_record(info):
    return [info.st_size, info.st_mtime_ns, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid] \
        if stat.S_ISREG(info.st_mode) else None


class _Writer:
    """Writes the archive's files into dest through directory descriptors, never following a link."""

    def __init__(self, spec, previous):
        self.spec = spec
        self.uid, self.gid = spec.ids
        self.before = previous.get("listing") if isinstance(previous.get("listing"), dict) else {}
        self.recorded = previous.get("written") or {}
        self.dirs = {}

    def write(self):
        listing = self.spec.listing
        written = {}
        self.dirs[""] = self._open_dest()
        try:
            with tarfile.open(self.spec.archive) as archive:
                seen = set()
                for member in archive:
                    rel = self._checked_name(member, listing)
                    seen.add(rel)
                    self._close_all_but(rel if member.isdir() else os.path.dirname(rel))
                    if member.isdir():
                        self._directory(rel)
                        continue
                    written[rel] = self._file(rel, archive.extractfile(member), listing[rel])
            missing = sorted(set(listing) - seen)
            if missing:
                raise self._mismatch("%s is missing from it" % missing[0])
            self._remove_gone(listing)
        finally:
            for descriptor in self.dirs.values():
                os.close(descriptor)
        return {"listing": listing, "written": written}

    def _mismatch(self, detail):
        return AppenvError("code_archive_mismatch", dest=self.spec.dest, detail=detail)

    def _checked_name(self, member, listing):
        rel = member.name
        parts = rel.split("/")
        if rel not in listing or rel.startswith("/") or any(part in ("", ".", "..") for part in parts) or \
                not (member.isfile() or member.isdir()) or member.isdir() != (listing[rel] is None):
            raise self._mismatch("%r is not in the listing the controller sent, or not as a %s"
                                 % (rel, "file" if member.isfile() else "directory"))
        return rel

    def _close_all_but(self, rel):
        """Close the open directories that are not rel or above it: a tree of thousands of directories is written
        with as many open as it is deep (the archive lists a directory's entries together)."""
        for other in [other for other in self.dirs if other and not (rel == other or rel.startswith(other + "/"))]:
            os.close(self.dirs.pop(other))

    def _open_dest(self):
        dest = self.spec.dest
        if not os.path.isdir(os.path.dirname(dest)):  # its chain was checked (check_tree): root owns what exists
            os.makedirs(os.path.dirname(dest), 0o755)
        parent = os.open(os.path.dirname(dest), _DIR_FLAGS)
        try:
            return self._open_dir(parent, os.path.basename(dest), dest)
        finally:
            os.close(parent)

    def _open_dir(self, parent_fd, name, path):
        """The directory name inside parent_fd (made when missing), opened without following a link."""
        try:
            os.mkdir(name, self.spec.dir_mode, dir_fd=parent_fd)
            made = True
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
            made = False
        try:
            descriptor = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise AppenvError("code_link_in_the_way", path=path, dest=self.spec.dest)
            raise
        if made:
            os.fchmod(descriptor, self.spec.dir_mode)
            self._chown(descriptor)
        return descriptor

    def _chown(self, descriptor):
        info = os.fstat(descriptor)
        if (info.st_uid, info.st_gid) != (self.uid, self.gid):
            os.fchown(descriptor, self.uid, self.gid)

    def _directory(self, rel):
        if rel in self.dirs:
            return self.dirs[rel]
        parent, name = os.path.split(rel)
        descriptor = self._open_dir(self._directory(parent), name, os.path.join(self.spec.dest, rel))
        self.dirs[rel] = descriptor
        return descriptor

    def _file(self, rel, source, sha256):
        """Write rel unless it already has this content, mode and owner; its stat record."""
        parent, name = os.path.split(rel)
        directory = self._directory(parent)
        current = self._current(directory, name, rel, sha256)
        if current is not None:
            return current
        temp = ".%s.appenv-code-tmp" % name
        try:
            os.unlink(temp, dir_fd=directory)
        except OSError:
            pass
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=directory)
        hasher = hashlib.sha256()
        try:
            with os.fdopen(descriptor, "wb") as handle:
                for chunk in iter(lambda: source.read(1 << 20), b""):
                    hasher.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fchmod(handle.fileno(), self.spec.file_mode)
                self._chown(handle.fileno())
            if hasher.hexdigest() != sha256:
                raise self._mismatch("%s's content is not what the controller listed" % rel)
            os.rename(temp, name, src_dir_fd=directory, dst_dir_fd=directory)
        except BaseException:
            try:
                os.unlink(temp, dir_fd=directory)
            except OSError:
                pass
            raise
        return _stat_record(os.stat(name, dir_fd=directory, follow_symlinks=False))

    def _current(self, directory, name, rel, sha256):
        """The stat record of rel when it already is what would be written, else None."""
        try:
            info = os.stat(name, dir_fd=directory, follow_symlinks=False)
        except OSError:
            return None
        record = _stat_record(info)
        if record is None or (record[2], record[3], record[4]) != (self.spec.file_mode, self.uid, self.gid):
            return None
        if self.before.get(rel) == sha256 and self.recorded.get(rel) == record:
            return record  # as this layer wrote it last time
        return record if _file_sha256(name, dir_fd=directory) == sha256 else None

    def _remove_gone(self, listing):
        """The files the previous version had and this one has not; then their directories, when empty."""
        gone = [rel for rel, sha in self.before.items() if rel not in listing]
        for rel in sorted((rel for rel in gone if self.before[rel]), reverse=True):
            parent, name = os.path.split(rel)
            self._close_all_but(parent)
            try:
                directory = self._existing_dir(parent)
                if directory is not None and stat.S_ISREG(os.stat(name, dir_fd=directory,
                                                                  follow_symlinks=False).st_mode):
                    os.unlink(name, dir_fd=directory)
            except OSError:
                pass
        for rel in sorted((rel for rel in gone if not self.before[rel]), key=len, reverse=True):
            parent, name = os.path.split(rel)
            self._close_all_but(parent)
            try:
                directory = self._existing_dir(parent)
                if directory is not None:
                    os.rmdir(name, dir_fd=directory)  # only when empty: the app's own files stay
            except OSError:
                pass

    def _existing_dir(self, rel):
        """An open directory of the tree (not made when missing), or None."""
        if rel in self.dirs:
            return self.dirs[rel]
        parent, name = os.path.split(rel)
        parent_fd = self._existing_dir(parent)
        if parent_fd is None:
            return None
        try:
            descriptor = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        except OSError:
            return None
        self.dirs[rel] = descriptor
        return descriptor


def run_app_code(params, runner, check_mode=False, diff=False, cache=None):
    """The module app_code: its parameters in, its result out."""
    spec = CodeSpec(params["dest"], params["_files_digest"], owner=params["owner"], group=params["group"],
                    mode=params["mode"], directory_mode=params["directory_mode"], state_dir=params["state_dir"],
                    listing=params.get("_listing"), archive=params.get("_archive"), check_mode=check_mode)
    force = params.get("force", False)
    if not check_mode:
        _privilege.make_private_dir(params["state_dir"])
    if spec.archive is None and not check_mode:
        # Run with the digest alone: decide (reading only, as a no-op does), and ask for the tree unless kept.
        action, reasons, stored = _layer.decide(spec)
        if force or action != _layer.ACTION_KEPT:
            return {"changed": False, "needs_content": True}
        layer = _layer.LayerResult(action, reasons, stored, stored, stored.get("facts", {}), spec.path)
    else:
        layer = _layer.converge(spec, runner, check_mode=check_mode, lock_timeout=params["lock_timeout"],
                                force=force)
    result = layer.as_result(diff=diff)
    before = ((layer.before or {}).get("facts") or {}).get("listing") or {}
    after = spec.listing if spec.listing is not None else before
    result.update(dest=spec.dest, files=len([sha for sha in after.values() if sha]))
    if diff:
        result["diff"] = {"before": _diff_lines(before), "after": _diff_lines(after),
                          "before_header": "%s (files, sha256)" % spec.dest,
                          "after_header": "%s (files, sha256)" % spec.dest}
    return result


def _diff_lines(listing):
    return "".join("%s %s\n" % (rel, sha[:12]) for rel, sha in sorted(listing.items()) if sha)
