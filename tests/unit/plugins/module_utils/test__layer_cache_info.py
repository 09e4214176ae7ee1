"""layer_cache_info's backend: the same entries and totals from a directory and from the server serving it."""

import json
import socket
import time

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _fingerprint, _layer_cache, _layer_cache_http
from ansible_collections.appenv.python.plugins.module_utils import _layer_cache_info
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._layer_cache import DirectoryCache
from ansible_collections.appenv.python.plugins.module_utils._layer_cache_http import HttpCache

from tests.unit.plugins.module_utils.test__layer_cache_http import (  # noqa: F401 pylint: disable=unused-import
    GOOD_AUTH, USER, converge, fresh, key_of, server)


def test_entries_and_totals_from_the_listing_and_the_directory(server, tmp_path):
    for version in ("1", "2"):
        converge(fresh(tmp_path, version), HttpCache(server.url))
    older = DirectoryCache(str(server.root))
    meta = older.lookup(key_of(fresh(tmp_path, "2")))
    _fingerprint.write_json_atomic(older._paths(meta["key"])[2], dict(meta, last_used=meta["last_used"] - 100))
    converge(fresh(tmp_path, "1"), HttpCache(server.url))  # one hit
    later = time.time() + 60  # one clock for both listings: ages must not differ by a second's tick
    over_http = _layer_cache_info.describe(HttpCache(server.url), now=later)
    on_disk = _layer_cache_info.describe(DirectoryCache(str(server.root)), now=later)
    assert over_http == on_disk
    assert over_http["totals"]["entries"] == 2 and over_http["totals"]["hits"] == 1
    assert over_http["totals"]["kinds"] == {"toy": {"entries": 2, "bytes": over_http["totals"]["bytes"], "hits": 1}}
    first = over_http["entries"][0]
    assert first["key"] == key_of(fresh(tmp_path, "1")) and first["hits"] == 1  # most recently used first
    assert first["kind"] == "toy" and first["complete"] is True and first["age"] >= 60 and first["idle"] >= 60
    assert first["layer"] == str(tmp_path / "host" / "layer") and first["built_on"] == socket.gethostname()

    archive = server.root / first["key"][:2] / (first["key"] + ".tar.gz")
    archive.unlink()
    assert _layer_cache_info.describe(HttpCache(server.url))["totals"]["incomplete"] == 1
    assert _layer_cache_info.describe(DirectoryCache(str(server.root)))["totals"]["incomplete"] == 1


def test_nginx_json_listings_are_read(monkeypatch):
    pages = {
        "http://cache.test/": json.dumps([{"name": "ab", "type": "directory"}, {"name": "x.txt", "type": "file"}]),
        "http://cache.test/ab/": json.dumps([{"name": "ab" + "0" * 62 + ".json", "type": "file", "size": 10},
                                             {"name": "ab" + "0" * 62 + ".tar.gz", "type": "file", "size": 7},
                                             {"name": "ab" + "0" * 62 + ".hits", "type": "file", "size": 3}]),
        "http://cache.test/ab/ab" + "0" * 62 + ".json": json.dumps(
            {"format": _layer_cache.CACHE_FORMAT, "key": "ab" + "0" * 62, "size": 7, "hits": 2, "kind": "k"}),
    }
    monkeypatch.setattr(_layer_cache_http._download, "request",
                        lambda url, method="GET", **kwargs: (200, {}, pages[url].encode()))
    described = _layer_cache_info.describe(HttpCache("http://cache.test"))
    assert described["totals"] == {"entries": 1, "bytes": 7, "hits": 5, "incomplete": 0,
                                   "kinds": {"k": {"entries": 1, "bytes": 7, "hits": 5}}}


def test_info_lists_without_changing_anything(server, tmp_path):
    converge(fresh(tmp_path), HttpCache(server.url))
    before = sorted((path.name, path.stat().st_mtime_ns) for path in server.root.rglob("*"))
    server.state["requests"][:] = []
    now = time.time()  # one clock for both listings: ages must not differ by a second's tick
    over_http = _layer_cache_info.info({"url": server.url}, now=now)
    assert over_http["changed"] is False and over_http["cache"] == server.url
    assert over_http["totals"]["entries"] == 1 and "warnings" not in over_http
    assert {method for method, _p, _h in server.state["requests"]} == {"GET"}
    on_disk = _layer_cache_info.info({"path": str(server.root)}, now=now)
    assert on_disk["entries"] == over_http["entries"]
    assert sorted((path.name, path.stat().st_mtime_ns) for path in server.root.rglob("*")) == before

    missing = _layer_cache_info.info({"path": str(tmp_path / "nowhere")})
    assert missing["entries"] == [] and "does not exist" in missing["warnings"][0]


def test_info_without_a_listing_is_a_titled_error(server):
    server.state["auth"] = GOOD_AUTH
    with pytest.raises(AppenvError) as caught:
        _layer_cache_info.info({"url": server.url, "url_username": USER, "url_password": "wrong-one"})
    assert caught.value.code == "layer_cache_unreadable" and "HTTP 401" in caught.value.message
    assert "wrong-one" not in caught.value.message and USER not in caught.value.message
    assert server.url.replace("http://", "http://***@") in caught.value.message
