# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Extract tar archives without letting them write outside their destination.

``safe_extract(archive, dest)`` reads every header first (one pass) and refuses
the whole archive, before anything is written, when a member:

- has an absolute name, a ``..`` component, or appears twice;
- lies under a symlink or a file of the archive (or of the destination), so it
  would be written through a link;
- is a symlink whose target is absolute or, followed from the link's own
  directory through the archive's other symlinks, leaves the destination;
- is a hardlink to a name that is not an earlier file of the archive;
- is a device, fifo, socket or a type tar does not define;
- takes the archive over the member count or the unpacked size limit, or past
  the compression ratio limit (decompression bombs: refused from the headers,
  before the bomb's data is unpacked).

A truncated or damaged archive (gzip CRC, unexpected end, no end-of-archive
marker) is reported as corrupt: the compressed stream is read to its end, so
its checksum is verified, before extraction starts. Extraction writes member by
member (never following a link, never changing ownership), keeps mtimes and
executable bits, normalises modes as tarfile's ``data`` filter does (no
setuid/setgid/sticky, no group or other write; files owner-readable and
-writable, directories owner-rwx), and
removes what it wrote if it fails half-way. gzip, xz, bzip2 and plain tar are
read with the standard library; zstd where the host's Python has it (3.14+).

Writing is the slow half (tens of thousands of small files in a venv), so when
the archive has many members (``native_min_members``), the destination is new
or empty, the archive is plain tar or gzip, no member carries a bit to strip
and the host has GNU tar, the members the scan accepted
are written by ``tar`` reading the same open file (no new lookup of the path,
so the file that was checked is the file that is extracted); otherwise, and
when ``native=False``, they are written from Python. A plain tar is scanned by
seeking from header to header, so only the member data ``tar`` writes is read.

Which file owns what: this one opens the archive (``open_checked``, the format), writes from Python and
runs ``safe_extract``; the checks are ``_archive_checks`` (which also owns the mode rules both writers
apply), the GNU tar writer is ``_archive_native``. Neither imports this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import hashlib
import os
import shutil
import sys
import tarfile
import zlib

try:
    import lzma
except ImportError:  # pragma: no cover - Python built without liblzma
    lzma = None
try:
    import bz2
except ImportError:  # pragma: no cover - Python built without libbz2
    bz2 = None
try:
    from compression import zstd  # Python 3.14+
except ImportError:
    zstd = None

from ansible_collections.appenv.python.plugins.module_utils._archive_checks import (
    _CHUNK, _Corrupt, _Unsafe, _file_mode, _prefixes, _scan)
from ansible_collections.appenv.python.plugins.module_utils._archive_native import (
    NATIVE_MIN_MEMBERS, OVERLAP_MIN_BYTES, _clear, _empty, _extract_native, _native_ready, _Overlapped)
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner

MAX_TOTAL_MB = 4096  # the default limits of an archive: its unpacked size and its member count
MAX_MEMBERS = 200000
# No tar header, GNU long name or pax record is legitimately this large: a bigger
# single read is an attempt to make the reader allocate without bound.
_MAX_HEADER_READ = 64 << 20
# The scan reads 512-byte headers and seeks over the data between them: with a buffer this large the seeks over
# small members land inside it, so a venv's headers are read in a few hundred read(2)s, not one per member.
_READ_BUFFER = 64 << 10

_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError, ValueError, RecursionError, UnicodeError)
if lzma is not None:
    _READ_ERRORS += (lzma.LZMAError,)
if zstd is not None:  # pragma: no cover - Python 3.14+
    _READ_ERRORS += (getattr(zstd, "ZstdError", EOFError),)


class _Unsupported(Exception):
    pass


def _header_sum(buf):
    """The unsigned checksum of a 512-byte tar header (the sum of its bytes, its checksum field counted as eight
    spaces: 8 * 32 = 256), in C: the low half of an Adler-32 is 1 + the sum of the bytes modulo 65521, exact for at
    most 256 bytes (256 * 255 < 65521), so three of them (the three 1s: 256 - 3 = 253)."""
    adler = zlib.adler32
    return (adler(buf[:148]) & 0xffff) + (adler(buf[156:412]) & 0xffff) + (adler(buf[412:512]) & 0xffff) + 253


