# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layer cache on an HTTP server: _layer_cache.py's entries, moved with GET, HEAD and PUT.

Any server that answers GET and PUT will do (nginx with WebDAV, an object
store's HTTP gateway); the layout is a directory cache's, so one can be served
as the other. Lookups GET the metadata and HEAD the archive; a restore
downloads the archive to a temporary file, checked against its sha256 while it
arrives, then extracts it; a store PUTs the archive, then the metadata. A
restore PUTs the metadata back with one more hit (best effort: two restores at
the same moment may count once). Credentials (in the URL or given apart) go in
a basic auth header and never appear in a message.

Only a module whose layer_cache names a URL imports this file (and the
download code it needs): _layer_cache_options.py imports it when it is asked
for an HTTP cache.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import os
import re
import shutil
import tempfile
import time

try:
    from urllib.parse import quote, unquote
except ImportError:  # pragma: no cover - Python 2 targets are not supported
    from urllib import quote, unquote

from ansible_collections.appenv.python.plugins.module_utils import _download
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._layer_cache import (
    KEY, SUFFIXES, LayerCache, archive_suffix, compression_of, concrete_compression, parse_meta)
from ansible_collections.appenv.python.plugins.module_utils._urls import redact_url

HTTP_TIMEOUT = 60
_SHARD = re.compile(r"^[0-9a-f]{2}$")
_HREF = re.compile(r"""href\s*=\s*["']([^"'?#]+)["']""", re.IGNORECASE)
_CONTENT_TYPES = {"none": "application/x-tar", "gzip": "application/gzip"}


class HttpCache(LayerCache):
    """A layer cache on an HTTP(S) server that answers GET, HEAD and PUT (DELETE is used when allowed).

    url: the cache's base URL, credentials in it or not (``https://user:pass@cache.example/appenv/``).
    """

    failures = LayerCache.failures + (_download.RequestFailed,)

    def __init__(self, url, timeout=HTTP_TIMEOUT, module="python_runtime", compression="gzip"):
        super(HttpCache, self).__init__()
        self.compression = concrete_compression(compression)
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

    def count_hit(self, key, meta):
        """One more restore of key's entry in its metadata (best effort: a read-only server counts nothing)."""
        counted = dict(meta, hits=int(meta.get("hits") or 0) + 1, last_used=int(time.time()))
        try:
            self._put_meta(key, counted)
        except _download.RequestFailed:
            pass  # a read-only server: the restore still counts for the build, not in the cache

    # -- store ----------------------------------------------------------------
    def _pack_path(self, key, source_dir):
        if self._unreachable:
            raise _download.RequestFailed("it could not be reached before the build")
        return os.path.join(os.path.dirname(os.path.abspath(source_dir)), "." + key[:12] + SUFFIXES[self.compression])

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
                if not name.endswith(".json") or not KEY.match(name[:-5]):
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
