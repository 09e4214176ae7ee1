# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of safe_extract (see _archive): one pass over an archive's headers, nothing written.

This file owns what makes a member unsafe or the archive corrupt (``_scan`` and its helpers, the
``_Unsafe`` and ``_Corrupt`` exceptions) and the mode rules both writers apply (``_file_mode``,
``_odd_mode``); ``_archive`` opens the archive, calls ``_scan`` and writes the accepted members from
Python, ``_archive_native`` writes them with GNU tar.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
import tarfile

_CHUNK = 1 << 20
_MAX_LINK_HOPS = 40
_KEEP_BITS = 0o755  # as tarfile's data filter: no setuid/setgid/sticky, no group or other write
_OWNER_BITS = {"file": 0o600, "dir": 0o700}  # and the owner can always read and write (and enter) what it owns


class _Unsafe(Exception):
    def __init__(self, member, why):
        super(_Unsafe, self).__init__(why)
        self.member = member
        self.why = why


class _Corrupt(Exception):
    pass


def _normalise(name, member):
    """The member's path relative to the destination ('' for the destination itself)."""
    if not isinstance(name, str):
        raise _Unsafe(member, "its name is not text")
    if name.startswith("/"):
        raise _Unsafe(member, "its path is absolute")
    if "/." not in "/" + name and "//" not in name and not name.endswith("/"):
        return name  # no empty, '.' or '..' component (no component starts with a dot): already normal
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise _Unsafe(member, "its path has a '..' component")
        parts.append(part)
    return "/".join(parts)


def _prefixes(rel):
    parts = rel.split("/")
    return ["/".join(parts[:index]) for index in range(1, len(parts))]


def _kind(member):
    if member.isreg():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return "sym"
    if member.islnk():
        return "lnk"
    if member.ischr() or member.isblk():
        raise _Unsafe(member.name, "it is a device file")
    if member.isfifo():
        raise _Unsafe(member.name, "it is a fifo")
    kind = member.type.decode("ascii", "replace") if isinstance(member.type, bytes) else str(member.type)
    raise _Unsafe(member.name, "it has the member type '%s' (a socket or another special file)" % kind)


_KIND_NAMES = {"file": "file", "dir": "directory", "sym": "symlink", "lnk": "hardlink"}


def _resolve(dest, link_rel, target, symlinks, kinds):
    """Follow a symlink's target the way the kernel will, through the archive's symlinks
    and those already in dest. Returns the final path relative to dest, or a reason why not."""
    resolved = link_rel.split("/")[:-1]
    queue = target.split("/")
    hops = 0
    while queue:
        part = queue.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return None, "it is a symlink to %s, which leaves the destination" % target
            resolved.pop()
            continue
        resolved.append(part)
        key = "/".join(resolved)
        link = symlinks.get(key)
        if link is None and key not in kinds:
            on_disk = os.path.join(dest, key)
            if os.path.islink(on_disk):
                link = os.readlink(on_disk)
        if link is None:
            continue
        hops += 1
        if hops > _MAX_LINK_HOPS:
            return None, "it is a symlink to %s, which loops" % target
        if link.startswith("/"):
            return None, "it is a symlink to %s, which leads through %s to the absolute path %s" % (target, key, link)
        resolved.pop()
        queue = link.split("/") + queue
    return "/".join(resolved), None


def _check_destination(dest, entries):
    """What is already in dest must not redirect a member: no parent may be a symlink or a file."""
    try:
        if not os.listdir(dest):
            return
    except OSError:
        return  # missing: created later
    seen = {}
    for member, rel, kind in entries:
        for prefix in _prefixes(rel):
            state = seen.get(prefix)
            if state is None:
                try:
                    mode = os.lstat(os.path.join(dest, prefix)).st_mode
                except OSError:
                    mode = None
                state = "missing" if mode is None else ("dir" if stat.S_ISDIR(mode) else
                                                        "symlink" if stat.S_ISLNK(mode) else "file")
                seen[prefix] = state
            if state == "symlink":
                raise _Unsafe(member.name, "it would be written through %s, a symlink already in the destination"
                              % prefix)
            if state == "file":
                raise _Unsafe(member.name, "%s is already a file in the destination" % prefix)
        try:
            mode = os.lstat(os.path.join(dest, rel)).st_mode
        except OSError:
            continue
        if kind == "dir" and not stat.S_ISDIR(mode):
            raise _Unsafe(member.name, "it is a directory, but the destination already has a %s there"
                          % ("symlink" if stat.S_ISLNK(mode) else "file"))
        if kind != "dir" and stat.S_ISDIR(mode):
            raise _Unsafe(member.name, "it would replace a directory already in the destination")