class _TarInfo(tarfile.TarInfo):
    """tarfile's TarInfo, read faster: a header is read as tarfile's ``frombuf`` reads it but for the checksum.

    tarfile sums the 512 bytes of every header twice in Python (signed and unsigned), which is half of what
    reading a venv's 7,700 headers costs. Here the unsigned sum is taken in C (_header_sum); a header
    it does not match (a bad or signed checksum, an end-of-archive block, a short read) and an old GNU sparse
    header are left to tarfile, which raises or decides as always. Every field is read by tarfile's own
    nts/nti, in frombuf's order, so a header is read exactly as tarfile reads it (the unit tests compare the two).

    Pythons with the 2024-2025 tarfile fixes (3.12.6+, 3.13, and the distributions' 3.11 and older builds
    with them backported, Debian bookworm's among them) read headers through ``_frombuf(dircheck=...)``, not
    ``frombuf``: both are overridden, or the fast path is never taken where the hosts' Python has the fix.
    """

    @classmethod
    def _fast(cls, buf, encoding, errors, dircheck):
        """The header read as tarfile's _frombuf reads it, or None where tarfile itself must read it."""
        if len(buf) != tarfile.BLOCKSIZE or buf[156:157] == tarfile.GNUTYPE_SPARSE:
            return None
        try:
            chksum = tarfile.nti(buf[148:156])
        except tarfile.HeaderError:
            return None
        if chksum != _header_sum(buf):
            return None
        nts, nti = tarfile.nts, tarfile.nti
        obj = cls()
        obj.name = nts(buf[0:100], encoding, errors)
        obj.mode = nti(buf[100:108])
        obj.uid = nti(buf[108:116])
        obj.gid = nti(buf[116:124])
        obj.size = nti(buf[124:136])
        obj.mtime = nti(buf[136:148])
        obj.chksum = chksum
        obj.type = buf[156:157]
        obj.linkname = nts(buf[157:257], encoding, errors)
        obj.uname = nts(buf[265:297], encoding, errors)
        obj.gname = nts(buf[297:329], encoding, errors)
        obj.devmajor = nti(buf[329:337])
        obj.devminor = nti(buf[337:345])
        prefix = nts(buf[345:500], encoding, errors)
        if dircheck and obj.type == tarfile.AREGTYPE and obj.name.endswith("/"):
            obj.type = tarfile.DIRTYPE  # the old V7 format's directory
        if obj.isdir():
            obj.name = obj.name.rstrip("/")
        if prefix and obj.type not in tarfile.GNU_TYPES:
            obj.name = prefix + "/" + obj.name  # a ustar long name
        return obj

    @classmethod
    def frombuf(cls, buf, encoding, errors):
        obj = cls._fast(buf, encoding, errors, True)
        return obj if obj is not None else super(_TarInfo, cls).frombuf(buf, encoding, errors)

    if hasattr(tarfile.TarInfo, "_frombuf"):
        @classmethod
        def _frombuf(cls, buf, encoding, errors, **kwargs):  # pylint: disable=arguments-differ
            obj = cls._fast(buf, encoding, errors, kwargs.get("dircheck", True))
            return obj if obj is not None else super(_TarInfo, cls)._frombuf(buf, encoding, errors, **kwargs)


class _Guard:
    """The decompressed stream as tarfile sees it: bounded in length and in single reads."""

    def __init__(self, raw, limit):
        self.raw = raw
        self.limit = limit
        # Kept here, not asked of the file: tarfile asks for it several times a member, and a buffered file
        # answers with an lseek(2) each time (43,000 system calls for a venv of 7,700 files).
        self.position = raw.tell()

    def _check(self):
        if self.position > self.limit:
            raise _Unsafe("(the archive stream)", "it unpacks to more than %d bytes (a decompression bomb?)"
                          % self.limit)
        return self.position

    def read(self, size=-1):
        if size is None or size < 0 or size > _MAX_HEADER_READ:
            raise _Unsafe("(a member header)", "a header, long name or pax record larger than %d bytes"
                          % _MAX_HEADER_READ)
        data = self.raw.read(size)
        self.position += len(data)
        self._check()
        return data

    def seek(self, offset, whence=0):
        self.position = self.raw.seek(offset, whence)
        self._check()
        return self.position

    def tell(self):
        return self.position

    def close(self):
        self.raw.close()


def _open_raw(archive):
    """archive (a path, or a file already open for reading) as a file of our own: an open file is not looked up
    again by name, so the file its caller checked (hashed) is the file extracted."""
    if hasattr(archive, "fileno"):
        raw = os.fdopen(os.dup(archive.fileno()), "rb", buffering=_READ_BUFFER)
        raw.seek(0)
        return raw
    return open(archive, "rb", buffering=_READ_BUFFER)


