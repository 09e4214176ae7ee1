"""The HTTP layer cache against a real GET/HEAD/PUT/DELETE server on 127.0.0.1 (threaded, in this process)."""

import base64
import functools
import http.server
import json
import os
import socket
import threading
import time

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _layer, _layer_cache_http, _layer_cache_options
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from tests.unit.plugins.module_utils.signed_caches import TEST_HMAC_KEY, DirectoryCache, HttpCache
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner
from ansible_collections.appenv.python.plugins.module_utils._signing import Trust

from tests.unit.plugins.module_utils.test__download import Handler, _no_proxy, send_half  # noqa: F401 pylint: disable=unused-import
from tests.unit.plugins.module_utils.test__layer import ToyLayer, payload

USER, PASSWORD = "cache-user", "s3cret-c@che"
GOOD_AUTH = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()


class CacheHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory (HTML listings included) and stores PUTs in it, with faults on demand.

    server.state: requests [(method, path, headers)], fail {(method, suffix): status},
    cut {suffix}: GETs that send half the body, flood {suffix}: GETs that send the body and 4 MiB more, with no
    length announced (HEAD neither), auth: the Authorization header required.
    """

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _refuse(self, method):
        state = self.server.state
        state["requests"].append((method, self.path, dict(self.headers)))
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "PUT" else b""
        if state.get("auth") and self.headers.get("Authorization") != state["auth"]:
            self._reply(401, b"who are you", [("WWW-Authenticate", 'Basic realm="cache"')])
            return True
        for (fail_method, suffix), status in state["fail"].items():
            if fail_method == method and self.path.endswith(suffix):
                self._reply(status, b"broken on purpose")
                return True
        return False

    _reply = Handler._send

    def do_GET(self):  # noqa: N802 - the http.server API
        if self._refuse("GET"):
            return
        if any(self.path.endswith(suffix) for suffix in self.server.state["cut"]):
            with open(self.translate_path(self.path), "rb") as handle:
                send_half(self, handle.read())
            return
        if any(self.path.endswith(suffix) for suffix in self.server.state["flood"]):
            with open(self.translate_path(self.path), "rb") as handle:
                body = handle.read()
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                self.wfile.write(body)
                for _chunk in range(64):
                    self.wfile.write(b"\0" * 65536)
            except OSError:
                pass  # the client hung up: what a capped download does
            return
        super(CacheHandler, self).do_GET()

    def do_HEAD(self):  # noqa: N802
        if self._refuse("HEAD"):
            return
        if any(self.path.endswith(suffix) for suffix in self.server.state["flood"]):
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return
        super(CacheHandler, self).do_HEAD()

    def do_PUT(self):  # noqa: N802
        if self._refuse("PUT"):
            return
        path = self.translate_path(self.path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".part", "wb") as handle:
            handle.write(self.body)
        os.rename(path + ".part", path)
        self._reply(201)

    def do_DELETE(self):  # noqa: N802
        if self._refuse("DELETE"):
            return
        try:
            os.unlink(self.translate_path(self.path))
        except OSError:
            return self._reply(404)
        return self._reply(204)


def _serve(root):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(CacheHandler, directory=str(root)))
    server.daemon_threads = True
    server.state = {"requests": [], "fail": {}, "cut": set(), "flood": set(), "auth": None}
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    server.url = "http://127.0.0.1:%d/cache/" % server.server_address[1]
    server.root = root / "cache"
    server.root.mkdir(parents=True, exist_ok=True)
    return server


@pytest.fixture
def server(tmp_path):
    served = _serve(tmp_path / "www")
    yield served
    served.shutdown()
    served.server_close()


def converge(spec, cache, **kwargs):
    return _layer.converge(spec, CommandRunner(), cache=cache, **kwargs)


def fresh(tmp_path, version="1"):
    """A layer on a host that was never built on (the host's directory is removed first)."""
    _layer.remove_tree(str(tmp_path / "host"))
    return ToyLayer(tmp_path / "host" / "layer", version)


def key_of(spec):
    return _layer.make_record(spec, {})["key"]


def methods(server):
    return [(method, path.rsplit(".", 1)[-1] if "." in path else path) for method, path, _h in server.state["requests"]]


def test_fresh_host_restores_from_the_server(server, tmp_path):
    first = converge(fresh(tmp_path), HttpCache(server.url))
    assert first.action == "created" and first.warnings == []
    # The archive was PUT before the metadata: a half-written entry is never taken for a whole one.
    puts = [path for method, path, _h in server.state["requests"] if method == "PUT"]
    assert [path.rsplit(".", 1)[-1] for path in puts] == ["gz", "json"]

    predicted = converge(fresh(tmp_path), HttpCache(server.url), check_mode=True)
    assert predicted.action == "restored"
    server.state["requests"][:] = []
    restored = converge(fresh(tmp_path), HttpCache(server.url))
    assert restored.action == "restored" and restored.warnings == []
    assert restored.reasons == predicted.reasons and "restored from the layer cache" in restored.reasons[-1]
    assert payload(tmp_path / "host" / "layer") == "1"
    # One GET of the metadata, one HEAD, one GET of the archive, and the hit counted in <key>.hits (GET, PUT):
    # nothing stored again, and the signed metadata is never rewritten by a reader.
    assert methods(server) == [("GET", "json"), ("HEAD", "gz"), ("GET", "gz"), ("GET", "hits"), ("PUT", "hits")]
    assert [meta["hits"] for meta in DirectoryCache(str(server.root)).entries()] == [1]
    assert converge(ToyLayer(tmp_path / "host" / "layer", "1"), HttpCache(server.url)).action == "kept"


def test_one_layout_served_as_the_other(server, tmp_path):
    """What HttpCache PUT is a DirectoryCache on the server's disk, and a DirectoryCache served over HTTP restores."""
    converge(fresh(tmp_path), HttpCache(server.url))
    on_disk = DirectoryCache(str(server.root))
    assert [meta["kind"] for meta in on_disk.entries()] == ["toy"]
    assert converge(fresh(tmp_path), on_disk).action == "restored"

    converge(fresh(tmp_path, "2"), DirectoryCache(str(server.root)))
    restored = converge(fresh(tmp_path, "2"), HttpCache(server.url))
    assert restored.action == "restored" and payload(tmp_path / "host" / "layer") == "2"
    # Hits: the directory's restore counted in <key>.hits, the HTTP one in the metadata; both are summed.
    listed = dict((meta["key"], meta["hits"]) for meta in DirectoryCache(str(server.root)).entries())
    assert listed == {key_of(fresh(tmp_path, "1")): 1, key_of(fresh(tmp_path, "2")): 1}


@pytest.mark.parametrize("method, suffix", [("GET", ".json"), ("HEAD", ".tar.gz"), ("GET", ".tar.gz")])
def test_a_500_is_a_warning_and_a_build(server, tmp_path, method, suffix):
    converge(fresh(tmp_path), HttpCache(server.url))
    server.state["fail"][(method, suffix)] = 500
    result = converge(fresh(tmp_path), HttpCache(server.url))
    assert result.action == "created" and payload(tmp_path / "host" / "layer") == "1"
    assert len(result.warnings) == 1 and "HTTP 500" in result.warnings[0], result.warnings
    assert not os.path.exists(str(tmp_path / "host" / "layer.appenv-new"))
    assert [name for name in os.listdir(str(tmp_path / "host")) if "cache" in name or ".tmp-" in name] == []


def test_a_404_is_a_quiet_miss(server, tmp_path):
    result = converge(fresh(tmp_path), HttpCache(server.url))
    assert result.action == "created" and result.warnings == []


def test_a_failed_put_warns_and_the_build_succeeds(server, tmp_path):
    server.state["fail"][("PUT", ".tar.gz")] = 405
    cache = HttpCache(server.url)
    result = converge(fresh(tmp_path), cache)
    assert result.action == "created" and payload(tmp_path / "host" / "layer") == "1"
    assert len(result.warnings) == 1
    assert "could not be stored in the layer cache %s (HTTP 405" % server.url in result.warnings[0]
    # Nothing half-written: no metadata was PUT after the failed archive, no temporary file is left.
    assert ("PUT", "json") not in methods(server)
    assert [name for name in os.listdir(str(tmp_path / "host")) if name.startswith(".")] == [".layer.appenv-lock"]


def test_a_body_cut_short_is_never_extracted(server, tmp_path):
    converge(fresh(tmp_path), HttpCache(server.url))
    server.state["cut"].add(".tar.gz")
    result = converge(fresh(tmp_path), HttpCache(server.url))
    assert result.action == "created" and payload(tmp_path / "host" / "layer") == "1"
    assert len(result.warnings) == 1 and "cut short" in result.warnings[0], result.warnings


def test_a_body_longer_than_the_recorded_size_is_cut_off_there(server, tmp_path):
    first = converge(fresh(tmp_path), HttpCache(server.url))
    size = (server.root / first.after["key"][:2] / (first.after["key"] + ".tar.gz")).stat().st_size
    server.state["flood"].add(".tar.gz")
    result = converge(fresh(tmp_path), HttpCache(server.url))
    assert result.action == "created" and payload(tmp_path / "host" / "layer") == "1"
    assert any("sends more than its recorded %d bytes" % size in warning
               for warning in result.warnings), result.warnings


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_entry_on_the_server_is_replaced(server, tmp_path, damage):
    first = converge(fresh(tmp_path), HttpCache(server.url))
    archive = server.root / first.after["key"][:2] / (first.after["key"] + ".tar.gz")
    data = bytearray(archive.read_bytes())
    if damage == "truncate":
        archive.write_bytes(bytes(data[:10]))
    else:
        data[len(data) // 2] ^= 0xFF
        archive.write_bytes(bytes(data))
    result = converge(fresh(tmp_path), HttpCache(server.url))
    assert result.action == "created" and payload(tmp_path / "host" / "layer") == "1"
    expected = "is truncated (10 of" if damage == "truncate" else "was discarded: its sha256 is"
    assert len(result.warnings) == 1 and expected in result.warnings[0], result.warnings
    # The rebuilt layer was stored again, whole: the next fresh host restores it.
    assert converge(fresh(tmp_path), HttpCache(server.url)).action == "restored"


def test_server_down_warns_once_and_builds_quickly(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    result = converge(fresh(tmp_path), HttpCache("http://%s:%s@127.0.0.1:%d/cache/" % (USER, PASSWORD, port)))
    assert time.monotonic() - started < 10
    assert result.action == "created" and payload(tmp_path / "host" / "layer") == "1"
    assert len(result.warnings) == 2, result.warnings
    assert "could not be read" in result.warnings[0] and "Connection refused" in result.warnings[0]
    assert "could not be stored" in result.warnings[1] and "could not be reached" in result.warnings[1]
    assert "http://***@127.0.0.1:%d/cache/" % port in result.warnings[0]
    assert PASSWORD not in json.dumps(result.warnings) and USER not in json.dumps(result.warnings)


@pytest.mark.parametrize("given", ["in_url", "options"])
def test_credentials_are_sent_and_never_shown(server, tmp_path, given):
    server.state["auth"] = GOOD_AUTH
    if given == "in_url":
        options = {"url": server.url.replace("http://", "http://%s:%s@" % (USER, PASSWORD.replace("@", "%40"))),
                   "hmac_key": TEST_HMAC_KEY}
    else:
        options = {"url": server.url, "url_username": USER, "url_password": PASSWORD, "hmac_key": TEST_HMAC_KEY}
    assert converge(fresh(tmp_path), _layer_cache_options.from_options(options)).action == "created"
    assert converge(fresh(tmp_path), _layer_cache_options.from_options(options)).action == "restored"
    assert all(headers.get("Authorization") == GOOD_AUTH for _m, _p, headers in server.state["requests"])
    assert not [path for _m, path, _h in server.state["requests"] if PASSWORD in path or "%40" in path]

    server.state["fail"][("GET", ".json")] = 500
    result = converge(fresh(tmp_path), _layer_cache_options.from_options(options))
    assert result.warnings and "HTTP 500" in result.warnings[0]
    shown = json.dumps(result.as_result())
    assert PASSWORD not in shown and "s3cret" not in shown and "http://***@127.0.0.1" in shown


def test_wrong_credentials_are_a_warning(server, tmp_path):
    server.state["auth"] = GOOD_AUTH
    options = {"url": server.url, "url_username": USER, "url_password": "wrong-password", "hmac_key": TEST_HMAC_KEY}
    result = converge(fresh(tmp_path), _layer_cache_options.from_options(options))
    assert result.action == "created"
    assert [warning for warning in result.warnings if "HTTP 401" in warning], result.warnings
    assert "wrong-password" not in json.dumps(result.warnings)


@pytest.mark.parametrize("url", ["ftp://cache.example/appenv/", "file:///srv/cache/"])
def test_only_http_urls_are_accepted(url):
    with pytest.raises(AppenvError) as caught:
        _layer_cache_options.from_options({"url": url, "hmac_key": TEST_HMAC_KEY})
    assert caught.value.code == "bad_argument" and "layer_cache.url" in caught.value.message


def test_a_server_without_a_listing_raises(server):
    server.state["fail"][("GET", "/cache/")] = 403
    with pytest.raises(_layer_cache_http._http.RequestFailed) as caught:
        HttpCache(server.url).entries()
    assert caught.value.status == 403


def test_a_password_in_any_url_parameter_is_masked_before_the_backend_runs():
    from ansible_collections.appenv.python.plugins.module_utils._module import run_module

    class Module:
        params = {"layer_cache": {"url": "https://%s:%s@cache.test/x/" % (USER, "p%40ss")}, "index_url": None,
                  "extra_index_urls": ["https://tok:t0ken@index.test/simple"]}
        no_log_values = set()

        def fail_json(self, **result):
            self.result = result
            raise SystemExit(1)

    module = Module()

    def backend(module):
        raise AppenvError("bad_argument", option="x", module="python_runtime", detail="failed early")

    with pytest.raises(SystemExit):
        run_module(module, backend)
    assert module.no_log_values == {"p%40ss", "p@ss", "t0ken"}
    assert module.result["error"]["code"] == "bad_argument"


def test_a_reader_needs_no_write_access(server, tmp_path):
    """store: false restores over GET and HEAD alone: no PUT (not even a hit), no DELETE, even on a refusal."""
    converge(fresh(tmp_path), HttpCache(server.url))
    server.state["requests"][:] = []
    restored = converge(fresh(tmp_path), HttpCache(server.url, store=False))
    assert restored.action == "restored" and restored.warnings == []
    assert methods(server) == [("GET", "json"), ("HEAD", "gz"), ("GET", "gz")]
    server.state["requests"][:] = []
    stranger = converge(fresh(tmp_path), HttpCache(server.url, store=False, trust=Trust(hmac_key="another key")))
    assert stranger.action == "created" and "HMAC is wrong" in stranger.warnings[0]
    assert [method for method, _path in methods(server)] == ["GET", "HEAD"]
