"""A company network on 127.0.0.1: a private CA, HTTPS servers it signed, and a real forward proxy in front.

`company_network(roots)` makes a CA and a server certificate for 127.0.0.1 with `openssl`, serves each
directory of `roots` (the loopback package index, the runtime mirror) over HTTPS on 127.0.0.1, and starts
Debian's `tinyproxy` on 127.0.0.1 as the forward proxy. tinyproxy opens its upstream connections from
127.0.0.2 (its `Bind` setting) and the HTTPS servers answer only connections from 127.0.0.2: a host on the
machine's network (a `--network host` container) reaches them through the proxy or not at all, so a test
that succeeds proves the proxy was used. The proxy's log (`Network.connects()`) says which ports it opened.

Yields a `Network`: `ca_pem` (the CA's certificate, to give the host as SSL_CERT_FILE), `urls` (the
https:// base URL of each root, in order), `proxy_url` and `connects()`.
"""
import contextlib
import functools
import http.server
import os
import pathlib
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

from .mirror import serving

PROXY_SOURCE = "127.0.0.2"  # tinyproxy's upstream address: the only client the HTTPS servers accept


class ProxyError(RuntimeError):
    pass


def _openssl(directory, *args):
    proc = subprocess.run(["openssl"] + list(args), cwd=str(directory), capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise ProxyError("openssl %s failed:\n%s" % (args[0], proc.stderr[-2000:]))


def make_ca(directory):
    """A CA (ca.pem, ca.key) and a certificate for 127.0.0.1 it signed (server.pem, server.key) in directory."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(directory, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=appenv test bed company CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", "ca.key", "-out", "ca.pem")
    _openssl(directory, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", "server.key", "-out", "server.csr")
    (directory / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        "keyUsage=digitalSignature,keyEncipherment\n")
    _openssl(directory, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem")
    for name in ("ca.pem", "server.pem"):
        os.chmod(directory / name, 0o644)
    return directory / "ca.pem"


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


class _OnlyThroughProxy(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def verify_request(self, request, client_address):
        return client_address[0] == PROXY_SOURCE


@contextlib.contextmanager
def _serve_https(root, context):
    server = _OnlyThroughProxy(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with serving(server, "appenv-testbed-https", scheme="https") as url:
        yield url


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Network:
    def __init__(self, ca_pem, urls, proxy_url, log):
        self.ca_pem = ca_pem
        self.urls = urls
        self.proxy_url = proxy_url
        self.log = log

    def environment(self, ca=True):
        """The task's environment: keyword for a host on this network (the proxy, and the CA unless ca=False)."""
        env = {"https_proxy": self.proxy_url, "http_proxy": self.proxy_url, "no_proxy": ""}
        if ca:
            env["SSL_CERT_FILE"] = str(self.ca_pem)
        return env

    def connects(self):
        """The host:port of every CONNECT the proxy served, in order."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return re.findall(r"CONNECT (127\.0\.0\.1:\d+)", text)


@contextlib.contextmanager
def company_network(roots):
    """Serve each directory of roots over HTTPS behind tinyproxy; yields a Network (see the module's docstring)."""
    program = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
    if not os.path.exists(program):
        raise ProxyError("tinyproxy is missing: tests/testbed/system-packages.sh installs it")
    work = pathlib.Path(tempfile.mkdtemp(prefix="appenv-proxy-"))
    os.chmod(work, 0o755)  # the CA is read by the containers' users too
    try:
        ca_pem = make_ca(work)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(work / "server.pem"), str(work / "server.key"))
        log = work / "tinyproxy.log"
        log.touch()
        os.chmod(log, 0o666)  # tinyproxy drops to nobody
        port = _free_port()
        (work / "tinyproxy.conf").write_text(
            "Port %d\nListen 127.0.0.1\nBind %s\nTimeout 60\nAllow 127.0.0.1\nLogFile \"%s\"\n"
            "LogLevel Connect\nMaxClients 50\nUser nobody\nGroup nogroup\nDisableViaHeader Yes\n"
            % (port, PROXY_SOURCE, log))
        with contextlib.ExitStack() as stack:
            urls = [stack.enter_context(_serve_https(root, context)) for root in roots]
            proc = subprocess.Popen([program, "-d", "-c", str(work / "tinyproxy.conf")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                deadline = time.time() + 15
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        break
                    except OSError:
                        if proc.poll() is not None or time.time() > deadline:
                            raise ProxyError("tinyproxy did not start: %s" % proc.stderr.read().decode()[-2000:])
                        time.sleep(0.1)
                yield Network(ca_pem, urls, "http://127.0.0.1:%d" % port, log)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                proc.stderr.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
