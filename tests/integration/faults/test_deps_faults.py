"""Fault injection against app_dependencies, pyc_compile and pip_tooling on real hosts.

Each scenario checks three things: a titled error with cause and fix (or
success where recovery is expected), the previous environment still works (the
app imports its dependencies), and the next normal run recovers to a correct
state (created or recreated, then kept) without leftovers or lock holders.

Each test's docstring is its row in docs/reliability.md: the first line is the
scenario, the paragraph starting "Expected:" the expected outcome.
"""

import contextlib
import functools
import http.server
import json
import shlex
import threading
import time

import pytest

from tests.integration import harness
from tests.integration.hosts import DEFAULT_DEST, start_host, install_deps
from tests.integration.faults import injection
from tests.integration.harness import error_of
from tests.integration.plugins.modules.test_app_dependencies import APP, project_files, run_app, write_files

pytestmark = [pytest.mark.integration, pytest.mark.faults]

DEPS = "/opt/appenv/deps"
MODULE = "appenv.python.app_dependencies"
# The next deploy of the app: one more pin, so the layer has to be rebuilt.
NEXT = {"requirements.txt": "demo-alpha==1.0\ndemo-delta\ndemo-gamma==1.0\n"}


def lock_of(dest):
    parent, name = dest.rsplit("/", 1)
    return "%s/.%s.appenv-lock" % (parent, name)


def installed_app(host, tools_state, package_index, **args):
    """A host with the runtime, pip and a working dependency layer of the app at args' dest; the layer's result.
    (At the default dest on a plain host the scenarios unpack conftest.app_state instead: the same runs, made
    once.)"""
    tools_state.put_on(host)  # the runtime and pip (conftest.py)
    write_files(host, project_files("requirements", package_index))
    good = harness.assert_ok(install_deps(host, package_index, **args))
    assert good["layer_action"] == "created" and run_app(host, good) == "1.0"
    return good


def assert_recovers(host, package_index, dest=DEPS, **args):
    """The next normal run (the next deploy) rebuilds and works, the one after keeps; nothing is left behind."""
    write_files(host, NEXT)
    # Check mode predicts the recovering run (the same action and reasons), then it runs.
    recovered = harness.assert_ok(harness.check_then_real_task(host, MODULE, dict(
        project_dir=APP, index_url=package_index.simple_url, dest=dest, **args)))
    assert recovered["layer_action"] in ("created", "recreated"), recovered
    assert run_app(host, recovered) == "1.0"
    again = harness.assert_ok(install_deps(host, package_index, dest=dest, **args))
    assert (again["layer_action"], again["commands"]) == ("kept", [])
    assert injection.leftovers(host, dest.rsplit("/", 1)[0]) == []
    assert injection.lock_free(host, lock_of(dest)), "a process still holds the layer lock"
    assert injection.module_processes(host) == []
    return recovered


def assert_titled_and_nothing_lost(host, result, good, title=None):
    """A titled error (without a traceback), and the previous layer still imports."""
    error = error_of(result)
    if title:
        assert error["title"] == title, error
    assert run_app(host, good) == "1.0"
    return error


# -- killed runs -----------------------------------------------------------------------------------
def test_killed_install_keeps_the_old_layer_and_next_run_restores_and_rebuilds(amd64_host, app_state, package_index):
    """app_dependencies SIGKILLed while pip installs the next deploy's requirements over a working layer.

    Expected: the old layer is kept whole beside dest (moved aside; until the next run the app sees the half-built
    dest); the next run restores it under the lock and rebuilds (recreated, with a reason naming the interrupted
    build), the run after keeps; no .appenv-old/.appenv-work leftovers, no lock holder, no stray process.
    """
    good = app_state.put_on(amd64_host)
    write_files(amd64_host, NEXT)
    run = injection.Background(amd64_host, MODULE, {"project_dir": APP, "index_url": package_index.simple_url})
    killed = injection.kill_module_when(amd64_host, "app_dependencies", pattern="-m pip install")
    rc, result = run.wait()
    assert killed, "pip never ran"
    assert rc != 0 and result.get("failed"), result
    # The previous layer is whole where the engine moved it: it imports from there.
    aside = dict(good, environment=dict(good["environment"], PYTHONUSERBASE=DEPS + ".appenv-old"))
    assert run_app(amd64_host, aside) == "1.0"
    recovered = assert_recovers(amd64_host, package_index)
    assert any("interrupted" in reason and "restored" in reason for reason in recovered["reasons"]), recovered


