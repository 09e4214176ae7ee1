"""A tiny WSGI app provisioned by appenv.python's example.

`python app.py --check` answers one request in-process and exits (used by `make example`);
`python app.py` serves on 127.0.0.1:8000.
"""

import json
import platform
import sys

import demo_alpha
from wsgiref.simple_server import make_server
from wsgiref.util import setup_testing_defaults


def application(environ, start_response):
    body = json.dumps({"app": "sample-app", "python": platform.python_version(), "arch": platform.machine(),
                       "prefix": sys.prefix, "demo_alpha": demo_alpha.__version__}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def check():
    environ = {}
    setup_testing_defaults(environ)
    seen = {}
    body = b"".join(application(environ, lambda status, headers: seen.update(status=status)))
    print(seen["status"], body.decode())
    return 0 if seen["status"].startswith("200") else 1


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(check())
    make_server("127.0.0.1", 8000, application).serve_forever()
