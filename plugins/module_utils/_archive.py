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
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import gzip
import hashlib
import os
import shutil
import stat
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

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner, find_program

_CHUNK = 1 << 20
MAX_TOTAL_MB = 4096  # the default limits of an archive: its unpacked size and its member count
MAX_MEMBERS = 200000
# No tar header, GNU long name or pax record is legitimately this large: a bigger
# single read is an attempt to make the reader allocate without bound.
_MAX_HEADER_READ = 64 << 20
_MAX_LINK_HOPS = 40
_KEEP_BITS = 0o755  # as tarfile's data filter: no setuid/setgid/sticky, no group or other write
_OWNER_BITS = {"file": 0o600, "dir": 0o700}  # and the owner can always read and write (and enter) what it owns

_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError, ValueError, RecursionError, UnicodeError)
if lzma is not None:
    _READ_ERRORS += (lzma.LZMAError,)
if zstd is not None:  # pragma: no cover - Python 3.14+
    _READ_ERRORS += (getattr(zstd, "ZstdError", EOFError),)


class _Unsafe(Exception):
    def __init__(self, member, why):
        super(_Unsafe, self).__init__(why)
        self.member = member
        self.why = why


class _Corrupt(Exception):
    pass


class _Unsupported(Exception):
    pass


class _Guard:
    """The decompressed stream as tarfile sees it: bounded in length and in single reads."""

    def __init__(self, raw, limit):
        self.raw = raw
        self.limit = limit

    def _check(self):
        position = self.raw.tell()
        if position > self.limit:
            raise _Unsafe("(the archive stream)", "it unpacks to more than %d bytes (a decompression bomb?)"
                          % self.limit)
        return position

    def read(self, size=-1):
        if size is None or size < 0 or size > _MAX_HEADER_READ:
            raise _Unsafe("(a member header)", "a header, long name or pax record larger than %d bytes"
                          % _MAX_HEADER_READ)
        data = self.raw.read(size)
        self._check()
        return data

    def seek(self, offset, whence=0):
        result = self.raw.seek(offset, whence)
        self._check()
        return result

    def tell(self):
        return self.raw.tell()

    def close(self):
        self.raw.close()


def _open_raw(archive):
    """archive (a path, or a file already open for reading) as a file of our own: an open file is not looked up
    again by name, so the file its caller checked (hashed) is the file extracted."""
    if hasattr(archive, "fileno"):
        raw = os.fdopen(os.dup(archive.fileno()), "rb")
        raw.seek(0)
        return raw
    return open(archive, "rb")


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


def _normalise(name, member):
    """The member's path relative to the destination ('' for the destination itself)."""
    if not isinstance(name, str):
        raise _Unsafe(member, "its name is not text")
    if name.startswith("/"):
        raise _Unsafe(member, "its path is absolute")
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
        for prefix in _prefixes(rel):
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
        parents.update(_prefixes(rel))

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


# Below this many members the Python writer is done before tar would have started.
NATIVE_MIN_MEMBERS = 256
# Below this size the checks take too little time for overlapping them with tar to pay.
OVERLAP_MIN_BYTES = 8 << 20
_GNU_TAR = []
# What tar says when the disk, not the archive, is at fault: raised as OSError, like the Python writer.
_TAR_OS_ERRORS = (("No space left on device", errno.ENOSPC), ("Read-only file system", errno.EROFS),
                  ("Permission denied", errno.EACCES), ("Disk quota exceeded", errno.EDQUOT))


def gnu_tar():
    """The path of GNU tar on the host (checked once per process), or None."""
    if not _GNU_TAR:
        program = find_program("tar")
        found = None
        if program is not None:
            try:
                version = CommandRunner().run([program, "--version"], what="Looking for GNU tar", check=False)
            except AppenvError:
                version = None
            if version is not None and version.rc == 0 and "GNU tar" in version.stdout.split("\n", 1)[0]:
                found = program
        _GNU_TAR.append(found)
    return _GNU_TAR[0]


def _tar_usable(fmt):
    """GNU tar's path when it can read an archive of this format on this host, else None."""
    if fmt not in ("tar", "gzip") or (fmt == "gzip" and find_program("gzip") is None):
        return None
    return gnu_tar()


def _empty(dest):
    try:
        return not os.listdir(dest)
    except OSError:
        return True  # missing: made before tar runs


def _native_ready(fmt, dest, entries, min_members):
    """GNU tar's path when it may write these checked members into dest, else None."""
    if len(entries) < min_members or not _empty(dest):
        return None  # tar's writes into a full destination could not be told from what was there
    for member, _rel, kind, _target in entries:
        if _odd_mode(kind, member.mode):
            return None  # tar keeps setuid, sticky and group-writable bits; the Python writer normalises them
    return _tar_usable(fmt)


