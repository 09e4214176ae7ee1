# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Index credentials never show in /proc/<pid>/cmdline: a real pip install from a loopback index with basic auth,
watched by a poller reading every process's command line while it runs (issue 16)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import http.server
import io
import os
import sys
import threading
import time
import zipfile

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _index, _tooling
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner

USER, PASSWORD = "builder", "Pr0c-Cmdl1ne-S3cret"
WHEEL = "demo_secret-1.0-py3-none-any.whl"


def _wheel():
    files = {
        "demo_secret/__init__.py": b"__version__ = '1.0'\n",
        "demo_secret-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo-secret\nVersion: 1.0\n",
        "demo_secret-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                           b"Tag: py3-none-any\n",
    }

    def digest(data):
        return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = "".join("%s,sha256=%s,%d\n" % (name, digest(data), len(data)) for name, data in files.items())
    files["demo_secret-1.0.dist-info/RECORD"] = (record + "demo_secret-1.0.dist-info/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class Index(http.server.BaseHTTPRequestHandler):
    """A PEP 503 index of one wheel that answers 401 without the right basic auth, and answers slowly
    (so the installer runs long enough to be watched)."""
    wheel = _wheel()
    authorised = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        token = base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
        if self.headers.get("Authorization") != "Basic " + token:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="index"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        Index.authorised.append(self.path)
        time.sleep(0.5)
        if self.path.rstrip("/") == "/simple/demo-secret":
            body = ('<a href="/files/%s#sha256=%s">%s</a>' % (WHEEL, hashlib.sha256(self.wheel).hexdigest(), WHEEL)
                    ).encode()
            kind = "text/html"
        elif self.path == "/files/" + WHEEL:
            body, kind = self.wheel, "application/octet-stream"
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def index_url(loopback):
    return loopback(Index) + "/simple"


class Poller(threading.Thread):
    """Reads every /proc/<pid>/cmdline, as any local user can, until stopped."""

    def __init__(self):
        super(Poller, self).__init__(daemon=True)
        self.stop = threading.Event()
        self.leaks = []
        self.installs_seen = 0

    def run(self):
        while not self.stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as handle:
                        line = handle.read().replace(b"\0", b" ")
                except OSError:
                    continue
                if b"demo-secret==1.0" in line:
                    self.installs_seen += 1
                if PASSWORD.encode() in line or USER.encode() + b":" in line:
                    self.leaks.append(line.decode("utf-8", "replace"))
            time.sleep(0.01)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_a_real_install_with_index_credentials_never_shows_them_in_any_command_line(index_url, tmp_path):
    index = _index.IndexOptions(index_url, username=USER, password=PASSWORD)
    target = tmp_path / "site"
    poller = Poller()
    poller.start()
    try:
        _tooling.pip_install(CommandRunner(secrets=index.secrets), [sys.executable, "-m", "pip"],
                             ["--target", str(target), "--no-cache-dir", "demo-secret==1.0"], index,
                             "Installing demo-secret", retries=0, timeout=120,
                             env={"PIP_CONFIG_FILE": os.devnull})
    finally:
        poller.stop.set()
        poller.join()
    assert (target / "demo_secret" / "__init__.py").is_file()  # the install succeeded, with the credentials
    assert "/files/" + WHEEL in Index.authorised
    assert poller.installs_seen > 0  # the poller did watch the installer's command line while it ran
    assert poller.leaks == []
