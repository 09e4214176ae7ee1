"""A python-build-standalone-like release mirror: `<root>/<tag>/<archive>` + `SHA256SUMS`, served on 127.0.0.1."""
import contextlib
import functools
import hashlib
import http.server
import os
import pathlib
import shutil
import threading


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_mirror(root, archives, tag) -> pathlib.Path:
    """Place `archives` (paths) in `<root>/<tag>/` (hardlink, else copy) and write `<root>/<tag>/SHA256SUMS`.

    SHA256SUMS lists every archive of the directory as `<sha256>  <name>` lines, sorted by name,
    as python-build-standalone releases do. Returns the release directory.
    """
    release = pathlib.Path(root) / tag
    release.mkdir(parents=True, exist_ok=True)
    for src in archives:
        src = pathlib.Path(src)
        dst = release / src.name
        if dst.exists():
            if os.path.samefile(src, dst):
                continue
            dst.unlink()
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    names = sorted(p.name for p in release.iterdir() if p.is_file() and p.name != "SHA256SUMS"
                   and not p.name.startswith("."))
    text = "".join("%s  %s\n" % (_sha256(release / n), n) for n in names)
    part = release / ".SHA256SUMS.part"
    part.write_text(text)
    os.replace(part, release / "SHA256SUMS")
    return release


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@contextlib.contextmanager
def serving(server, name, scheme="http"):
    """Run `server` (bound on 127.0.0.1) in a thread called `name`; yields its base URL (no trailing /) and shuts
    it down afterwards."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield "%s://127.0.0.1:%d" % (scheme, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def serve(root):
    """Serve directory `root` over HTTP on 127.0.0.1 (free port, threaded); yields the base URL (no trailing /)."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    with serving(server, "appenv-testbed-mirror") as url:
        yield url
