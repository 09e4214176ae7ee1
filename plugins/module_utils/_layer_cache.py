# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Built layers kept as archives keyed by fingerprint, for hosts that are new every build.

In an image pipeline the host never has a previous layer, so the on-host
fingerprint never hits. The engine asks this cache before building: an entry
whose key equals the layer's key (inputs + destination path + kind + layer
format; inputs already hold arch, libc, distro and Python version) is restored
instead of rebuilt, after its sha256 is checked. A corrupt or truncated entry
is discarded, never restored; a cache that cannot be read or written gives a
warning, never a failure.

Layout, the same in a directory and on an HTTP server (so one can be served as
the other): ``<root>/<key[:2]>/<key>.tar`` (or ``<key>.tar.gz``) and
``<key>.json`` (metadata: compression, sha256, size, kind, the fingerprint
record, built_at/built_on, hits, last_used). The archive is written first and
the metadata last, so an entry whose metadata can be read is whole; readers
take the archive's name from the metadata, so caches may mix both kinds.

Archives are plain tar or gzip (_layer_cache_options.py says which, and
why). A directory restore checks the sha256 in a second thread while the
archive's headers are scanned and its members written, and nothing is put in
place before both are done.

``DirectoryCache`` is a directory on the target (a volume the pipeline mounts)
or on the controller (plugin_utils/_controller_cache.py). Entries are written
under a temporary name and renamed, under a per-entry flock; least recently
used entries go first when the cache outgrows its limits. A restore appends
one byte to ``<key>.hits`` (O_APPEND: atomic, no lock, no rewrite of the
metadata): hits are the metadata's count plus that file's size, last use its
mtime. ``HttpCache`` (_layer_cache_http.py) keeps the same layout on a server.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import contextlib
import errno
import fcntl
import json
import os
import re
import tarfile
import threading
import time

from ansible_collections.appenv.python.plugins.module_utils import _archive, _layer
from ansible_collections.appenv.python.plugins.module_utils._fingerprint import write_json_atomic

CACHE_FORMAT = "appenv.python/layer-cache/1"
KEY = re.compile(r"^[0-9a-f]{64}$")
# The archive of an entry by its metadata's compression (entries written before it was recorded: gzip).
SUFFIXES = {"none": ".tar", "gzip": ".tar.gz"}


def parse_meta(text):
    """The metadata of an entry from its JSON text, or None when it is not one."""
    try:
        meta = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT or not KEY.match(str(meta.get("key"))):
        return None
    return meta


def compression_of(meta):
    """The compression of an entry's archive ('none' or 'gzip') from its metadata."""
    compression = (meta or {}).get("compression")
    return compression if compression in SUFFIXES else "gzip"


def archive_suffix(meta):
    return SUFFIXES[compression_of(meta)]


def read_meta(meta_path):
    """The metadata in an entry's <key>.json file, or None when it is unreadable or not one."""
    try:
        with open(meta_path) as handle:
            return parse_meta(handle.read())
    except (IOError, OSError):
        return None


def concrete_compression(compression):
    """compression ('none' or 'gzip'); a cache is told which, never 'auto' (that is _layer_cache_options.py's)."""
    if compression not in SUFFIXES:
        raise ValueError("a layer cache stores 'none' or 'gzip' archives, not %r" % (compression,))
    return compression


class _Sha256Thread(threading.Thread):
    """The sha256 of a file, computed beside the extraction (hashlib lets go of the GIL while it hashes)."""

    def __init__(self, path):
        super(_Sha256Thread, self).__init__(name="appenv-layer-cache-sha256")
        self.daemon = True
        self.path = path
        self.digest = None
        self.error = None

    def run(self):
        try:
            self.digest = _layer.file_sha256(self.path)
        except (IOError, OSError) as exc:
            self.error = exc

    def result(self):
        """The hex digest, or a phrase saying why there is none."""
        self.join()
        return self.digest if self.error is None else "unreadable (%s)" % self.error


def _temp_name(path):
    return "%s.tmp-%d-%s" % (path, os.getpid(), binascii.hexlify(os.urandom(4)).decode("ascii"))


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _whole_seconds(info):
    """A member's mtime in whole seconds, as ustar holds it: a fractional one costs a pax header per member,
    which doubles the headers a restore reads (pycs record their source's mtime in whole seconds too)."""
    info.mtime = int(info.mtime)
    return info


