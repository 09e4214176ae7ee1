# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Built layers kept as archives keyed by fingerprint, for hosts that are new every build.

In an image pipeline the host never has a previous layer, so the on-host
fingerprint never hits. The engine asks this cache before building: an entry
whose key equals the layer's key (inputs + destination path + kind + layer
format; inputs already hold arch, libc, distro and Python version) is restored
instead of rebuilt, after its sha256 is checked. Entries are written under a
temporary name and renamed, so concurrent builds never see half an entry; a
corrupt or truncated entry is discarded, never restored; least recently used
entries go first when the cache outgrows its limits.

Layout: ``<root>/<key[:2]>/<key>.tar.gz`` and ``<key>.json`` (metadata: sha256,
size, the fingerprint record, built_at/built_on, hits, last_used).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import errno
import fcntl
import json
import os
import tarfile
import time

from ansible_collections.appenv.python.plugins.module_utils import _archive, _layer

CACHE_FORMAT = "appenv.python/layer-cache/1"


class DirectoryCache:
    """A layer cache in a directory on the target (e.g. a volume the pipeline mounts)."""

    def __init__(self, root, max_bytes=None, max_age_days=None):
        self.root = os.path.abspath(root)
        self.max_bytes = max_bytes
        self.max_age_days = max_age_days
        self.warnings = []

    # -- paths -------------------------------------------------------------
    def _paths(self, key):
        directory = os.path.join(self.root, key[:2])
        return directory, os.path.join(directory, key + ".tar.gz"), os.path.join(directory, key + ".json")

    def _read_meta(self, meta_path):
        try:
            with open(meta_path) as handle:
                meta = json.load(handle)
        except (IOError, OSError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT:
            return None
        return meta

    # -- lookups -----------------------------------------------------------
    def lookup(self, key):
        """Metadata of a usable-looking entry for key, or None. Read-only (check mode uses it)."""
        _directory, archive, meta_path = self._paths(key)
        meta = self._read_meta(meta_path)
        if meta is None or not os.path.isfile(archive):
            return None
        size = os.path.getsize(archive)
        if size != meta.get("size"):
            warning = "layer cache entry %s is truncated (%d of %s bytes); it is not used and will be replaced" % (
                key[:12], size, meta.get("size"))
            if warning not in self.warnings:
                self.warnings.append(warning)
            return None
        return meta

    def discard(self, key, why):
        _directory, archive, meta_path = self._paths(key)
        for path in (meta_path, archive):
            try:
                os.unlink(path)
            except OSError:
                pass
        self.warnings.append("layer cache entry %s was discarded: %s" % (key[:12], why))

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

    def restore(self, key, target):
        """Extract the entry for key into target (which must not exist yet). Returns meta or None."""
        lock = self._entry_lock(key, exclusive=False)
        try:
            return self._restore_locked(key, target)
        finally:
            if lock is not None:
                lock.close()

    def _restore_locked(self, key, target):
        meta = self.lookup(key)
        if meta is None:
            return None
        _directory, archive, meta_path = self._paths(key)
        actual = _layer.file_sha256(archive)
        if actual != meta.get("sha256"):
            self.discard(key, "its sha256 is %s, %s was recorded (corrupt or truncated)" % (actual, meta.get("sha256")))
            return None
        os.makedirs(target, 0o755)
        try:
            _archive.safe_extract(archive, target, allow_absolute_symlinks=True)
        except Exception as exc:  # pylint: disable=broad-except
            _layer.remove_tree(target)
            self.discard(key, "it could not be extracted (%s)" % exc)
            return None
        meta["hits"] = int(meta.get("hits", 0)) + 1
        meta["last_used"] = int(time.time())
        try:
            _layer.write_json_atomic(meta_path, meta)
        except (IOError, OSError):
            pass
        return meta

    def store(self, key, source_dir, record):
        """Archive source_dir as the entry for key. Failures become warnings, never errors."""
        lock = self._entry_lock(key, exclusive=True)
        try:
            if lock is not None and self.lookup(key) is not None:
                return self.lookup(key)  # another build stored the same layer meanwhile
            return self._store_locked(key, source_dir, record)
        finally:
            if lock is not None:
                lock.close()

    def _store_locked(self, key, source_dir, record):
        directory, archive, meta_path = self._paths(key)
        temp = "%s.tmp-%d-%s" % (archive, os.getpid(), binascii.hexlify(os.urandom(4)).decode("ascii"))
        try:
            os.makedirs(directory, 0o755, exist_ok=True)
            with tarfile.open(temp, "w:gz", compresslevel=1) as tar:
                for name in sorted(os.listdir(source_dir)):
                    tar.add(os.path.join(source_dir, name), arcname=name)
            meta = {
                "format": CACHE_FORMAT,
                "key": key,
                "sha256": _layer.file_sha256(temp),
                "size": os.path.getsize(temp),
                "kind": record.get("kind"),
                "path": record.get("path"),
                "record": record,
                "built_at": record.get("built_at"),
                "built_on": record.get("built_on"),
                "hits": 0,
                "last_used": int(time.time()),
            }
            os.rename(temp, archive)
            _layer.write_json_atomic(meta_path, meta)
        except (IOError, OSError) as exc:
            try:
                os.unlink(temp)
            except OSError:
                pass
            reason = "read-only" if getattr(exc, "errno", None) in (errno.EROFS, errno.EACCES, errno.EPERM) else str(exc)
            self.warnings.append("the layer was built but could not be stored in the layer cache %s (%s)"
                                 % (self.root, reason))
            return None
        self.evict()
        return meta

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
                    meta = self._read_meta(os.path.join(shard_dir, name))
                    if meta is not None:
                        found.append(meta)
        return found

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
        directory, archive, meta_path = self._paths(key)
        for path in (meta_path, archive, os.path.join(directory, key + ".lock")):
            try:
                os.unlink(path)
            except OSError:
                pass


def from_options(options):
    """A cache from a module's layer_cache option (dict or None)."""
    if not options or not options.get("path"):
        return None
    max_mb = options.get("max_size_mb")
    return DirectoryCache(options["path"], max_bytes=max_mb * 1024 * 1024 if max_mb else None,
                          max_age_days=options.get("max_age_days"))
