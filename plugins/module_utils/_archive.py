# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Extract archives without letting them write outside their destination.

Every member is checked BEFORE anything is written: absolute names, ``..``
components, links whose target leaves the destination, hardlinks to names not
in the archive, device files, fifos, and sizes or member counts beyond the
limits (decompression bombs) refuse the whole archive. Extraction then writes
member by member with setuid/setgid/world-writable bits stripped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import posixpath
import shutil
import tarfile
import zlib

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

_CORRUPT = (tarfile.ReadError, tarfile.CompressionError, EOFError, zlib.error, IOError, OSError)
try:
    import lzma
    _CORRUPT = _CORRUPT + (lzma.LZMAError,)
except ImportError:  # pragma: no cover - lzma is optional in some builds
    lzma = None


def _normalise(name):
    """The member's path relative to the destination, or None when it escapes."""
    if name.startswith("/") or name.startswith("\\"):
        return None
    parts = []
    for part in name.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            return None
        parts.append(part)
    return "/".join(parts)


def _unsafe(archive, member, why):
    raise AppenvError("archive_unsafe", archive=os.path.basename(archive), member=member, why=why)


def _validate(archive_path, members, max_total_bytes, max_members):
    names = set()
    total = 0
    if len(members) > max_members:
        _unsafe(archive_path, "(%d members)" % len(members), "more than %d members" % max_members)
    for member in members:
        rel = _normalise(member.name)
        if rel is None:
            _unsafe(archive_path, member.name, "its path leaves the destination")
        if member.isdev() or member.isfifo() or not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            _unsafe(archive_path, member.name, "it is a device, fifo or special file")
        if member.issym():
            target = member.linkname
            if target.startswith("/"):
                _unsafe(archive_path, member.name, "it is a symlink to the absolute path %s" % target)
            resolved = _normalise(posixpath.join(posixpath.dirname(rel), target))
            if resolved is None:
                _unsafe(archive_path, member.name, "it is a symlink to %s, outside the destination" % target)
        if member.islnk():
            target = _normalise(member.linkname)
            if target is None or target not in names:
                _unsafe(archive_path, member.name,
                        "it is a hardlink to %s, which is not an earlier member of the archive" % member.linkname)
        if member.isfile():
            total += member.size
            if total > max_total_bytes:
                _unsafe(archive_path, member.name, "the archive unpacks to more than %d bytes" % max_total_bytes)
        names.add(rel)
    return total


def _check_symlink_chains(dest, rel):
    """A path inside dest must not pass through a symlink that leaves it (symlink chains)."""
    real_dest = os.path.realpath(dest)
    real = os.path.realpath(os.path.join(dest, os.path.dirname(rel)))
    return real == real_dest or real.startswith(real_dest + os.sep)


def safe_extract(archive_path, dest_dir, max_total_bytes=4 << 30, max_members=200000):
    """Extract archive_path into dest_dir (created if needed). Returns {"files", "bytes"}."""
    try:
        with tarfile.open(archive_path, "r:*") as tar:
            members = tar.getmembers()
    except _CORRUPT as exc:
        raise AppenvError("archive_corrupt", archive=os.path.basename(archive_path), detail=exc)
    total = _validate(archive_path, members, max_total_bytes, max_members)
    if not os.path.isdir(dest_dir):
        os.makedirs(dest_dir, 0o755)
    files = 0
    try:
        with tarfile.open(archive_path, "r:*") as tar:
            for member in tar:
                rel = _normalise(member.name)
                if not rel:
                    continue
                if not _check_symlink_chains(dest_dir, rel):
                    _unsafe(archive_path, member.name, "it would be written through a symlink leaving the destination")
                target = os.path.join(dest_dir, rel)
                parent = os.path.dirname(target)
                if not os.path.isdir(parent):
                    os.makedirs(parent, 0o755)
                mode = member.mode & 0o775 & ~0o7000
                if member.isdir():
                    if not os.path.isdir(target):
                        os.mkdir(target, 0o755)
                    os.chmod(target, mode | 0o700)
                elif member.issym():
                    if os.path.lexists(target):
                        os.unlink(target)
                    os.symlink(member.linkname, target)
                elif member.islnk():
                    if os.path.lexists(target):
                        os.unlink(target)
                    os.link(os.path.join(dest_dir, _normalise(member.linkname)), target)
                else:
                    source = tar.extractfile(member)
                    with open(target, "wb") as writer:
                        shutil.copyfileobj(source, writer, 1 << 20)
                    os.chmod(target, mode)
                    os.utime(target, (member.mtime, member.mtime))
                    files += 1
    except AppenvError:
        raise
    except _CORRUPT as exc:
        if getattr(exc, "errno", None) in (28, 122):  # ENOSPC, EDQUOT: the host's fault, not the archive's
            raise
        raise AppenvError("archive_corrupt", archive=os.path.basename(archive_path), detail=exc)
    return {"files": files, "bytes": total}
