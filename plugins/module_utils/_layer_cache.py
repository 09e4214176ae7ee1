# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Built layers kept as archives keyed by fingerprint, for hosts that are new every build.

In an image pipeline the host never has a previous layer, so the on-host
fingerprint never hits. The engine asks this cache before building: an entry
whose key equals the layer's key (inputs + destination path + kind + layer
format; inputs already hold arch, libc, distro and Python version) is restored
instead of rebuilt, after its signature (_signing.py), its binding to the
request (_layer_cache_trust.py) and its sha256 are checked. A corrupt,
truncated, unsigned or foreign entry is refused, never restored; a cache that
cannot be read or written gives a warning, never a failure. ``store=False``
makes a reader that never writes (no store, lock file, hit or eviction).

Layout, the same in a directory and on an HTTP server (so one can be served as
the other): ``<root>/<key[:2]>/<key>.tar`` (or ``<key>.tar.gz``) and
``<key>.json`` (metadata: compression, sha256, size, kind, the fingerprint
record, built_at/built_on, hits, last_used, signatures). The archive is written first and
the metadata last, so an entry whose metadata can be read is whole; readers
take the archive's name from the metadata, so caches may mix both kinds.

Archives are plain tar or gzip (_layer_cache_options.py says which, and
why). A directory restore opens the archive once and checks the sha256 of that
open file in a second thread while the same file's headers are scanned and its
members written, and nothing is put in place before both are done.

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
import time

from ansible_collections.appenv.python.plugins.module_utils import _archive, _layer
from ansible_collections.appenv.python.plugins.module_utils._fingerprint import write_json_atomic
from ansible_collections.appenv.python.plugins.module_utils._layer_cache_entry import (
    SUFFIXES, archive_suffix, concrete_compression, pack_entry, read_meta, unpacked_size)
from ansible_collections.appenv.python.plugins.module_utils._layer_cache_trust import (
    open_archive, refusal, writable_by_others)
from ansible_collections.appenv.python.plugins.module_utils._signing import SigningFailed, Trust


def _temp_name(path):
    return "%s.tmp-%d-%s" % (path, os.getpid(), binascii.hexlify(os.urandom(4)).decode("ascii"))


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


class LayerCache:
    """What both caches share: the entry format, packing, checked extraction and the warnings.

    A subclass says where entries live: lookup, entries, complete, count_hit, and the hooks
    _reading/_writing (locks), _verified_archive (a local copy of an entry's archive
    and a callable returning its sha256, checked before anything is put in place), _pack_path, _publish and _forget.
    trust: the _signing.Trust that signs and checks entries; store: False for a reader that never writes;
    runner: the module's CommandRunner (ssh-keygen runs through it).
    """

    location = ""
    compression = "gzip"
    # The largest entry restored (and so stored): unpacked bytes and members (layer_cache.max_entry_mb/_members).
    max_entry_bytes = _archive.MAX_TOTAL_MB << 20
    max_entry_members = _archive.MAX_MEMBERS
    # What reading or writing this cache may raise (a warning when storing, a titled error when listing).
    failures = (IOError, OSError)

    def __init__(self, trust=None, store=True, runner=None):
        self.warnings = []
        self._discarded = set()
        self.trust = trust or Trust()
        self.store_enabled = store
        self.runner = runner
        self._verdicts = {}

    def _warn(self, text):
        if text not in self.warnings:
            self.warnings.append(text)

    def _trusted(self, key, meta):
        """meta when it is the entry for key, signed by a key this host trusts; else None, with a warning."""
        token = json.dumps(meta, sort_keys=True)
        if token not in self._verdicts:
            self._verdicts[token] = refusal(None, key, meta) or self.trust.check(meta, self.runner)
        if self._verdicts[token] is None:
            return meta
        self.refuse(key, self._verdicts[token])
        return None

    def refuse(self, key, why):
        """A warning; the entry is built and (where this host stores) replaced, never restored."""
        self._discarded.add(key)
        self._warn("layer cache entry %s is refused: %s; the layer is built instead" % (key[:12], why))

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
        """The entry is not used, and removed where this host writes the cache (a reader only warns)."""
        self._discarded.add(key)
        if self.store_enabled:
            self._forget(key)
        self._warn("layer cache entry %s was discarded: %s" % (key[:12], why))

    # -- restore -------------------------------------------------------------
    def restore(self, key, target, runner=None, spec=None):
        """Extract the entry for key into target (which must not exist yet). Returns meta or None.

        runner: the module's CommandRunner, so that the tar it may start is in the module's history.
        spec: the LayerSpec asking, to which the entry must be bound (_layer_cache_trust.refusal).
        Nothing is left in target unless the archive's sha256 is the recorded one and every member checked out.
        """
        self.runner = runner or self.runner
        with self._reading(key):
            meta = self.lookup(key)
            if meta is None:
                return None
            why = refusal(spec, key, meta)
            if why:
                self.refuse(key, why)
                return None
            with self._verified_archive(key, meta, target) as (archive, sha256):
                if archive is None:
                    return None
                os.makedirs(target, 0o755)
                failure = None
                counts = None
                try:
                    counts = _archive.safe_extract(archive, target, max_total_bytes=self.max_entry_bytes,
                                                   max_members=self.max_entry_members, allow_absolute_symlinks=True,
                                                   runner=runner, overlap=True)
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
        return dict(meta, extracted=counts)

    # -- store ----------------------------------------------------------------
    def store(self, key, source_dir, record, files=None):
        """Archive source_dir as the entry for key. Failures become warnings, never errors.

        files: only these paths (relative to source_dir, no directories) are archived: an overlay layer.
        """
        if not self.store_enabled:
            return None
        if self.trust.trust == "signed" and not (self.trust.hmac_key or self.trust.signing_key):
            self._warn("the layer was built but not stored in the layer cache %s: this host has no key to sign "
                       "entries with (hmac_key or signing_key; set store: false on hosts that only read)"
                       % self.location)
            return None
        too_large = _archive.refusal(*unpacked_size(source_dir, files), max_total_bytes=self.max_entry_bytes,
                                     max_members=self.max_entry_members)
        if too_large:  # a restore would refuse it: storing it would only make every fresh host build it again
            self._warn("the layer was built but not stored in the layer cache %s: %s (layer_cache.max_entry_mb and "
                       "max_entry_members raise the limits)" % (self.location, too_large))
            return None
        with self._writing(key) as exclusive:
            if exclusive and key not in self._discarded:
                existing = self.lookup(key)
                if existing is not None:
                    return existing  # another build stored the same layer meanwhile
            temp = None
            try:
                temp = _temp_name(self._pack_path(key, source_dir))
                meta = self.trust.sign(pack_entry(key, source_dir, record, temp, files, self.compression), self.runner)
                self._publish(key, temp, meta)
            except SigningFailed as exc:
                self._warn("the layer was built but not stored in the layer cache %s: %s" % (self.location, exc))
                return None
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

    def evict(self):
        return []


