"""The HTTP client (plugins/module_utils/_http.py) on company networks: a private CA, a proxy."""

import socket

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _download
from tests.testbed.proxy import make_ca
from tests.unit.plugins.module_utils.test__download import (  # noqa: F401 pylint: disable=unused-import
    BODY, SHA, Sleeps, _fails, _no_proxy, _serve, out, server)


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