def _scan(tar, guard, dest, archive_size, fmt, max_total_bytes, max_members, max_ratio,
          allow_absolute_symlinks=False, check_destination=True):
    """One pass over the headers: every check, nothing written. Returns ([(member, rel, kind)], bytes)."""
    entries = []
    kinds = {}
    parents = set()
    # Directories every prefix of which was checked for a member below them: nothing later can make one of those
    # prefixes a symlink or a file (a second member of the same path and a non-directory at a parent's path are
    # refused), so the members that follow in the same directory skip the walk up.
    checked = set()
    symlinks = {}
    total = 0
    count = 0
    while True:
        member = tar.next()
        if member is None:
            break
        count += 1
        name = member.name
        if count > max_members:
            raise _Unsafe(name, "the archive has more than %d members (a decompression bomb?)" % max_members)
        rel = _normalise(name, name)
        kind = _kind(member)
        if kind == "file":
            if member.size < 0:
                raise _Corrupt("%s has a negative size" % name)
            total += member.size
            if total > max_total_bytes:
                raise _Unsafe(name, "the archive unpacks to more than %d bytes (a decompression bomb?)"
                              % max_total_bytes)
            if max_ratio is not None and total > max_ratio * max(archive_size, 1):
                raise _Unsafe(name, "the archive unpacks to more than %s times its own size (a decompression bomb?)"
                              % max_ratio)
        if not rel:
            if kind != "dir":
                raise _Unsafe(name, "it names the destination itself but is a %s" % _KIND_NAMES[kind])
            continue
        parent = rel.rpartition("/")[0]
        prefixes = () if parent in checked else _prefixes(rel)
        for prefix in prefixes:
            above = kinds.get(prefix)
            if above == "sym":
                raise _Unsafe(name, "it would be written through %s, a symlink in the archive" % prefix)
            if above is not None and above != "dir":
                raise _Unsafe(name, "it lies under %s, which is a %s in the archive" % (prefix, _KIND_NAMES[above]))
        if rel in kinds and not (kind == "dir" and kinds[rel] == "dir"):
            raise _Unsafe(name, "it appears more than once in the archive")
        if kind != "dir" and rel in parents:
            raise _Unsafe(name, "other members lie under it, but it is a %s" % _KIND_NAMES[kind])
        if kind == "lnk":
            try:
                target = _normalise(member.linkname, name)
            except _Unsafe:
                raise _Unsafe(name, "it is a hardlink to %s, outside the destination" % member.linkname)
            if kinds.get(target) not in ("file", "lnk"):
                raise _Unsafe(name, "it is a hardlink to %s, which is not an earlier file of the archive"
                              % (member.linkname or "nothing"))
            entries.append((member, rel, kind, target))
        elif kind == "sym":
            if not member.linkname:
                raise _Unsafe(name, "it is a symlink with an empty target")
            if member.linkname.startswith("/"):
                if not allow_absolute_symlinks:
                    raise _Unsafe(name, "it is a symlink to the absolute path %s" % member.linkname)
                # Trusted layer-cache entries (venvs link to their interpreter by absolute path): the
                # link is kept, and nothing may be written through it (checked above and below).
            else:
                symlinks[rel] = member.linkname
            entries.append((member, rel, kind, None))
        else:
            entries.append((member, rel, kind, None))
        kinds[rel] = kind
        if prefixes:
            parents.update(prefixes)
            checked.add(parent)

    # The end-of-archive marker must be there: without it the archive was cut short at a header.
    guard.seek(tar.offset)
    marker = guard.read(tarfile.BLOCKSIZE)
    if len(marker) < tarfile.BLOCKSIZE or marker.count(b"\0") != tarfile.BLOCKSIZE:
        raise _Corrupt("it ends without an end-of-archive marker (%d members read): it was cut short" % count)
    if fmt != "tar":
        # Read the compressed stream to its end: this is where gzip checks its CRC and length.
        while guard.read(_CHUNK):
            pass

    for rel, target in sorted(symlinks.items()):
        _resolved, why = _resolve(dest, rel, target, symlinks, kinds)
        if why:
            raise _Unsafe(rel, why)
    if check_destination:  # not while tar fills an empty staging directory beside the scan
        _check_destination(dest, [(member, rel, kind) for member, rel, kind, _target in entries])
    return entries, total


def _file_mode(kind, mode):
    """The mode a file or directory of the archive gets: normalised as tarfile's data filter does."""
    return (mode & _KEEP_BITS) | _OWNER_BITS[kind]


def _odd_mode(kind, mode):
    """True when the archive's mode of a file or directory is not the one it gets (see _file_mode)."""
    return kind in _OWNER_BITS and _file_mode(kind, mode) != mode & 0o7777
