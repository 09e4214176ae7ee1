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

Compression (option ``compression``): ``auto`` stores plain tar in a directory
(a volume on the target is read at disk speed, and gunzip runs at a few hundred
MB/s, slower than the disk it saves reading) and gzip where entries cross a
network (an HTTP server, the controller's cache). A directory restore checks
the sha256 in a second thread while the archive's headers are scanned and its
members written, and nothing is put in place before both are done.

- ``DirectoryCache``: a directory on the target (a volume the pipeline mounts).
  Entries are written under a temporary name and renamed, under a per-entry
  flock; least recently used entries go first when the cache outgrows its
  limits. A restore appends one byte to ``<key>.hits`` (O_APPEND: atomic, no
  lock, no rewrite of the metadata): hits are the metadata's count plus that
  file's size, last use its mtime.
- ``HttpCache``: any server that answers GET and PUT (nginx with WebDAV, an
  object store's HTTP gateway). Lookups GET the metadata and HEAD the archive;
  a restore downloads the archive to a temporary file, checked against its
  sha256 while it arrives, then extracts it; a store PUTs the archive, then the
  metadata. A restore PUTs the metadata back with one more hit (best effort:
  two restores at the same moment may count once). Credentials (in the URL or
  given apart) go in a basic auth header and never appear in a message.
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
import shutil
import tarfile
import tempfile
import threading
import time

try:
    from urllib.parse import quote, unquote
except ImportError:  # pragma: no cover - Python 2 targets are not supported
    from urllib import quote, unquote

from ansible_collections.appenv.python.plugins.module_utils import _archive, _download, _layer
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._fingerprint import write_json_atomic
from ansible_collections.appenv.python.plugins.module_utils._runner import redact_url
from ansible_collections.appenv.python.plugins.module_utils._site import with_credentials

CACHE_FORMAT = "appenv.python/layer-cache/1"
HTTP_TIMEOUT = 60
_KEY = re.compile(r"^[0-9a-f]{64}$")
_SHARD = re.compile(r"^[0-9a-f]{2}$")
_HREF = re.compile(r"""href\s*=\s*["']([^"'?#]+)["']""", re.IGNORECASE)
COMPRESSIONS = ("auto", "none", "gzip")
# The archive of an entry by its metadata's compression (entries written before it was recorded: gzip).
_SUFFIXES = {"none": ".tar", "gzip": ".tar.gz"}
_CONTENT_TYPES = {"none": "application/x-tar", "gzip": "application/gzip"}


def argument_spec():
    """The layer_cache option of python_runtime, pip_tooling and app_dependencies (doc fragment layer_cache)."""
    return dict(type="dict", options=dict(
        path=dict(type="path"),
        controller_path=dict(type="path"),
        url=dict(type="str"),
        url_username=dict(type="str"),
        url_password=dict(type="str", no_log=True),
        max_size_mb=dict(type="int"),
        max_age_days=dict(type="int"),
        compression=dict(type="str", choices=list(COMPRESSIONS), default="auto"),
    ), mutually_exclusive=[["path", "controller_path", "url"]])


def parse_meta(text):
    """The metadata of an entry from its JSON text, or None when it is not one."""
    try:
        meta = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT or not _KEY.match(str(meta.get("key"))):
        return None
    return meta


def compression_of(meta):
    """The compression of an entry's archive ('none' or 'gzip') from its metadata."""
    compression = (meta or {}).get("compression")
    return compression if compression in _SUFFIXES else "gzip"


def archive_suffix(meta):
    return _SUFFIXES[compression_of(meta)]


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

    A subclass says where entries live: lookup, entries, and the hooks
    _reading/_writing (locks), _verified_archive (a local copy of an entry's archive
    and a callable returning its sha256, checked before anything is put in place), _pack_path, _publish, _forget and _count_hit.
    """

    location = ""
    compression = "gzip"

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
        self._count_hit(key, meta)
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
            except (IOError, OSError, _download.RequestFailed) as exc:
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
        self.compression = "none" if compression in (None, "auto") else compression

    # -- paths -------------------------------------------------------------
    def _paths(self, key, meta=None):
        """The shard directory, the archive (named by meta's compression, else this cache's) and the metadata."""
        directory = os.path.join(self.root, key[:2])
        suffix = archive_suffix(meta if meta is not None else {"compression": self.compression})
        return directory, os.path.join(directory, key + suffix), os.path.join(directory, key + ".json")

    def _hits_path(self, key):
        return os.path.join(self.root, key[:2], key + ".hits")

    def _read_meta(self, meta_path):
        try:
            with open(meta_path) as handle:
                return parse_meta(handle.read())
        except (IOError, OSError):
            return None

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
        meta = self._read_meta(self._paths(key)[2])
        archive = None if meta is None else self._paths(key, meta)[1]
        if meta is None or not os.path.isfile(archive):
            return None
        return meta if self._usable_size(key, meta, os.path.getsize(archive)) else None

    def _forget(self, key):
        directory, _archive_path, meta_path = self._paths(key)
        _unlink(meta_path)  # first: without it the entry is gone for readers
        for suffix in _SUFFIXES.values():
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

    def _count_hit(self, key, meta):
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


class HttpCache(LayerCache):
    """A layer cache on an HTTP(S) server that answers GET, HEAD and PUT (DELETE is used when allowed).

    url: the cache's base URL, credentials in it or not (``https://user:pass@cache.example/appenv/``).
    """

    def __init__(self, url, timeout=HTTP_TIMEOUT, module="python_runtime", compression="gzip"):
        super(HttpCache, self).__init__()
        self.compression = "gzip" if compression in (None, "auto") else compression
        base = url.strip()
        self.base = base if base.endswith("/") else base + "/"
        if not self.base.lower().startswith(("http://", "https://")):
            raise AppenvError("bad_argument", option="layer_cache.url", module=module,
                              detail="the layer cache URL %s is not an http:// or https:// URL"
                                     % redact_url(self.base))
        self.location = _download.shown_url(self.base)  # raises AppenvError(download_bad_url) when malformed
        self.timeout = timeout
        self._metas = {}
        self._listed_sizes = {}
        self._unreachable = False

    def _url(self, key, suffix):
        return "%s%s/%s%s" % (self.base, key[:2], key, suffix)

    def _request(self, url, method="GET", **kwargs):
        return _download.request(url, method, timeout=self.timeout, **kwargs)

    def _failed(self, what, exc):
        """Warn about a failed request (not a 404); a server that cannot be reached is not asked again."""
        if exc.status is None:
            self._unreachable = True
        self._warn("the layer cache %s could not be %s (%s); the layer is built instead"
                   % (self.location, what, exc))

    # -- lookups -----------------------------------------------------------
    def lookup(self, key):
        """Metadata of a usable-looking entry for key, or None: GET <key>.json, HEAD its archive."""
        if key in self._metas:
            return self._metas[key]
        if self._unreachable:
            return None
        try:
            meta = parse_meta(self._request(self._url(key, ".json"))[2].decode("utf-8", "replace"))
            if meta is None:
                return None
            headers = self._request(self._url(key, archive_suffix(meta)), "HEAD")[1]
        except _download.RequestFailed as exc:
            if exc.status != 404:
                self._failed("read", exc)
            return None
        length = headers.get("Content-Length")
        size = int(length) if length is not None and length.strip().isdigit() else None
        if not self._usable_size(key, meta, size):
            return None
        self._metas[key] = meta
        return meta

    def _reading(self, key):
        return contextlib.nullcontext(True)

    def _writing(self, key):
        return contextlib.nullcontext(True)

    def _forget(self, key):
        self._metas.pop(key, None)
        try:
            self._request(self._url(key, ".json"), "DELETE")  # first: without it the entry is gone for readers
        except _download.RequestFailed:
            pass  # a server without DELETE: the next store replaces the entry

    @contextlib.contextmanager
    def _verified_archive(self, key, meta, target):
        parent = os.path.dirname(os.path.abspath(target))
        scratch = tempfile.mkdtemp(prefix=".appenv-layer-cache-", dir=parent)
        try:
            archive = os.path.join(scratch, key + archive_suffix(meta))
            try:
                _download.download(self._url(key, archive_suffix(meta)), archive, meta.get("sha256"), retries=1,
                                   timeout=self.timeout)
            except AppenvError as error:
                if error.code == "checksum_mismatch":
                    self._corrupt(key, error.fields.get("actual"), error.fields.get("expected"))
                else:
                    self._warn("layer cache entry %s could not be downloaded from %s (%s); the layer is built "
                               "instead" % (key[:12], self.location, error.fields.get("error") or error.cause))
                yield None, None
                return
            expected = meta.get("sha256")
            yield archive, lambda: expected  # checked while it arrived
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _count_hit(self, key, meta):
        counted = dict(meta, hits=int(meta.get("hits") or 0) + 1, last_used=int(time.time()))
        try:
            self._put_meta(key, counted)
        except _download.RequestFailed:
            pass  # a read-only server: the restore still counts for the build, not in the cache

    # -- store ----------------------------------------------------------------
    def _pack_path(self, key, source_dir):
        if self._unreachable:
            raise _download.RequestFailed("it could not be reached before the build")
        return os.path.join(os.path.dirname(os.path.abspath(source_dir)), "." + key[:12] + _SUFFIXES[self.compression])

    def _put_meta(self, key, meta):
        data = (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode("utf-8")
        self._request(self._url(key, ".json"), "PUT", data=data, content_type="application/json")

    def _publish(self, key, temp, meta):
        self._request(self._url(key, archive_suffix(meta)), "PUT", upload=temp,
                      content_type=_CONTENT_TYPES[compression_of(meta)])
        self._put_meta(key, meta)  # last: an entry whose metadata is there is whole
        self._metas[key] = meta

    # -- listing -------------------------------------------------------------
    def _list(self, url):
        """{name: size or None} of a directory listing (nginx's autoindex in JSON or HTML, or any page of links)."""
        body = self._request(url)[2].decode("utf-8", "replace")
        try:
            listing = json.loads(body)
        except ValueError:
            listing = None
        if isinstance(listing, list):
            return dict((str(item.get("name", "")), item.get("size")) for item in listing if isinstance(item, dict))
        names = {}
        for href in _HREF.findall(body):
            name = unquote(href.rstrip("/").rsplit("/", 1)[-1])
            if name and name not in ("..", "."):
                names.setdefault(name, None)
        return names

    def entries(self):
        """Every entry the server lists. Raises _download.RequestFailed when there is no listing."""
        found = []
        for shard in sorted(name for name in self._list(self.base) if _SHARD.match(name)):
            listed = self._list("%s%s/" % (self.base, quote(shard)))
            for name in sorted(listed):
                if not name.endswith(".json") or not _KEY.match(name[:-5]):
                    continue
                try:
                    body = self._request("%s%s/%s" % (self.base, shard, name))[2]
                    meta = parse_meta(body.decode("utf-8", "replace"))
                except _download.RequestFailed as exc:
                    if exc.status == 404:
                        continue  # removed while listing
                    raise
                if meta is None:
                    continue
                key = meta["key"]
                hits = listed.get(key + ".hits")
                if isinstance(hits, int):  # a directory cache served as it is
                    meta["hits"] = int(meta.get("hits") or 0) + hits
                archive = key + archive_suffix(meta)
                self._listed_sizes[key] = listed[archive] if archive in listed else False
                found.append(meta)
        return found

    def complete(self, meta):
        """Whether the listing showed the entry's archive (with the recorded size, where it shows sizes)."""
        size = self._listed_sizes.get(meta["key"], False)
        return size is not False and (size is None or size == meta.get("size"))


def from_options(options, module="python_runtime"):
    """A cache from a module's layer_cache option (dict or None); module names the module in errors."""
    if not options:
        return None
    if options.get("url"):
        return HttpCache(with_credentials(options["url"], options.get("url_username"), options.get("url_password")),
                         module=module, compression=options.get("compression"))
    if not options.get("path"):
        return None
    max_mb = options.get("max_size_mb")
    return DirectoryCache(options["path"], max_bytes=max_mb * 1024 * 1024 if max_mb else None,
                          max_age_days=options.get("max_age_days"), compression=options.get("compression"))


def describe(cache, now=None):
    """The entries of a cache for layer_cache_info: newest use first, with totals. Changes nothing."""
    now = int(time.time() if now is None else now)
    entries = []
    totals = {"entries": 0, "bytes": 0, "hits": 0, "incomplete": 0, "kinds": {}}
    for meta in cache.entries():
        built_at = meta.get("built_at")
        last_used = meta.get("last_used")
        entry = {
            "key": meta["key"],
            "kind": meta.get("kind"),
            "layer": meta.get("path"),
            "size": int(meta.get("size") or 0),
            "hits": int(meta.get("hits") or 0),
            "built_on": meta.get("built_on"),
            "built_at": built_at,
            "age": max(0, now - int(built_at)) if built_at else None,
            "last_used": last_used,
            "idle": max(0, now - int(last_used)) if last_used else None,
            "complete": cache.complete(meta),
        }
        entries.append(entry)
        totals["entries"] += 1
        totals["bytes"] += entry["size"]
        totals["hits"] += entry["hits"]
        totals["incomplete"] += 0 if entry["complete"] else 1
        kind = totals["kinds"].setdefault(entry["kind"] or "unknown", {"entries": 0, "bytes": 0, "hits": 0})
        kind["entries"] += 1
        kind["bytes"] += entry["size"]
        kind["hits"] += entry["hits"]
    entries.sort(key=lambda entry: (-(entry["last_used"] or 0), entry["key"]))
    return {"entries": entries, "totals": totals}


def info(params):
    """layer_cache_info: the entries and totals of the cache params name (path or url). Changes nothing."""
    cache = from_options(params, "layer_cache_info")
    try:
        described = describe(cache)
    except (_download.RequestFailed, IOError, OSError) as exc:
        raise AppenvError("layer_cache_unreadable", cache=cache.location, detail=str(exc))
    described.update(changed=False, cache=cache.location)
    if isinstance(cache, DirectoryCache) and not os.path.isdir(cache.root):
        described["warnings"] = ["the layer cache directory %s does not exist (yet): no entries" % cache.root]
    return described