def _sources(host, root, version, count, prefix="m"):
    """count modules of about 180 lines each, root/pkg/<prefix>NNNN.py, saying VERSION = version."""
    script = ("import os, sys; root, version, count, prefix = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4];"
              "os.makedirs(root + '/pkg', exist_ok=True); open(root + '/pkg/__init__.py', 'w').close();"
              "body = ''.join('def f%d(x):\\n    return x * %d + len(%r)\\n\\n' % (i, i, 'v' * i) for i in range(60));"
              "[open('%s/pkg/%s%04d.py' % (root, prefix, n), 'w').write('VERSION = %s\\n\\n' % version + body)"
              " for n in range(count)]")
    host.exec(["python3", "-c", script, root, str(version), str(count), prefix])


# Runs in the runtime: how many sources have a checked-hash pyc of their current content, a stale one, none.
_PYC_CENSUS = r"""
import glob, importlib.util, json, sys
counts = {"fresh": 0, "stale": 0, "missing": 0}
for source in glob.glob(sys.argv[1] + "/**/*.py", recursive=True):
    try:
        with open(importlib.util.cache_from_source(source), "rb") as handle:
            head = handle.read(16)
    except OSError:
        counts["missing"] += 1
        continue
    with open(source, "rb") as handle:
        fresh = int.from_bytes(head[4:8], "little") & 1 and head[8:16] == importlib.util.source_hash(handle.read())
    counts["fresh" if fresh else "stale"] += 1
print(json.dumps(counts))
"""


def pyc_census(host, root):
    return json.loads(host.exec([DEFAULT_DEST + "/bin/python3", "-c", _PYC_CENSUS, root]).stdout)


def test_killed_compile_is_completed_by_the_next_run(amd64_host, runtime_state):
    """pyc_compile SIGKILLed mid-compile of an app update (every source changed, new modules added).

    Expected: the app still runs its new code (stale pycs are not used); the next run compiles everything (all pycs
    present and of the current sources), the run after keeps; no lock holder.
    """
    runtime_state.put_on(amd64_host)  # 3.11 installed by python_runtime (conftest.py)
    root, count = "/srv/code", 1500
    _sources(amd64_host, root, 1, count)
    args = {"paths": [root], "interpreter": DEFAULT_DEST + "/bin/python3.11", "bytecode_workers": 1}
    assert harness.assert_ok(harness.run_task(amd64_host, "appenv.python.pyc_compile", args))["layer_action"] == "created"
    _sources(amd64_host, root, 2, count)
    _sources(amd64_host, root, 2, 10, prefix="a")
    total = 1 + 10 + count
    run = injection.Background(amd64_host, "appenv.python.pyc_compile", args)
    # One worker compiles in sorted order: the new a*.py first, then the changed m*.py.
    killed = injection.kill_module_when(amd64_host, "pyc_compile", path=root + "/pkg/__pycache__/a0009.*.pyc")
    rc, result = run.wait()
    assert killed and rc != 0 and result.get("failed"), result
    census = pyc_census(amd64_host, root)
    assert 0 < census["fresh"] < total, ("the kill did not land mid-compile", census)
    code = "import pkg.m%04d as m; print(m.VERSION)" % (count - 1)
    assert amd64_host.sh("cd %s && %s/bin/python3 -c %s" % (root, DEFAULT_DEST, shlex.quote(code))).stdout == "2\n"

    recovered = harness.assert_ok(harness.run_task(amd64_host, "appenv.python.pyc_compile", args))
    assert recovered["layer_action"] != "kept" and recovered["compiled"] == total, recovered
    assert pyc_census(amd64_host, root) == {"fresh": total, "stale": 0, "missing": 0}
    again = harness.assert_ok(harness.run_task(amd64_host, "appenv.python.pyc_compile", args))
    assert (again["layer_action"], again["commands"]) == ("kept", [])
    locks = amd64_host.sh("ls /var/lib/appenv/pyc/*.lock").stdout.split()
    assert locks and all(injection.lock_free(amd64_host, lock) for lock in locks)