class LayerCache:
    """What both caches share: the entry format, packing, checked extraction and the warnings.

    A subclass says where entries live: lookup, entries, complete, count_hit, and the hooks
    _reading/_writing (locks), _verified_archive (a local copy of an entry's archive
    and a callable returning its sha256, checked before anything is put in place), _pack_path, _publish and _forget.
    """

    location = ""
    compression = "gzip"
    # What reading or writing this cache may raise (a warning when storing, a titled error when listing).
    failures = (IOError, OSError)

    def __init__(self):
        self.warnings = []
        self._discarded = set()

    def _warn(self, text):
        if text not in self.warnings:
            self.warnings.append(text)

    def _usable_size(self, key, meta, size):
        """False (with a warning) when the archive's size is not the recorded one."""
        if size is None or size == meta.get("size"):
            return True
        self._warn("layer cache entry %s is truncated (%d of %s bytes); it is not used and will be replaced"
                   % (key[:12], size, meta.get("size")))
        return False

    def _corrupt(self, key, actual, expected):
        self.discard(key, "its sha256 is %s, %s was recorded (corrupt or truncated)" % (actual, expected))

    def discard(self, key, why):
        self._discarded.add(key)
        self._forget(key)
        self._warn("layer cache entry %s was discarded: %s" % (key[:12], why))

    # -- restore -------------------------------------------------------------
    def restore(self, key, target, runner=None):
        """Extract the entry for key into target (which must not exist yet). Returns meta or None.

        runner: the module's CommandRunner, so that the tar it may start is in the module's history.
        Nothing is left in target unless the archive's sha256 is the recorded one and every member checked out.
        """
        with self._reading(key):
            meta = self.lookup(key)
            if meta is None:
                return None
            with self._verified_archive(key, meta, target) as (archive, sha256):
                if archive is None:
                    return None
                os.makedirs(target, 0o755)
                failure = None
                try:
                    _archive.safe_extract(archive, target, allow_absolute_symlinks=True, runner=runner, overlap=True)
                except Exception as exc:  # pylint: disable=broad-except
                    failure = exc
                actual = sha256()
                if actual != meta.get("sha256") or failure is not None:
                    _layer.remove_tree(target)
                if actual != meta.get("sha256"):
                    self._corrupt(key, actual, meta.get("sha256"))
                    return None
                if isinstance(failure, (IOError, OSError)):
                    self._warn("layer cache entry %s could not be extracted here (%s); the layer is built instead"
                               % (key[:12], failure))
                    return None
                if failure is not None:
                    self.discard(key, "it could not be extracted (%s)" % failure)
                    return None
        self.count_hit(key, meta)
        return meta

    # -- store ----------------------------------------------------------------
    def store(self, key, source_dir, record, files=None):
        """Archive source_dir as the entry for key. Failures become warnings, never errors.

        files: only these paths (relative to source_dir, no directories) are archived: an overlay layer.
        """
        with self._writing(key) as exclusive:
            if exclusive and key not in self._discarded:
                existing = self.lookup(key)
                if existing is not None:
                    return existing  # another build stored the same layer meanwhile
            temp = None
            try:
                temp = _temp_name(self._pack_path(key, source_dir))
                meta = self._pack(key, source_dir, record, temp, files, self.compression)
                self._publish(key, temp, meta)
            except self.failures as exc:
                self._warn("the layer was built but could not be stored in the layer cache %s (%s)"
                           % (self.location, self._store_failure(exc)))
                return None
            finally:
                if temp is not None:
                    _unlink(temp)
        self.evict()
        return meta

    @staticmethod
    def _store_failure(exc):
        if getattr(exc, "errno", None) in (errno.EROFS, errno.EACCES, errno.EPERM):
            return "read-only"
        return str(exc)

    @staticmethod
    def _pack(key, source_dir, record, temp, files=None, compression="gzip"):
        with (tarfile.open(temp, "w:gz", compresslevel=1) if compression == "gzip" else tarfile.open(temp, "w")) as tar:
            if files is None:
                for name in sorted(os.listdir(source_dir)):
                    tar.add(os.path.join(source_dir, name), arcname=name, filter=_whole_seconds)
            else:
                for rel in sorted(files):
                    tar.add(os.path.join(source_dir, rel), arcname=rel, recursive=False, filter=_whole_seconds)
        return {
            "format": CACHE_FORMAT,
            "key": key,
            "compression": compression,
            "sha256": _layer.file_sha256(temp),
            "size": os.path.getsize(temp),
            "kind": record.get("kind"),
            "path": record.get("path") or os.path.abspath(source_dir),
            "record": record,
            "built_at": record.get("built_at"),
            "built_on": record.get("built_on"),
            "hits": 0,
            "last_used": int(time.time()),
        }

    def evict(self):
        return []