def open_checked(path, chunk=_CHUNK):
    """path opened once and hashed through that open file: (the open file, rewound; its sha256 hex).

    Hand the file to safe_extract: nothing can swap the path between the check and the extraction."""
    handle = open(path, "rb")
    try:
        digest = hashlib.sha256()
        while True:
            block = handle.read(chunk)
            if not block:
                break
            digest.update(block)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle, digest.hexdigest()


def refusal(total_bytes, members, max_total_bytes=MAX_TOTAL_MB << 20, max_members=MAX_MEMBERS):
    """Why safe_extract with these limits would refuse an archive of members unpacking to total_bytes; None if not.

    The layer cache asks before it stores an entry, so it never stores what its restore would refuse."""
    if members > max_members:
        return "it has %d members, more than the limit of %d" % (members, max_members)
    if total_bytes > max_total_bytes:
        return "it unpacks to %d bytes, more than the limit of %d" % (total_bytes, max_total_bytes)
    return None


def _open_stream(archive):
    """The open archive file, its decompressed stream (seekable) and the format's name."""
    raw = _open_raw(archive)
    try:
        head = raw.read(6)
        raw.seek(0)
        if head[:2] == b"\x1f\x8b":
            return raw, gzip.GzipFile(fileobj=raw, mode="rb"), "gzip"
        if head[:6] == b"\xfd7zXZ\x00":
            if lzma is None:
                raise _Unsupported("xz")
            return raw, lzma.LZMAFile(raw, "rb"), "xz"
        if head[:3] == b"BZh":
            if bz2 is None:
                raise _Unsupported("bzip2")
            return raw, bz2.BZ2File(raw, "rb"), "bzip2"
        if head[:4] == b"\x28\xb5\x2f\xfd":
            if zstd is None:
                raise _Unsupported("zstd")
            return raw, zstd.ZstdFile(raw, "rb"), "zstd"  # pragma: no cover - Python 3.14+
    except BaseException:
        raw.close()
        raise
    return raw, raw, "tar"


def _copy(source, handle, member):
    written = 0
    while True:
        try:
            block = source.read(_CHUNK)
        except _READ_ERRORS as exc:
            raise _Corrupt("reading %s failed: %s" % (member.name, exc))
        if not block:
            break
        handle.write(block)
        written += len(block)
    if written != member.size:
        raise _Corrupt("%s holds %d bytes, its header says %d" % (member.name, written, member.size))
    return written


def _set_link_mtime(path, mtime):
    if os.utime in getattr(os, "supports_follow_symlinks", ()):
        try:
            os.utime(path, (mtime, mtime), follow_symlinks=False)
        except (OSError, NotImplementedError):
            pass


def _extract(tar, dest, entries, made):
    counts = {"files": 0, "directories": 0, "symlinks": 0}
    directories = []
    create = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for member, rel, kind, link_target in entries:
        path = os.path.join(dest, rel)
        for prefix in _prefixes(rel):
            parent = os.path.join(dest, prefix)
            if not os.path.isdir(parent):
                os.mkdir(parent, 0o755)
                made.append(parent)
        if kind == "dir":
            if not os.path.isdir(path):
                os.mkdir(path, 0o700)
                made.append(path)
                counts["directories"] += 1
            directories.append((rel, _file_mode("dir", member.mode), member.mtime))
            continue
        if os.path.lexists(path):
            os.unlink(path)  # validated: never a directory
        if kind == "file":
            try:
                source = tar.extractfile(member)
            except _READ_ERRORS as exc:
                raise _Corrupt("reading %s failed: %s" % (member.name, exc))
            fd = os.open(path, create, 0o600)
            made.append(path)
            with os.fdopen(fd, "wb") as handle:
                _copy(source, handle, member)
                os.fchmod(handle.fileno(), _file_mode("file", member.mode))
            os.utime(path, (member.mtime, member.mtime))
            counts["files"] += 1
        elif kind == "lnk":
            os.link(os.path.join(dest, link_target), path)
            made.append(path)
            counts["files"] += 1
        else:
            os.symlink(member.linkname, path)
            made.append(path)
            _set_link_mtime(path, member.mtime)
            counts["symlinks"] += 1
    # Deepest first, so setting a directory's mtime is not undone by writing into it.
    for rel, mode, mtime in sorted(directories, reverse=True):
        path = os.path.join(dest, rel)
        os.chmod(path, mode)
        os.utime(path, (mtime, mtime))
    return counts


def _undo(made, created_root):
    for path in reversed(made):
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.unlink(path)
        except OSError:
            pass
    if created_root is not None:
        shutil.rmtree(created_root, ignore_errors=True)