# -- a misbehaving package index ---------------------------------------------------------------------
class _BadIndex(http.server.SimpleHTTPRequestHandler):
    """Serves a package index's directory, misbehaving as self.server.mode says."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass

    def do_GET(self):  # noqa: N802 - name of the base class
        self.server.requests += 1
        mode = self.server.mode
        if mode == "500":
            body = b"internal error\n"
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif mode == "hang":
            self.server.stopping.wait(300)
            self.close_connection = True
        elif mode == "truncated" and self.path.split("?")[0].startswith("/files/"):
            data = (self.server.root / self.path.split("?")[0].lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            super().do_GET()


@contextlib.contextmanager
def bad_index(package_index, mode):
    """A threaded HTTP server on 127.0.0.1 in front of package_index's files; yields it (server.url)."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_BadIndex, directory=str(package_index.root)))
    server.daemon_threads = True
    server.mode, server.root, server.requests, server.stopping = mode, package_index.root, 0, threading.Event()
    server.url = "http://127.0.0.1:%d" % server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="appenv-bad-index", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize("mode", ["500", "hang", "truncated"])
def test_misbehaving_index_is_a_titled_error_in_bounded_time(amd64_host, app_state, package_index, mode):
    """The package index misbehaves ({mode}) while the next deploy installs, its URL carrying credentials.

    Expected: a titled error, within the task's timeout, that names the index URL without its credentials; the
    previous layer still imports; the next run against a working index rebuilds (recreated), the one after keeps.
    """
    good = app_state.put_on(amd64_host)
    write_files(amd64_host, NEXT)
    secret = "Idx-s3cr3t-42"
    with bad_index(package_index, mode) as server:
        url = server.url.replace("http://", "http://builder:%s@" % secret) + "/simple"
        started = time.monotonic()
        result = install_deps(amd64_host, package_index, index_url=url, retries=1, timeout=20)
        seconds = time.monotonic() - started
        assert server.requests > 0, "the index was never asked"
    error = assert_titled_and_nothing_lost(amd64_host, result, good)
    assert error["fault"] == "the network, mirror or package index", error
    assert seconds < 90, "took %.0f s" % seconds
    text = json.dumps(result)
    assert secret not in text, text[max(0, text.find(secret) - 300):text.find(secret) + 100]
    assert server.url.split("//")[1] in result["msg"], result["msg"]
    assert_recovers(amd64_host, package_index)


# -- concurrency -------------------------------------------------------------------------------------
def test_two_runs_at_once_are_serialised(amd64_host, tools_state, package_index):
    """Two app_dependencies runs at once on one host.

    Expected: both succeed; one builds the layer (created), the other waits for the lock and finds it complete
    (kept); the app imports; the next run keeps; no leftovers, no lock holder.
    """
    tools_state.put_on(amd64_host)  # the runtime and pip (conftest.py)
    write_files(amd64_host, project_files("requirements", package_index))
    args = {"project_dir": APP, "index_url": package_index.simple_url}
    runs = [injection.Background(amd64_host, MODULE, args) for unused in range(2)]
    results = [run.wait() for run in runs]
    assert [rc for rc, _result in results] == [0, 0], results
    assert sorted(result["layer_action"] for _rc, result in results) == ["created", "kept"], results
    assert harness.overlapped(results[0][1], results[1][1]), "the runs did not overlap: %s" % [
        result["_task_span"] for _rc, result in results]
    assert run_app(amd64_host, results[0][1]) == "1.0"
    again = harness.assert_ok(install_deps(amd64_host, package_index))
    assert (again["layer_action"], again["commands"]) == ("kept", [])
    assert injection.leftovers(amd64_host, "/opt/appenv") == []
    assert injection.lock_free(amd64_host, lock_of(DEPS))


# -- the host's filesystems and users ----------------------------------------------------------------
def test_full_filesystem_is_a_titled_error_and_old_layer_survives(amd64_image, tools_state, package_index):
    """Filesystem of the dependency layer full while the next deploy installs.

    Expected: a titled error that says the space ran out and blames the host; the old layer is back in place
    and imports; once space is freed the next run rebuilds (recreated), the one after keeps; no leftovers.
    """
    dest = "/srv/layers/deps"
    host = start_host(amd64_image, "x86_64", network="host", tmpfs=["/srv/layers:size=24m,exec"])
    try:
        good = installed_app(host, tools_state, package_index, dest=dest)
        host.sh("dd if=/dev/zero of=/srv/layers/filler bs=64k 2>/dev/null; true")
        write_files(host, NEXT)
        result = install_deps(host, package_index, dest=dest)
        error = assert_titled_and_nothing_lost(host, result, good)
        assert "space" in result["msg"].lower(), result["msg"]
        assert error["fault"] == "the target host", error
        host.sh("rm -f /srv/layers/filler")
        assert_recovers(host, package_index, dest=dest)
    finally:
        host.container.remove()