class DirectoryCache(LayerCache):
    """A layer cache in a directory on the target (e.g. a volume the pipeline mounts)."""

    def __init__(self, root, max_bytes=None, max_age_days=None, compression="none"):
        super(DirectoryCache, self).__init__()
        self.root = os.path.abspath(root)
        self.location = self.root
        self.max_bytes = max_bytes
        self.max_age_days = max_age_days
        self.compression = concrete_compression(compression)

    # -- paths -------------------------------------------------------------
    def _paths(self, key, meta=None):
        """The shard directory, the archive (named by meta's compression, else this cache's) and the metadata."""
        directory = os.path.join(self.root, key[:2])
        suffix = archive_suffix(meta if meta is not None else {"compression": self.compression})
        return directory, os.path.join(directory, key + suffix), os.path.join(directory, key + ".json")

    def entry_files(self, key, meta=None):
        """(archive, metadata file) of key's entry; the archive named by meta's compression, else this cache's."""
        return self._paths(key, meta)[1:]

    def _hits_path(self, key):
        return os.path.join(self.root, key[:2], key + ".hits")

    def _with_usage(self, meta):
        """meta with the hits and last use counted in its <key>.hits file."""
        try:
            usage = os.stat(self._hits_path(meta["key"]))
        except OSError:
            return meta
        meta["hits"] = int(meta.get("hits") or 0) + usage.st_size
        meta["last_used"] = max(int(meta.get("last_used") or 0), int(usage.st_mtime))
        return meta

    # -- lookups -----------------------------------------------------------
    def lookup(self, key):
        """Metadata of a usable-looking entry for key, or None. Read-only (check mode uses it)."""
        meta = read_meta(self._paths(key)[2])
        archive = None if meta is None else self._paths(key, meta)[1]
        if meta is None or not os.path.isfile(archive):
            return None
        return meta if self._usable_size(key, meta, os.path.getsize(archive)) else None

    def _forget(self, key):
        directory, _archive_path, meta_path = self._paths(key)
        _unlink(meta_path)  # first: without it the entry is gone for readers
        for suffix in SUFFIXES.values():
            _unlink(os.path.join(directory, key + suffix))
        _unlink(self._hits_path(key))

    def _entry_lock(self, key, exclusive):
        """flock on <key>.lock: writers of one entry go one at a time, readers never see half of one."""
        directory = self._paths(key)[0]
        try:
            os.makedirs(directory, 0o755, exist_ok=True)
            handle = open(os.path.join(directory, key + ".lock"), "a")
        except (IOError, OSError):
            return None  # a read-only cache: reads need no lock, writes fail later with a warning
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        return handle

    @contextlib.contextmanager
    def _locked(self, key, exclusive):
        lock = self._entry_lock(key, exclusive)
        try:
            yield lock is not None
        finally:
            if lock is not None:
                lock.close()

    def _reading(self, key):
        return self._locked(key, exclusive=False)

    def _writing(self, key):
        return self._locked(key, exclusive=True)

    @contextlib.contextmanager
    def _verified_archive(self, key, meta, target):
        """(archive, sha256): the sha256 is computed in a thread while the archive is extracted."""
        archive = self._paths(key, meta)[1]
        hashing = _Sha256Thread(archive)
        hashing.start()
        try:
            yield archive, hashing.result
        finally:
            hashing.join()

    def count_hit(self, key, meta):
        """One more restore of key's entry (best effort: a read-only cache counts nothing)."""
        try:
            fd = os.open(self._hits_path(key), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError:
            return  # a read-only cache: the restore still counts for the build, not in the cache
        try:
            os.write(fd, b".")
        except OSError:
            pass
        finally:
            os.close(fd)

    # -- store ----------------------------------------------------------------
    def _pack_path(self, key, source_dir):
        directory, archive, _meta_path = self._paths(key)
        os.makedirs(directory, 0o755, exist_ok=True)
        return archive

    def _publish(self, key, temp, meta):
        _directory, archive, meta_path = self._paths(key, meta)
        os.rename(temp, archive)
        _unlink(self._hits_path(key))  # a new entry starts with no hits
        write_json_atomic(meta_path, meta)

    def adopt(self, key, archive, meta):
        """Make an entry packed elsewhere key's entry (replacing any), then evict.

        archive: a file on this cache's filesystem, already checked against meta's sha256; it is moved in.
        The metadata is written last, as store() does, under the entry's lock.
        """
        with self._writing(key):
            self._forget(key)
            self._publish(key, archive, meta)
        self.evict()

    # -- housekeeping --------------------------------------------------------
    def entries(self):
        found = []
        if not os.path.isdir(self.root):
            return found
        for shard in sorted(os.listdir(self.root)):
            shard_dir = os.path.join(self.root, shard)
            if not os.path.isdir(shard_dir):
                continue
            for name in sorted(os.listdir(shard_dir)):
                if name.endswith(".json"):
                    meta = read_meta(os.path.join(shard_dir, name))
                    if meta is not None:
                        found.append(self._with_usage(meta))
        return found

    def complete(self, meta):
        """Whether the entry's archive is there with the recorded size."""
        archive = self._paths(meta["key"], meta)[1]
        return os.path.isfile(archive) and os.path.getsize(archive) == meta.get("size")

    def evict(self):
        """Drop entries older than max_age_days, then least recently used ones above max_bytes."""
        now = time.time()
        entries = sorted(self.entries(), key=lambda meta: meta.get("last_used", 0))
        removed = []
        if self.max_age_days is not None:
            for meta in list(entries):
                if now - meta.get("last_used", 0) > self.max_age_days * 86400:
                    self._remove(meta["key"])
                    entries.remove(meta)
                    removed.append(meta["key"])
        if self.max_bytes is not None:
            total = sum(meta.get("size", 0) for meta in entries)
            while entries and total > self.max_bytes:
                oldest = entries.pop(0)
                total -= oldest.get("size", 0)
                self._remove(oldest["key"])
                removed.append(oldest["key"])
        return removed

    def _remove(self, key):
        self._forget(key)
        _unlink(os.path.join(self._paths(key)[0], key + ".lock"))
