# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Downloads are capped in bytes and bounded in time as a whole: real local HTTP servers that drip or send too much."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import http.server
import os
import time

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _download
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

BODY = b"x" * 4096


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        if self.path == "/drip":  # a byte every 50 ms, forever (each read succeeds well within the timeout)
            self.send_header("Content-Length", str(10 ** 6))
            self.end_headers()
            try:
                for _byte in range(10 ** 6):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                return
        elif self.path == "/flood":  # no Content-Length, far more than the cap
            self.end_headers()
            try:
                for _block in range(4096):
                    self.wfile.write(b"y" * 65536)
            except OSError:
                return
        else:
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)


@pytest.fixture
def server(loopback):
    return loopback(Handler)


def test_a_drip_feed_stops_at_the_overall_deadline(server, tmp_path):
    dest = tmp_path / "archive"
    started = time.monotonic()
    with pytest.raises(AppenvError) as info:
        _download.download(server + "/drip", str(dest), "0" * 64, retries=3, backoff=0.01, timeout=5, deadline=1.5)
    took = time.monotonic() - started
    assert info.value.code == "download_too_slow"
    assert "overall deadline of 1.5 s" in info.value.fields["error"]
    assert took < 4, took  # each read succeeds: only the overall deadline stops it, and no retry follows
    assert os.listdir(str(tmp_path)) == []


def test_a_body_over_the_cap_is_cut_off_and_not_retried(server, tmp_path):
    dest = tmp_path / "archive"
    with pytest.raises(AppenvError) as info:
        _download.download(server + "/flood", str(dest), "0" * 64, retries=3, backoff=0.01, max_bytes=1 << 20)
    assert info.value.code == "download_too_large"
    assert info.value.fields["attempts"] == 1
    assert "cap of 1048576 bytes" in info.value.fields["error"]
    assert os.listdir(str(tmp_path)) == []


def test_a_file_url_over_the_cap_is_refused(tmp_path):
    source = tmp_path / "big"
    source.write_bytes(b"b" * (3 << 20))
    with pytest.raises(AppenvError) as info:
        _download.download(source.as_uri(), str(tmp_path / "dest"), "0" * 64, max_bytes=1 << 20)
    assert info.value.code == "download_too_large"
    assert "cap of 1048576 bytes" in info.value.fields["error"]
    assert not (tmp_path / "dest").exists()


def test_a_body_within_the_cap_and_deadline_arrives(server, tmp_path):
    dest = tmp_path / "archive"
    result = _download.download(server + "/ok", str(dest), hashlib.sha256(BODY).hexdigest(),
                                max_bytes=len(BODY), deadline=30)
    assert result["bytes"] == len(BODY)
    assert dest.read_bytes() == BODY