def test_read_only_project_dir_installs(amd64_image, tools_state, package_index, tmp_path):
    """The app's directory is on a read-only filesystem.

    Expected: the install succeeds (created; nothing is written into the app's files), the app imports, the next
    run keeps.
    """
    app = tmp_path / "app"
    app.mkdir()
    for name, text in project_files("requirements", package_index).items():
        (app / name).write_text(text)
    host = start_host(amd64_image, "x86_64", network="host", volumes=[(str(app), APP, "ro")])
    try:
        tools_state.put_on(host)  # the runtime and pip (conftest.py)
        first = harness.assert_ok(install_deps(host, package_index))
        assert first["layer_action"] == "created" and run_app(host, first) == "1.0"
        again = harness.assert_ok(install_deps(host, package_index))
        assert (again["layer_action"], again["commands"]) == ("kept", [])
    finally:
        host.container.remove()


def test_read_only_dest_is_a_titled_error_and_loses_nothing(amd64_image, tools_state, package_index, tmp_path):
    """The layer's filesystem is read-only when the next deploy installs (a working layer is on it).

    Expected: a titled error "not writable" that blames the host; the layer still imports; once writable again
    the next run rebuilds (recreated), the one after keeps; no leftovers.
    """
    shared = str(tmp_path / "appenv")
    writable = start_host(amd64_image, "x86_64", network="host", volumes=[(shared, "/opt/appenv")])
    read_only = start_host(amd64_image, "x86_64", network="host", volumes=[(shared, "/opt/appenv", "ro")])
    try:
        good = installed_app(writable, tools_state, package_index)
        write_files(read_only, NEXT)
        result = install_deps(read_only, package_index)
        error = assert_titled_and_nothing_lost(read_only, result, good,
                                               title="The app_dependencies layer's location is not writable")
        assert error["fault"] == "the target host", error
        assert_recovers(writable, package_index)
    finally:
        writable.container.remove()
        read_only.container.remove()


def test_app_user_without_permission_is_a_titled_error(amd64_host, app_state, package_index):
    """app_dependencies run (become_user) as an app user that cannot write to dest.

    Expected: a titled error "not writable" that says to use become or a user that owns the directory; the layer
    still imports, for root and for that user; the next run as root rebuilds (recreated), the one after keeps.
    """
    good = app_state.put_on(amd64_host)
    amd64_host.sh("useradd --create-home --shell /bin/sh appuser")
    write_files(amd64_host, NEXT)
    result = harness.run_task(amd64_host, MODULE, {"project_dir": APP, "index_url": package_index.simple_url},
                              become_user="appuser")
    error = assert_titled_and_nothing_lost(amd64_host, result, good,
                                           title="The app_dependencies layer's location is not writable")
    assert any("become" in fix for fix in error["fixes"]), error
    assert run_app(amd64_host, good, user="appuser") == "1.0"
    assert_recovers(amd64_host, package_index)


# -- the host's environment --------------------------------------------------------------------------
def test_hostile_environment_does_not_hijack_the_install(amd64_host, tools_state, package_index):
    """Hostile environment for app_dependencies (PYTHONHOME, PYTHONPATH, PIP_INDEX_URL nowhere, PIP_REQUIRE_VIRTUALENV,
    VIRTUAL_ENV…).

    Expected: the install succeeds (created) with the task's index, none of it reaches the runtime or pip (the
    runner clears the environment); the app imports; the next run keeps.
    """
    tools_state.put_on(amd64_host)  # the runtime and pip (conftest.py)
    write_files(amd64_host, project_files("requirements", package_index))
    injection.plant_hijack(amd64_host)
    args = {"project_dir": APP, "index_url": package_index.simple_url}
    first = harness.assert_ok(harness.run_task(amd64_host, MODULE, args, environment=injection.HOSTILE_ENV))
    assert first["layer_action"] == "created" and run_app(amd64_host, first) == "1.0"
    assert not injection.hijacked(amd64_host), "the host's environment reached the runtime"
    again = harness.assert_ok(harness.run_task(amd64_host, MODULE, args, environment=injection.HOSTILE_ENV))
    assert (again["layer_action"], again["commands"]) == ("kept", [])


