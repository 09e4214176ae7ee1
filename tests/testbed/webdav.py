"""nginx with WebDAV PUT on 127.0.0.1, as the current user, for the HTTP layer cache.

`serve(workdir)` writes its own configuration into `workdir`, starts `nginx -p workdir -c nginx.conf`
(`daemon off;`, pid, logs and temporary files in `workdir`) on a free port and yields a `WebDav` whose
`url("cache/")` is the base URL of a layer cache and `root` the directory nginx serves (so tests can
damage an entry on the server's disk). `/cache/` takes GET, HEAD, PUT and DELETE and lists its
directories in JSON (autoindex); `/private/` is the same behind basic auth (user `USER`, password
`PASSWORD`). nginx comes from Debian (`nginx-light` in system-packages.sh).
"""
import contextlib
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import time

USER, PASSWORD = "cache-builder", "n0t-shown-anywhere"

CONFIG = """
daemon off;
worker_processes 1;
{user}
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {work}/access.log;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    types {{ application/json json; application/gzip gz; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {work}/www;
        client_max_body_size 0;
        location /cache/ {{
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
            autoindex on;
            autoindex_format json;
        }}
        location /private/ {{
            auth_basic "layer cache";
            auth_basic_user_file {work}/htpasswd;
            dav_methods PUT DELETE;
            create_full_put_path on;
            autoindex on;
            autoindex_format json;
        }}
    }}
}}
"""


class WebDav:
    def __init__(self, work, port, process):
        self.work = pathlib.Path(work)
        self.root = self.work / "www"
        self.port = port
        self.process = process

    def url(self, path="cache/", credentials=False):
        userinfo = "%s:%s@" % (USER, PASSWORD) if credentials else ""
        return "http://%s127.0.0.1:%d/%s" % (userinfo, self.port, path)

    def log(self):
        return (self.work / "error.log").read_text() if (self.work / "error.log").exists() else ""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_listening(port, process, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def serve(workdir, timeout=15):
    """Run nginx until the block ends; yields a WebDav. Raises RuntimeError when it does not start."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    work = pathlib.Path(workdir).resolve()
    for sub in ("www/cache", "www/private", "tmp"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    (work / "htpasswd").write_text("%s:{PLAIN}%s\n" % (USER, PASSWORD))
    # Run as root, nginx would hand its workers to an unprivileged user that cannot write here.
    user = "user %s;" % pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else ""
    for attempt in range(3):
        port = free_port()
        (work / "nginx.conf").write_text(CONFIG.format(work=work, port=port, user=user))
        process = subprocess.Popen([nginx, "-e", str(work / "error.log"), "-p", str(work), "-c",
                                    str(work / "nginx.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if _wait_listening(port, process, timeout):
            break
        process.kill()
        _out, err = process.communicate()
        if attempt == 2:
            raise RuntimeError("nginx did not start: %s%s" % (err.decode(errors="replace"), WebDav(work, port, None).log()))
    try:
        yield WebDav(work, port, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
