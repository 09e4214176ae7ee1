# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layer cache on an HTTP server: _layer_cache.py's entries, moved with GET, HEAD and PUT.

Any server that answers GET and PUT will do (nginx with WebDAV, an object
store's HTTP gateway); the layout is a directory cache's, so one can be served
as the other. Lookups GET the metadata and HEAD the archive; a restore
downloads the archive to a temporary file, checked against its sha256 while it
arrives, then extracts it; a store PUTs the archive, then the metadata. A
restore counts a hit by PUTting ``<key>.hits`` with one more byte, never the
signed metadata (best effort: two restores at the same moment may count once;
a reader without credentials or with ``store=False`` counts nothing).
Credentials (in the URL or given apart) go in a basic auth header and never
appear in a message; _layer_cache_options.py refuses them over ``http://``.

Only a module whose layer_cache names a URL imports this file (and the
download code it needs): _layer_cache_options.py imports it when it is asked
for an HTTP cache.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import contextlib
import json
import os
import re
import shutil
import tempfile

from email.utils import parsedate

try:
    from urllib.parse import quote, unquote
except ImportError:  # pragma: no cover - Python 2 targets are not supported
    from urllib import quote, unquote

from ansible_collections.appenv.python.plugins.module_utils import _download, _http
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._layer_cache import LayerCache
from ansible_collections.appenv.python.plugins.module_utils._layer_cache_entry import (
    KEY, SUFFIXES, archive_suffix, compression_of, concrete_compression, parse_meta)
from ansible_collections.appenv.python.plugins.module_utils._urls import redact_url

HTTP_TIMEOUT = 60
_SHARD = re.compile(r"^[0-9a-f]{2}$")
_HREF = re.compile(r"""href\s*=\s*["']([^"'?#]+)["']""", re.IGNORECASE)
_CONTENT_TYPES = {"none": "application/x-tar", "gzip": "application/gzip"}


def _seconds(http_date):
    """Seconds since the epoch of an HTTP date (Last-Modified, nginx's JSON mtime), or None."""
    try:
        return calendar.timegm(parsedate(http_date))
    except (TypeError, ValueError):
        return None


class HttpCache(LayerCache):
    """A layer cache on an HTTP(S) server that answers GET, HEAD and PUT (DELETE is used when allowed).

    url: the cache's base URL, credentials in it or not (``https://user:pass@cache.example/appenv/``).
    """

    failures = LayerCache.failures + (_http.RequestFailed,)

    def __init__(self, url, timeout=HTTP_TIMEOUT, module="python_runtime", compression="gzip", trust=None,
                 store=True, runner=None):
        super(HttpCache, self).__init__(trust, store, runner)
        self.compression = concrete_compression(compression)
        base = url.strip()
        self.base = base if base.endswith("/") else base + "/"
        if not self.base.lower().startswith(("http://", "https://")):
            raise AppenvError("bad_argument", option="layer_cache.url", module=module,
                              detail="the layer cache URL %s is not an http:// or https:// URL"
                                     % redact_url(self.base))
        self.location = _http.shown_url(self.base)  # raises AppenvError(download_bad_url) when malformed
        self.timeout = timeout
        self._metas = {}
        self._listed_sizes = {}
        self._listed_mtimes = {}
        self._unreachable = False

    def _url(self, key, suffix):
        return "%s%s/%s%s" % (self.base, key[:2], key, suffix)

    def _request(self, url, method="GET", **kwargs):
        return _http.request(url, method, timeout=self.timeout, **kwargs)

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
        except _http.RequestFailed as exc:
            if exc.status != 404:
                self._failed("read", exc)
            return None
        length = headers.get("Content-Length")
        size = int(length) if length is not None and length.strip().isdigit() else None
        if not self._usable_size(key, meta, size) or self._trusted(key, meta) is None:
            return None
        self._metas[key] = meta
        return meta

    def _reading(self, key):
        return contextlib.nullcontext(True)

    def _writing(self, key):
        return contextlib.nullcontext(True)

    def _forget(self, key):
        self._metas.pop(key, None)
        for suffix in (".json", ".hits"):  # the metadata first: without it the entry is gone for readers
            try:
                self._request(self._url(key, suffix), "DELETE")
            except _http.RequestFailed:
                pass  # a server without DELETE: the next store replaces the entry

    @staticmethod
    def _recorded_size(meta):
        size = meta.get("size")
        return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None

    @contextlib.contextmanager
    def _verified_archive(self, key, meta, target):
        parent = os.path.dirname(os.path.abspath(target))
        scratch = tempfile.mkdtemp(prefix=".appenv-layer-cache-", dir=parent)
        try:
            archive = os.path.join(scratch, key + archive_suffix(meta))
            try:
                _download.download(self._url(key, archive_suffix(meta)), archive, meta.get("sha256"), retries=1,
                                   timeout=self.timeout, max_bytes=self._recorded_size(meta))
            except AppenvError as error:
                if error.code == "download_too_large":  # cut off at the recorded size: never more on the disk
                    self.discard(key, "the server sends more than its recorded %s bytes" % meta.get("size"))
                elif error.code == "checksum_mismatch":
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

    def count_hit(self, key, meta):
        """One more byte in <key>.hits (best effort: a reader, or a server refusing the PUT, counts nothing)."""
        if not self.store_enabled:
            return
        try:
            try:
                hits = self._request(self._url(key, ".hits"))[2]
            except _http.RequestFailed as exc:
                if exc.status != 404:
                    raise
                hits = b""
            self._request(self._url(key, ".hits"), "PUT", data=hits[:1 << 20] + b".",
                          content_type="application/octet-stream")
        except _http.RequestFailed:
            pass  # a read-only server: the restore still counts for the build, not in the cache

    # -- store ----------------------------------------------------------------
    def _pack_path(self, key, source_dir):
        if self._unreachable:
            raise _http.RequestFailed("it could not be reached before the build")
        return os.path.join(os.path.dirname(os.path.abspath(source_dir)), "." + key[:12] + SUFFIXES[self.compression])

    def _put_meta(self, key, meta):
        data = (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode("utf-8")
        self._request(self._url(key, ".json"), "PUT", data=data, content_type="application/json")

    def _publish(self, key, temp, meta):
        self._request(self._url(key, archive_suffix(meta)), "PUT", upload=temp,
                      content_type=_CONTENT_TYPES[compression_of(meta)])
        self._put_meta(key, meta)  # last: an entry whose metadata is there is whole
        try:
            self._request(self._url(key, ".hits"), "DELETE")  # a new entry starts with no hits
        except _http.RequestFailed:
            pass
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
            items = [item for item in listing if isinstance(item, dict)]
            self._listed_mtimes.update((url + str(item.get("name", "")), _seconds(item.get("mtime"))) for item in items)
            return dict((str(item.get("name", "")), item.get("size")) for item in items)
        names = {}
        for href in _HREF.findall(body):
            name = unquote(href.rstrip("/").rsplit("/", 1)[-1])
            if name and name not in ("..", "."):
                names.setdefault(name, None)
        return names

    def entries(self):
        """Every entry the server lists. Raises _http.RequestFailed when there is no listing."""
        found = []
        for shard in sorted(name for name in self._list(self.base) if _SHARD.match(name)):
            listed = self._list("%s%s/" % (self.base, quote(shard)))
            for name in sorted(listed):
                if not name.endswith(".json") or not KEY.match(name[:-5]):
                    continue
                try:
                    body = self._request("%s%s/%s" % (self.base, shard, name))[2]
                    meta = parse_meta(body.decode("utf-8", "replace"))
                except _http.RequestFailed as exc:
                    if exc.status == 404:
                        continue  # removed while listing
                    raise
                if meta is None:
                    continue
                key = meta["key"]
                hits, hits_url = listed.get(key + ".hits", False), "%s%s/%s.hits" % (self.base, shard, key)
                if isinstance(hits, int) and hits is not False:  # the listing's size and mtime (nginx, JSON)
                    self._count_usage(meta, hits, self._listed_mtimes.get(hits_url))
                elif hits is None:  # listed without a size: its length and Last-Modified
                    self._with_usage(meta, hits_url)
                archive = key + archive_suffix(meta)
                self._listed_sizes[key] = listed[archive] if archive in listed else False
                found.append(meta)
        return found

    def _with_usage(self, meta, url):
        """meta with the hits (bytes) and last use (Last-Modified) of its <key>.hits, as a directory cache counts."""
        try:
            _status, headers, body = self._request(url)
        except _http.RequestFailed as exc:
            if exc.status == 404:
                return
            raise
        self._count_usage(meta, len(body), _seconds(headers.get("Last-Modified")))

    @staticmethod
    def _count_usage(meta, hits, modified):
        meta["hits"] = int(meta.get("hits") or 0) + hits
        if modified is not None:
            meta["last_used"] = max(int(meta.get("last_used") or 0), modified)

    def complete(self, meta):
        """Whether the listing showed the entry's archive (with the recorded size, where it shows sizes)."""
        size = self._listed_sizes.get(meta["key"], False)
        return size is not False and (size is None or size == meta.get("size"))