def _missing_root(dest):
    """The highest directory that makes would create for dest, or None if dest exists."""
    root = None
    path = dest
    while not os.path.lexists(path):
        root = path
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return root


def safe_extract(archive_path, dest_dir, max_total_bytes=MAX_TOTAL_MB << 20, max_members=MAX_MEMBERS, max_ratio=None,
                 allow_absolute_symlinks=False, native=True, runner=None, native_min_members=NATIVE_MIN_MEMBERS,
                 overlap=False):
    """Extract a tar archive (plain, gzip, xz, bzip2; zstd on Python 3.14+) into dest_dir (created if needed).

    archive_path: a path, or a binary file open for reading (see open_checked), read from its start.

    Every member is checked before anything is written; see the module's docstring.
    allow_absolute_symlinks: keep absolute symlinks (only for the collection's own layer-cache
    entries, restored at the path they were built for); nothing is ever written through one.
    native: let GNU tar write the checked members where it may (see the module's docstring), for archives of
    at least native_min_members members;
    runner: the CommandRunner that starts it (so the module's history shows it).
    overlap: dest is an empty staging directory the caller deletes unless this returns (the layer cache):
    for archives of OVERLAP_MIN_BYTES or more, tar starts writing while the members are checked, and is
    stopped, dest emptied, when a check fails (see _Overlapped).
    Returns dict(files=<regular files and hardlinks>, bytes=<unpacked bytes>, directories=, symlinks=).
    Raises AppenvError archive_unsafe (nothing written), archive_corrupt, archive_unsupported.
    Local write errors (disk full, read-only) propagate as OSError for the layer engine to name,
    after what was written is removed.
    """
    if not hasattr(archive_path, "fileno"):
        archive_path = os.fspath(archive_path)
    name = str(getattr(archive_path, "name", archive_path))
    dest = os.path.abspath(os.fspath(dest_dir))
    shown = os.path.basename(name) or name
    try:
        raw, stream, fmt = _open_stream(archive_path)
        archive_size = os.fstat(raw.fileno()).st_size
    except _Unsupported as exc:
        raise AppenvError("archive_unsupported", archive=shown, format=str(exc),
                          python="%d.%d" % tuple(sys.version_info[:2]))
    except (IOError, OSError) as exc:
        raise AppenvError("archive_corrupt", archive=shown, detail="it cannot be opened: %s" % (exc.strerror or exc))
    limit = max_total_bytes + (max_members + 16) * 3 * tarfile.BLOCKSIZE + _MAX_HEADER_READ
    guard = _Guard(stream, limit)
    made = []
    created_root = None
    overlapped = None
    try:
        if overlap and native and archive_size >= OVERLAP_MIN_BYTES and os.path.isdir(dest) and _empty(dest):
            overlapped = _Overlapped(runner or CommandRunner(), raw, fmt, dest)
            overlapped = overlapped if overlapped.started is not None else None
        try:
            try:
                tar = tarfile.TarFile(fileobj=guard, mode="r", tarinfo=_TarInfo)
                entries, total = _scan(tar, guard, dest, archive_size, fmt, max_total_bytes, max_members,
                                       max_ratio, allow_absolute_symlinks, check_destination=overlapped is None)
            except (_Unsafe, _Corrupt):
                raise
            except _READ_ERRORS as exc:
                raise _Corrupt("%s: %s" % (exc.__class__.__name__, exc) if str(exc) else exc.__class__.__name__)
        except BaseException:
            if overlapped is not None:
                overlapped.abandon()
            raise
        if overlapped is not None:
            try:
                counts = overlapped.finish(entries)  # OSError: the disk, named by the layer engine
            except BaseException:
                overlapped.abandon()
                raise
            counts["bytes"] = total
            return counts
        created_root = _missing_root(dest)
        tar_program = _native_ready(fmt, dest, entries, native_min_members) if native else None
        os.makedirs(dest, 0o755, exist_ok=True)
        try:
            if tar_program is not None:
                counts = _extract_native(runner or CommandRunner(), tar_program, raw, fmt, dest, entries)
            else:
                counts = _extract(tar, dest, entries, made)
        except BaseException:
            if tar_program is not None:
                _clear(dest, created_root)
            else:
                _undo(made, created_root)
            raise
    except _Unsafe as exc:
        raise AppenvError("archive_unsafe", archive=shown, member=exc.member, why=exc.why)
    except _Corrupt as exc:
        raise AppenvError("archive_corrupt", archive=shown, detail=str(exc))
    finally:
        stream.close()
        raw.close()
    counts["bytes"] = total
    return counts