class DirectoryCache(LayerCache):
    """A layer cache in a directory on the target (e.g. a volume the pipeline mounts)."""

    def __init__(self, root, max_bytes=None, max_age_days=None, compression="none", trust=None, store=True,
                 runner=None, allow_shared_writable=False):
        super(DirectoryCache, self).__init__(trust, store, runner)
        self.allow_shared_writable = allow_shared_writable
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
        directory, _archive_path, meta_path = self._paths(key)
        meta = read_meta(meta_path)
        archive = None if meta is None else self._paths(key, meta)[1]
        if meta is None or not os.path.isfile(archive):
            return None
        shared = None if self.allow_shared_writable else writable_by_others(directory, meta_path)
        if shared:
            self.refuse(key, "its files can be written by other users (%s)" % shared)
            return None
        if not self._usable_size(key, meta, os.path.getsize(archive)):
            return None
        return self._trusted(key, meta)

    def _forget(self, key):
        directory, _archive_path, meta_path = self._paths(key)
        _unlink(meta_path)  # first: without it the entry is gone for readers
        for suffix in SUFFIXES.values():
            _unlink(os.path.join(directory, key + suffix))
        _unlink(self._hits_path(key))

    def _lock_path(self, key):
        return os.path.join(self._paths(key)[0], key + ".lock")

    def _entry_lock(self, key, exclusive, wait=True):
        """flock on <key>.lock: writers of one entry go one at a time, readers never see half of one.

        None when the cache is read-only here (reads need no lock, writes fail later with a warning); False when
        wait is false and another process holds the lock. Eviction unlinks a lock file while holding it, so a lock
        taken on a file that is no longer the one at its path guards nothing: it is taken again.
        """
        path = self._lock_path(key)
        while True:
            try:
                if not self.store_enabled:  # a reader writes nothing: it takes the lock only where it is there
                    handle = open(path, "r")
                else:
                    os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
                    handle = open(path, "a")
            except (IOError, OSError):
                return None
            try:
                fcntl.flock(handle.fileno(), (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                            | (0 if wait else fcntl.LOCK_NB))
            except (IOError, OSError) as exc:
                handle.close()
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    return False
                raise
            try:
                same = os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
            except OSError:
                same = False
            if same:
                return handle
            handle.close()

    @contextlib.contextmanager
    def _locked(self, key, exclusive):
        lock = self._entry_lock(key, exclusive)
        try:
            yield lock is not None
        finally:
            if lock:
                lock.close()

    def _reading(self, key):
        return self._locked(key, exclusive=False)

    def _writing(self, key):
        return self._locked(key, exclusive=True)

    @contextlib.contextmanager
    def _verified_archive(self, key, meta, target):
        """(archive, sha256): the archive opened once; the sha256 of that open file computed in a thread while
        the same file is extracted (_layer_cache_trust.open_archive)."""
        try:
            opened = open_archive(self._paths(key, meta)[1])
        except OSError as exc:
            self._warn("layer cache entry %s could not be opened here (%s); the layer is built instead"
                       % (key[:12], exc))
            yield None, None
            return
        try:
            yield opened.path, opened.sha256
        finally:
            opened.close()

    def count_hit(self, key, meta):
        """One more restore of key's entry (best effort: a read-only cache counts nothing)."""
        if not self.store_enabled:
            return
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
        """Drop entries older than max_age_days, then least recently used ones above max_bytes.

        An entry another process holds (a restore reading it, a store writing it) is left for a later eviction.
        """
        now = time.time()
        entries = sorted(self.entries(), key=lambda meta: meta.get("last_used", 0))
        removed = []
        if self.max_age_days is not None:
            for meta in list(entries):
                if now - meta.get("last_used", 0) > self.max_age_days * 86400 and self._remove(meta["key"]):
                    entries.remove(meta)
                    removed.append(meta["key"])
        if self.max_bytes is not None:
            total = sum(meta.get("size", 0) for meta in entries)
            for meta in list(entries):
                if total <= self.max_bytes:
                    break
                if self._remove(meta["key"]):
                    total -= meta.get("size", 0)
                    removed.append(meta["key"])
        return removed

    def _remove(self, key):
        """Remove key's entry and its lock file, under that lock; False when another process holds it."""
        lock = self._entry_lock(key, exclusive=True, wait=False)
        if lock is False:
            return False
        try:
            self._forget(key)
            if lock is not None:
                _unlink(self._lock_path(key))  # while held: a process that opened it meanwhile takes it again
        finally:
            if lock:
                lock.close()
        return True
