"""Downloads against a real HTTP server on 127.0.0.1: retries, timeouts, checksums, credentials."""

import base64
import hashlib
import http.server
import os
import socket
import threading
import time

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _download
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

from tests.testbed.proxy import make_ca

BODY = b"runtime archive bytes\n" * 5000
SHA = hashlib.sha256(BODY).hexdigest()
USER, PASSWORD = "mirror-user", "s3cret-p@ss"
GOOD_AUTH = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()


def send_half(handler, body):
    """Announce body's full length, send half of it, and close the connection."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body[: len(body) // 2])
    handler.wfile.flush()
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - the http.server API
        state = self.server.state
        path = self.path.split("?")[0]
        state["requests"].append((path, dict(self.headers)))
        hits = state["hits"][path] = state["hits"].get(path, 0) + 1
        if path == "/ok":
            self._send(200, BODY)
        elif path == "/flaky":
            if hits <= 2:
                self._send(500, b"overloaded")
            else:
                self._send(200, BODY)
        elif path == "/always-500":
            self._send(503, b"down")
        elif path == "/missing":
            self._send(404, b"no such file")
        elif path == "/forbidden":
            self._send(403, b"go away")
        elif path == "/rate-limited":
            if hits == 1:
                self._send(429, b"slow down", headers=[("Retry-After", "7")])
            else:
                self._send(200, BODY)
        elif path == "/hang-body":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[:100])
            self.wfile.flush()
            state["release"].wait(30)
        elif path == "/hang-headers":
            state["release"].wait(30)
        elif path in ("/cut", "/cut-once"):
            if path == "/cut" or hits == 1:
                send_half(self, BODY)
            else:
                self._send(200, BODY)
        elif path == "/wrong":
            self._send(200, BODY.replace(b"runtime", b"tampered"))
        elif path == "/auth":
            if self.headers.get("Authorization") == GOOD_AUTH:
                self._send(200, BODY)
            else:
                self._send(401, b"who are you", headers=[("WWW-Authenticate", 'Basic realm="mirror"')])
        elif path == "/redirect-same":
            self._send(302, headers=[("Location", "/auth")])
        elif path == "/redirect-other":
            self._send(302, headers=[("Location", state["other_base"] + "/ok")])
        else:
            self._send(404)


def _serve():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = {"requests": [], "hits": {}, "release": threading.Event()}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    return server


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    main, other = _serve(), _serve()
    main.state["other_base"] = "http://127.0.0.1:%d" % other.server_address[1]
    main.base = "http://127.0.0.1:%d" % main.server_address[1]
    main.other = other
    yield main
    for each in (main, other):
        each.state["release"].set()
        each.shutdown()
        each.server_close()


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def out(tmp_path):
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


def _fails(url, dest, sha=SHA, **kwargs):
    with pytest.raises(AppenvError) as caught:
        _download.download(url, str(dest), sha, **kwargs)
    return caught.value


def test_a_good_download_lands_whole_and_reports_its_transfer(server, out):
    sleeps = Sleeps()
    result = _download.download(server.base + "/ok", str(out / "a.tar.gz"), SHA.upper(), sleep=sleeps)
    assert (out / "a.tar.gz").read_bytes() == BODY
    assert os.listdir(str(out)) == ["a.tar.gz"]
    assert result["bytes"] == len(BODY) and result["attempts"] == 1 and result["url"] == server.base + "/ok"
    assert result["seconds"] >= 0 and result["sha256"] == SHA
    assert sleeps == []
    headers = server.state["requests"][0][1]
    assert headers["User-Agent"] == "appenv.python/0.1.0 (+python-urllib)"
    assert _download.USER_AGENT == "appenv.python/%s (+python-urllib)" % __import__(
        "ansible_collections.appenv.python.plugins.module_utils._version", fromlist=["x"]).COLLECTION_VERSION


def test_a_custom_user_agent_is_sent(server, out):
    _download.download(server.base + "/ok", str(out / "a"), SHA, user_agent="custom/1")
    assert server.state["requests"][0][1]["User-Agent"] == "custom/1"


def test_5xx_is_retried_with_exponential_backoff(server, out):
    sleeps = Sleeps()
    result = _download.download(server.base + "/flaky", str(out / "a"), SHA, backoff=0.5, sleep=sleeps)
    assert result["attempts"] == 3
    assert sleeps == [0.5, 1.0]
    assert (out / "a").read_bytes() == BODY


def test_retries_run_out_with_a_full_error_and_nothing_left(server, out):
    sleeps = Sleeps()
    error = _fails(server.base + "/always-500", out / "a", retries=3, backoff=2, sleep=sleeps)
    assert error.code == "download_failed"
    assert sleeps == [2, 4, 8]
    assert server.state["hits"]["/always-500"] == 4
    assert "4 attempt(s)" in error.message and "HTTP 503" in error.message
    assert server.base + "/always-500" in error.message
    assert error.fault == "the network, mirror or package index" and len(error.fixes) >= 3
    assert os.listdir(str(out)) == []


@pytest.mark.parametrize("path, status", [("/missing", 404), ("/forbidden", 403)])
def test_404_and_403_are_not_retried(server, out, path, status):
    sleeps = Sleeps()
    error = _fails(server.base + path, out / "a", sleep=sleeps)
    assert error.code == "download_failed" and "HTTP %d" % status in error.message
    assert "1 attempt(s)" in error.message
    assert sleeps == [] and server.state["hits"][path] == 1
    assert os.listdir(str(out)) == []


def test_429_waits_as_long_as_retry_after_says(server, out):
    sleeps = Sleeps()
    result = _download.download(server.base + "/rate-limited", str(out / "a"), SHA, backoff=1.0, sleep=sleeps)
    assert result["attempts"] == 2 and sleeps == [7.0]


@pytest.mark.parametrize("path", ["/hang-body", "/hang-headers"])
def test_a_hanging_server_is_bounded_by_the_read_timeout(server, out, path):
    sleeps = Sleeps()
    started = time.monotonic()
    error = _fails(server.base + path, out / "a", retries=1, timeout=0.5, sleep=sleeps)
    assert time.monotonic() - started < 10
    assert error.code == "download_failed" and "timed out" in error.message
    assert "2 attempt(s)" in error.message and sleeps == [1.0]
    assert os.listdir(str(out)) == []


def test_a_body_cut_short_is_retried_then_refused(server, out):
    sleeps = Sleeps()
    error = _fails(server.base + "/cut", out / "a", retries=2, sleep=sleeps)
    assert error.code == "download_failed" and sleeps == [1.0, 2.0]
    assert "cut short" in error.message or "closed" in error.message
    assert os.listdir(str(out)) == []


def test_a_body_cut_short_once_is_recovered_by_a_retry(server, out):
    result = _download.download(server.base + "/cut-once", str(out / "a"), SHA, sleep=Sleeps())
    assert result["attempts"] == 2 and (out / "a").read_bytes() == BODY


def test_a_wrong_body_is_a_checksum_mismatch_never_kept_never_retried(server, out):
    old = out / "a"
    old.write_bytes(b"the previous archive")
    sleeps = Sleeps()
    error = _fails(server.base + "/wrong", old, sleep=sleeps)
    assert error.code == "checksum_mismatch"
    actual = hashlib.sha256(BODY.replace(b"runtime", b"tampered")).hexdigest()
    assert SHA in error.message and actual in error.message
    assert any("refresh" in fix for fix in error.fixes) and any("bypass" in fix for fix in error.fixes)
    assert sleeps == [] and server.state["hits"]["/wrong"] == 1
    assert old.read_bytes() == b"the previous archive"
    assert os.listdir(str(out)) == ["a"]


def _credentialed(server, path, password=PASSWORD):
    quoted = password.replace("@", "%40")
    return server.base.replace("http://", "http://%s:%s@" % (USER, quoted)) + path


def test_basic_auth_from_the_url_is_sent_but_never_shown(server, out):
    result = _download.download(_credentialed(server, "/auth"), str(out / "a"), SHA)
    assert (out / "a").read_bytes() == BODY
    assert server.state["requests"][0][1]["Authorization"] == GOOD_AUTH
    assert USER not in str(result) and PASSWORD not in str(result) and "s3cret" not in str(result)
    assert result["url"] == server.base.replace("http://", "http://***@") + "/auth"


def test_wrong_credentials_fail_without_showing_them(server, out):
    error = _fails(_credentialed(server, "/auth", password="wr0ng-pass"), out / "a", sleep=Sleeps())
    assert error.code == "download_failed" and "HTTP 401" in error.message
    text = error.message + repr(error.as_result()) + repr(error.fields)
    assert "wr0ng" not in text and USER not in text
    assert "***@" in text
    assert os.listdir(str(out)) == []


def test_credentials_follow_a_redirect_on_the_same_origin_only(server, out):
    _download.download(_credentialed(server, "/redirect-same"), str(out / "a"), SHA)
    assert [path for path, _headers in server.state["requests"]] == ["/redirect-same", "/auth"]
    assert server.state["requests"][1][1].get("Authorization") == GOOD_AUTH

    _download.download(_credentialed(server, "/redirect-other"), str(out / "b"), SHA)
    other_headers = server.other.state["requests"][0][1]
    assert "Authorization" not in other_headers
    assert other_headers["User-Agent"].startswith("appenv.python/")


def test_connection_refused_is_retried(out):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    sleeps = Sleeps()
    error = _fails("http://127.0.0.1:%d/x.tar.gz" % port, out / "a", retries=2, backoff=0.1, sleep=sleeps)
    assert error.code == "download_failed" and "3 attempt(s)" in error.message
    assert sleeps == [0.1, 0.2]
    assert "refused" in error.message.lower()


def test_file_urls_are_local_copies(tmp_path, out):
    source = tmp_path / "mirror dir" / "python.tar.gz"
    source.parent.mkdir()
    source.write_bytes(BODY)
    url = "file://" + str(source).replace(" ", "%20")
    result = _download.download(url, str(out / "a"), SHA)
    assert (out / "a").read_bytes() == BODY and result["attempts"] == 1 and result["bytes"] == len(BODY)


def test_a_missing_file_url_is_not_retried(tmp_path, out):
    sleeps = Sleeps()
    error = _fails("file://" + str(tmp_path / "nope.tar.gz"), out / "a", sleep=sleeps)
    assert error.code == "download_failed" and "nope.tar.gz" in error.message and sleeps == []
    assert os.listdir(str(out)) == []


def test_a_wrong_local_file_is_a_checksum_mismatch(tmp_path, out):
    source = tmp_path / "python.tar.gz"
    source.write_bytes(b"something else")
    error = _fails("file://" + str(source), out / "a")
    assert error.code == "checksum_mismatch"
    assert os.listdir(str(out)) == []


@pytest.mark.parametrize("sha", [None, "", "abc", "g" * 64, SHA[:-1], SHA + "0", 12],
                         ids=["none", "empty", "short", "not-hex", "63-digits", "65-digits", "not-text"])
def test_no_download_starts_without_a_64_hex_sha256(server, out, sha):
    error = _fails(server.base + "/ok", out / "a", sha=sha)
    assert error.code == "checksum_missing"
    assert server.state["requests"] == [] and os.listdir(str(out)) == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x.tar.gz", "127.0.0.1/x.tar.gz", "http:///x.tar.gz",
                                 "file://otherhost/x.tar.gz", "http://127.0.0.1:notaport/x"])
def test_unsupported_urls_are_refused_up_front(out, url):
    error = _fails(url, out / "a")
    assert error.code == "download_bad_url"


def test_bad_url_errors_hide_credentials(out):
    error = _fails("ftp://someone:hunter22@127.0.0.1/x.tar.gz", out / "a")
    assert error.code == "download_bad_url" and "hunter22" not in error.message and "someone" not in error.message


def test_a_local_write_error_is_not_a_network_error(server, tmp_path):
    with pytest.raises(OSError):
        _download.download(server.base + "/ok", str(tmp_path / "no-such-dir" / "a"), SHA, sleep=Sleeps())
    assert server.state["hits"]["/ok"] == 1


# -- company networks: a private CA, a proxy --------------------------------------------------------------------
def _make_ca_and_cert(directory):
    """A CA and a certificate for 127.0.0.1 it signed: the test bed's (with the key usages Python 3.13's strict
    X.509 checks ask of a CA)."""
    return make_ca(directory)


@pytest.fixture
def tls_server(server, tmp_path_factory, monkeypatch):
    ssl = pytest.importorskip("ssl")
    directory = tmp_path_factory.mktemp("tls")
    ca = _make_ca_and_cert(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(directory / "server.pem"), str(directory / "server.key"))
    tls = _serve()
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    tls.base = "https://127.0.0.1:%d" % tls.server_address[1]
    tls.ca = ca
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT"):
        monkeypatch.delenv(name, raising=False)
    yield tls
    tls.state["release"].set()
    tls.shutdown()
    tls.server_close()


def test_a_private_ca_is_its_own_error_naming_ssl_cert_file(tls_server, out):
    sleeps = Sleeps()
    error = _fails(tls_server.base + "/ok", out / "a", retries=3, sleep=sleeps)
    assert error.code == "network_tls_untrusted" and sleeps == []  # not retried
    assert "not trusted" in error.title and "SSL_CERT_FILE" in error.message
    assert "https://127.0.0.1" in error.message and not list(out.iterdir())


@pytest.mark.parametrize("name", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_the_ca_given_in_the_environment_is_trusted(tls_server, out, monkeypatch, name):
    monkeypatch.setenv(name, str(tls_server.ca))
    result = _download.download(tls_server.base + "/ok", str(out / "a"), SHA)
    assert result["bytes"] == len(BODY) and (out / "a").read_bytes() == BODY


def test_an_unreachable_proxy_is_its_own_error_naming_it(server, out, monkeypatch):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    monkeypatch.setenv("http_proxy", "http://proxy-user:pr0xy-pass@127.0.0.1:%d" % port)
    monkeypatch.setenv("no_proxy", "")
    monkeypatch.delenv("NO_PROXY", raising=False)
    error = _fails(server.base + "/ok", out / "a", retries=1, backoff=0.01)
    assert error.code == "network_proxy_failed", error.message
    assert "http_proxy=http://***@127.0.0.1:%d" % port in error.message and "pr0xy-pass" not in error.message
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # the loopback bypasses it
    assert _download.download(server.base + "/ok", str(out / "b"), SHA)["bytes"] == len(BODY)