def test_created_files_are_not_world_writable_even_with_umask_000(amd64_host, runtime_state, package_index):
    """pip_tooling and app_dependencies run with umask 000 on the host.

    Expected: nothing they create (tool venvs, packages, wheel cache, fingerprints, lock files) is world-writable;
    the app imports.
    """
    runtime_state.put_on(amd64_host)  # 3.11 installed by python_runtime with the usual umask (conftest.py)
    amd64_host.sh("printf '#!/bin/sh\\numask 000\\nexec /usr/bin/python3 \"$@\"\\n' > /usr/local/bin/python3-umask0"
                  " && chmod 755 /usr/local/bin/python3-umask0")
    hostile = {"ansible_python_interpreter": "/usr/local/bin/python3-umask0"}
    # The umask takes effect: a module run with that interpreter starts its commands with umask 000.
    probe = harness.assert_ok(harness.run_task(amd64_host, "ansible.builtin.command", {"cmd": "sh -c umask"},
                                               vars=hostile))
    assert probe["stdout"].strip() == "0000", probe    # The runtime was installed with the usual umask: only what the two modules make is under test.
    world_writable = "find / -xdev -perm -0002 ! -type l 2>/dev/null || true"
    before = set(amd64_host.sh(world_writable).stdout.splitlines())
    harness.assert_ok(harness.run_task(amd64_host, "appenv.python.pip_tooling", {
        "index_url": package_index.simple_url, "tools": [{"name": "uv"}]}, vars=hostile))
    write_files(amd64_host, project_files("requirements", package_index))
    result = harness.assert_ok(harness.run_task(amd64_host, MODULE, {
        "project_dir": APP, "index_url": package_index.simple_url}, vars=hostile))
    assert run_app(amd64_host, result) == "1.0"
    after = set(amd64_host.sh(world_writable).stdout.splitlines())
    assert sorted(after - before)[:20] == []


NOOP_RUNS = 10  # why 10: the docstring below
# Every entry under the layers' parent with its mtime and ctime: a no-op run writes nothing there, not even the
# lock file's PID.
WRITTEN = "find /opt -xdev -printf '%p %T@ %C@\\n' | sort"


def test_noop_runs_grow_nothing(amd64_host, app_state, package_index, pipelined):
    """10 app_dependencies no-op runs in a row.

    Expected: none changes anything or starts a process; no growth in files, directories, processes or lock files;
    no lock holder afterwards.

    How many runs catch a leak, measured: with a leak planted in every module run (injection.LEAKS, run with
    APPENV_TEST_INJECT_LEAK=<kind> APPENV_TEST_NOOP_RUNS=1: a file in /tmp, a directory in /var/lib/appenv, a lock
    file, a process left running, a write under /opt) the series fails at one run, each kind by its own check: the
    census is exact (a threshold of one file, directory, process or lock file) and a write leaves a new mtime. A
    no-op run takes one path (read the fingerprint, compare, report kept; max_age unset) that depends on no counter
    and no clock, so what one run leaks every run leaks. 10 runs also catch for certain a leak that comes back at
    least every 10th run, and one that strikes one run in ten at random with probability 1 - 0.9**10 = 65% (races
    are sought by the two-runs-at-once scenario). The series made 50 runs of about 1 s each (piped), then 25.
    """
    app_state.put_on(amd64_host)
    roots = ["/opt", "/tmp", "/var/lib/appenv", "/var/cache/appenv"]
    census = ("for t in f d; do find %s -xdev -type $t 2>/dev/null | wc -l; "
              "done; %s; find / -xdev -name '*.appenv-lock' 2>/dev/null | wc -l"
              % (" ".join(roots), injection.PROCESS_COUNT))
    before = amd64_host.sh(census).stdout.split()
    args = {"project_dir": APP, "index_url": package_index.simple_url}
    runs = injection.noop_runs(NOOP_RUNS)
    play = [{"hosts": "all", "gather_facts": False, "tasks": [{
        "name": "no-op", MODULE: args, "loop": list(range(runs)), "register": "runs"}]}]
    written = amd64_host.sh(WRITTEN).stdout
    injection.plant_leaks(amd64_host)  # none in CI (injection.LEAKS)
    report = harness.run_playbook(play, [amd64_host])
    harness.assert_no_op_runs(harness.loop_results(report, amd64_host.name, runs))
    after = amd64_host.sh(census).stdout.split()
    assert after == before, ("files, directories, processes, lock files", before, after)
    assert amd64_host.sh(WRITTEN).stdout == written, "a no-op run wrote under /opt (a new mtime or ctime)"
    assert injection.lock_free(amd64_host, lock_of(DEPS))