def _tar_argv(tar_program, fmt, dest):
    argv = [tar_program, "-x", "-f", "-", "-C", dest, "--no-same-owner", "--same-permissions",
            "--no-overwrite-dir", "--warning=no-unknown-keyword"]
    if fmt == "gzip":
        argv.insert(2, "-z")
    return argv


def _tar_result(result):
    """Raise OSError for a tar run that failed: the disk's errors by their errno, anything else as EIO."""
    if result.rc == 0:
        return
    detail = result.output[-2000:] or "tar exited with status %d" % result.rc
    for text, code in _TAR_OS_ERRORS:
        if text in detail:
            raise OSError(code, "%s (tar: %s)" % (os.strerror(code), detail.strip()))
    raise OSError(errno.EIO, "tar could not extract the checked archive: %s" % detail.strip())


def _after_tar(dest, entries):
    """Check that tar wrote every member and finish what it does otherwise than the Python writer. The counts."""
    counts = {"files": 0, "directories": 0, "symlinks": 0}
    for member, rel, kind, _target in entries:
        path = os.path.join(dest, rel)
        if not os.path.lexists(path):
            raise OSError(errno.EIO, "tar exited with status 0 but did not write %s" % member.name)
        if _odd_mode(kind, member.mode):
            os.chmod(path, _file_mode(kind, member.mode))
        counts[{"file": "files", "lnk": "files", "dir": "directories", "sym": "symlinks"}[kind]] += 1
    # tar makes the symlinks it must not follow yet (absolute, or with '..') at its very end, and leaves some
    # directories with the time of the run: their mtimes again, deepest first, as the Python writer sets them.
    for rel, mtime in sorted(((rel, member.mtime) for member, rel, kind, _target in entries if kind == "dir"),
                             reverse=True):
        os.utime(os.path.join(dest, rel), (mtime, mtime))
    return counts


def _extract_native(runner, tar_program, archive, fmt, dest, entries):
    """Write the checked members with GNU tar reading the already open archive. Raises OSError."""
    os.lseek(archive.fileno(), 0, os.SEEK_SET)  # the fd tar inherits: a buffered seek may move only the buffer
    _tar_result(runner.run(_tar_argv(tar_program, fmt, dest), what="Extracting an archive", check=False,
                           stdin_file=archive))
    return _after_tar(dest, entries)


def _reopen(raw):
    """The same open file with an offset of its own (through /proc), or None where that is not possible."""
    try:
        fd = os.open("/proc/self/fd/%d" % raw.fileno(), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    mine, theirs = os.fstat(raw.fileno()), os.fstat(fd)
    if (mine.st_dev, mine.st_ino) != (theirs.st_dev, theirs.st_ino):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb", buffering=0)


class _Overlapped:
    """GNU tar writing the archive into a private, empty staging directory while the scan reads it.

    Only for callers that put dest in place after a success and delete it otherwise (the layer cache): tar
    itself keeps every member inside dest (no absolute names, no '..', links it must not follow made last),
    dest is 0700 until the end so no other user reaches what tar wrote, and the checks' verdict decides.
    """

    def __init__(self, runner, raw, fmt, dest):
        self.dest = dest
        self.reader = None
        self.started = None
        self.mode = stat.S_IMODE(os.stat(dest).st_mode)
        tar_program = _tar_usable(fmt)
        reader = _reopen(raw) if tar_program is not None else None
        if reader is None:
            return
        os.chmod(dest, 0o700)
        try:
            self.started = runner.start(_tar_argv(tar_program, fmt, dest), "Extracting an archive",
                                        stdin_file=reader)
        except AppenvError:
            os.chmod(dest, self.mode)
            reader.close()
            return
        self.reader = reader

    def finish(self, entries):
        """After the checks passed: tar's verdict, then the counts (OSError when tar failed)."""
        try:
            _tar_result(self.started.wait())
            counts = _after_tar(self.dest, entries)
        finally:
            self.reader.close()
        os.chmod(self.dest, self.mode)
        return counts

    def abandon(self):
        """The checks failed (or finish raised): stop tar, empty dest."""
        self.started.kill()
        self.reader.close()
        _clear(self.dest, None)
        os.chmod(self.dest, self.mode)


def _clear(dest, created_root):
    """Empty dest (which was empty before), or remove what was created for it."""
    if created_root is not None:
        shutil.rmtree(created_root, ignore_errors=True)
        return
    try:
        names = os.listdir(dest)
    except OSError:
        return
    for name in names:
        path = os.path.join(dest, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            _remove_file(path)


def _remove_file(path):
    try:
        os.unlink(path)
    except OSError:
        pass


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
                tar = tarfile.TarFile(fileobj=guard, mode="r")
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
