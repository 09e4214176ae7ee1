"""Fixtures shared by the module_utils unit tests."""

import http.server
import threading

import pytest


@pytest.fixture
def loopback():
    """serve(handler_class): a real HTTP server on 127.0.0.1 for this test; returns its base URL."""
    servers = []

    def serve(handler):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return "http://127.0.0.1:%d" % server.server_address[1]

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()
