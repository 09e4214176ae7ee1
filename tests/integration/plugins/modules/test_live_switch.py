"""Live hosts: a running app never loses its environment while app_dependencies rebuilds it (issue 19, section 3).

A process inside the container starts the app's interpreter (and its console script) every 20 ms, as new
workers of a served app would, and logs every start that cannot import the app's packages, while
(a) a rebuild runs (the requirements changed, so the venv is recreated) and (b) a rebuild is SIGKILLed
mid-install. The log of failures must stay empty, and the loop must have run many times during the
rebuild (so the test can fail: on the engine that moved the old venv aside and built in place, it does).
"""

import json
import re
import time
import uuid

import pytest

from tests.integration import harness
from tests.integration.conftest import SYNTHETIC, _start_host, install_deps, install_runtime
from tests.integration.faults import injection
from tests.integration.plugins.modules.test_app_dependencies import APP, write_files
from tests.testbed import package_index as package_index_mod

pytestmark = pytest.mark.integration

VENV = "/opt/appenv/venv"
SITE = "/opt/appenv/site"
FIRST = {"requirements.txt": "demo-alpha==1.0\ndemo-delta\n"}
NEXT = {"requirements.txt": "demo-alpha==1.0\ndemo-delta\ndemo-gamma==1.0\n"}
THEN = {"requirements.txt": "demo-alpha==1.0\ndemo-gamma\n"}
# Many starts must fall inside a rebuild for "it never failed" to mean anything.
MIN_STARTS = 20

# Runs in the container with its own python3: start argvs in turn every 20 ms until the stop file exists;
# every start goes to the log (time, exit status), every failure with its stderr to the failure log.
_LOOP = r"""
import json, os, subprocess, sys, time
job = json.loads(sys.argv[1])
env = dict(os.environ, **job["env"])
n = 0
while not os.path.exists(job["stop"]):
    argv = job["argvs"][n % len(job["argvs"])]
    try:
        proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        rc, err = proc.returncode, proc.stderr[-400:]
    except OSError as exc:  # the program is not there at all
        rc, err = 127, str(exc)
    now = time.time()
    with open(job["log"], "a") as handle:
        handle.write("%.3f %d\n" % (now, rc))
    if rc:
        with open(job["failures"], "a") as handle:
            handle.write("%.3f %s rc=%d %s\n" % (now, " ".join(argv), rc, err))
    n += 1
    time.sleep(0.02)
"""


class ImportLoop:
    """The app's starts in a loop inside the host, in the background (see _LOOP)."""

    def __init__(self, host, argvs, env=None):
        self.host = host
        self.base = "/tmp/loop-%s" % uuid.uuid4().hex[:8]
        job = {"argvs": argvs, "env": env or {}, "stop": self.base + ".stop", "log": self.base + ".log",
               "failures": self.base + ".failures"}
        host.exec(["sh", "-c", "printf '%s' \"$1\" > " + self.base + ".py", "sh", _LOOP])
        host.exec(["sh", "-c", "touch %s.log %s.failures && setsid nohup python3 %s.py \"$1\" "
                   ">/dev/null 2>&1 </dev/null &" % (self.base, self.base, self.base), "sh", json.dumps(job)])
        self._wait_for_starts(3)

    def starts(self):
        return [line.split() for line in self.host.sh("cat %s.log" % self.base).stdout.splitlines() if line.strip()]

    def _wait_for_starts(self, count, timeout=60):
        deadline = time.time() + timeout
        while len(self.starts()) < count:
            assert time.time() < deadline, "the import loop never ran"
            time.sleep(0.2)

    def during(self, started, ended):
        return [rc for at, rc in self.starts() if started <= float(at) <= ended]

    def failures(self):
        return self.host.sh("cat %s.failures" % self.base).stdout

    def stop(self):
        self.host.sh("touch %s.stop" % self.base)
        time.sleep(0.3)


@pytest.fixture(scope="module")
def index(index_server):
    """The loopback index with pip's wheels and the demo packages (one for the module's tests)."""
    root, base_url = index_server
    name = uuid.uuid4().hex[:10]
    built = package_index_mod.PackageIndex(root / name)
    built.add(package_index_mod.ensure_tool_wheels("x86_64"))
    for pkg, version, requires, options in SYNTHETIC:
        package_index_mod.build_wheel(built.files, pkg, version, requires, **options)
    built.write_pages()
    built.url = "%s/%s" % (base_url, name)
    return built


@pytest.fixture(scope="module")
def live_host(amd64_image, runtime_mirror, index):
    """One container for the module: the runtime and pip installed, the app's first requirements."""
    host = _start_host(amd64_image, "x86_64", network="host")
    try:
        harness.assert_ok(install_runtime(host, runtime_mirror, "3.11"))
        harness.assert_ok(harness.run_task(host, "appenv.python.pip_tooling", {"index_url": index.simple_url}))
        yield host
    finally:
        host.container.remove()


def deploy(host, index, files, **args):
    """The next deploy, predicted in check mode, then run; (result, start time, end time)."""
    write_files(host, files)
    predicted = harness.assert_ok(install_deps(host, index, check=True, **args))
    started = time.time()
    result = harness.assert_ok(install_deps(host, index, **args))
    ended = time.time()
    assert (predicted["action"], predicted["reasons"]) == (result["action"], result["reasons"])
    return result, started, ended


def assert_kept(host, index, **args):
    check = harness.assert_ok(install_deps(host, index, check=True, **args))
    again = harness.assert_ok(install_deps(host, index, **args))
    assert (check["changed"], again["changed"], again["action"], again["commands"]) == (False, False, "kept", [])


def live_version(host, dest):
    return host.sh("readlink %s || true" % dest).stdout.strip()


def versions(host, dest, pattern=r"\.appenv-[0-9a-f]{12}-[0-9a-f]{6}$"):
    """The versioned directories beside dest (pattern=".appenv-": everything a build names after dest)."""
    parent, name = dest.rsplit("/", 1)
    return sorted(entry for entry in host.sh("ls -a %s" % parent).stdout.split()
                  if re.match(re.escape(name) + pattern, entry))


def test_a_rebuild_and_a_killed_rebuild_never_take_the_venv_away(live_host, index):
    args = {"location": "venv", "dest": VENV}
    first, _started, _ended = deploy(live_host, index, FIRST, **args)
    assert first["action"] == "created" and first["python"] == VENV + "/bin/python"
    assert_kept(live_host, index, **args)
    old = live_version(live_host, VENV)
    loop = ImportLoop(live_host, [[VENV + "/bin/python", "-c", "import demo_alpha, demo_delta"],
                                  [VENV + "/bin/demo-alpha"]])
    try:
        # (a) a rebuild: the requirements changed, the venv is recreated.
        rebuilt, started, ended = deploy(live_host, index, NEXT, **args)
        during_rebuild = loop.during(started, ended)
        # (b) the next deploy, SIGKILLed while pip installs into the new venv.
        write_files(live_host, THEN)
        run = injection.Background(live_host, "appenv.python.app_dependencies",
                                   dict(args, project_dir=APP, index_url=index.simple_url))
        killed_at = time.time()
        killed = injection.kill_module_when(live_host, "app_dependencies", pattern="install --no-compile")
        rc, _result = run.wait()
        after_kill = time.time()
        time.sleep(1.0)  # the app keeps starting after the kill, before any next run
        until = time.time()
        during_kill = loop.during(killed_at, until)
    finally:
        loop.stop()
    print("starts (exit status) during the rebuild: %s; around the kill: %s" % (
        " ".join(during_rebuild), " ".join(during_kill)))
    assert loop.failures() == "", "the app could not start:\n" + loop.failures()[:3000]
    assert len(during_rebuild) >= MIN_STARTS, "only %d starts during the rebuild" % len(during_rebuild)
    assert len(during_kill) >= MIN_STARTS, "only %d starts around the kill" % len(during_kill)
    print("starts during the rebuild: %d in %.1f s; around the kill: %d" % (
        len(during_rebuild), ended - started, len(during_kill)))  # for the record (docs/guides/live-hosts.md)
    assert rebuilt["action"] == "recreated", rebuilt["reasons"]
    assert killed and rc != 0 and after_kill > killed_at, "the rebuild was not killed mid-install"

    # The switch: the new venv is a versioned directory, the previous one kept (keep_previous: 1).
    new = live_version(live_host, VENV)
    assert new != old and new.startswith("venv.appenv-")
    script = live_host.sh("head -1 %s/bin/demo-alpha" % VENV).stdout.strip()
    assert script == "#!/opt/appenv/%s/bin/python" % new  # pinned to its version: the shebang names it
    # The killed build left a half-built version beside the live one, which it never touched.
    assert len(versions(live_host, VENV)) == 3, versions(live_host, VENV)

    # The next run converges and cleans up: the half-built version goes, the live one is replaced.
    recovered, _started, _ended = deploy(live_host, index, THEN, **args)
    assert recovered["action"] == "recreated"
    assert any("interrupted" in reason and "removed" in reason for reason in recovered["reasons"]), recovered
    assert live_host.sh("%s/bin/python -c 'import demo_alpha, demo_gamma; print(demo_alpha.__version__)'"
                        % VENV).stdout.strip() == "1.0"
    assert versions(live_host, VENV, r"\.appenv-") == sorted([live_version(live_host, VENV), new])
    assert injection.leftovers(live_host, "/opt/appenv") == []
    assert_kept(live_host, index, **args)


def test_a_target_layer_is_switched_under_a_running_app(live_host, index):
    args = {"location": "target", "dest": SITE}
    deploy(live_host, index, FIRST, **args)
    assert_kept(live_host, index, **args)
    loop = ImportLoop(live_host, [["/opt/appenv/python/bin/python3", "-c", "import demo_alpha, demo_delta"]])
    try:
        rebuilt, started, ended = deploy(live_host, index, NEXT, **args)
        during = loop.during(started, ended)
    finally:
        loop.stop()
    assert loop.failures() == "", "the app could not start:\n" + loop.failures()[:3000]
    assert len(during) >= MIN_STARTS, "only %d starts during the rebuild" % len(during)
    print("target: starts during the rebuild: %d in %.1f s" % (len(during), ended - started))
    assert rebuilt["action"] == "recreated" and live_version(live_host, SITE).startswith("site.appenv-")
    assert_kept(live_host, index, **args)


def test_the_app_role_notifies_the_restart_handler_once(live_host, index):
    """roles/app with appenv_app_restart_handler: a changed environment notifies the play's handler, a no-op not."""
    def play(check=False):
        report = harness.run_playbook([{
            "hosts": "all", "gather_facts": False,
            "vars": {"appenv_app_project_dir": APP, "appenv_app_index_url": index.simple_url,
                     "appenv_app_code_bytecode": "none", "appenv_app_restart_handler": "restart the app"},
            "roles": ["appenv.python.app"],
            "handlers": [{"name": "restart the app", "ansible.builtin.shell": "echo restarted >> /tmp/restarts",
                          "changed_when": True}]}], [live_host], check=check)
        assert report["_rc"] == 0, report["_stderr"][-2000:]
        return harness.play_stats(report, live_host.name)["changed"]

    def restarts():
        return live_host.sh("cat /tmp/restarts 2>/dev/null || true").stdout.split()

    write_files(live_host, FIRST)
    assert play(check=True) > 0 and restarts() == []
    assert play() > 0 and restarts() == ["restarted"]
    assert play() == 0 and play(check=True) == 0 and restarts() == ["restarted"]
    write_files(live_host, NEXT)  # the next deploy switches the layer: one more restart
    assert play() > 0 and restarts() == ["restarted", "restarted"]


@pytest.mark.arm64
def test_aarch64_a_rebuild_is_switched_in(arm64_host, runtime_mirror, package_index):
    """Emulated aarch64, kept lean (qemu starts a Python in about a second): one switch, no import loop."""
    harness.assert_ok(install_runtime(arm64_host, runtime_mirror, "3.11"))
    args = {"location": "venv", "dest": VENV}
    deploy(arm64_host, package_index, FIRST, **args)
    old = live_version(arm64_host, VENV)
    rebuilt, _started, _ended = deploy(arm64_host, package_index, NEXT, **args)
    new = live_version(arm64_host, VENV)
    assert rebuilt["action"] == "recreated" and old != new and new.startswith("venv.appenv-")
    assert versions(arm64_host, VENV, r"\.appenv-") == sorted([old, new])
    assert arm64_host.sh("%s/bin/demo-alpha" % VENV).stdout.strip() == "demo-alpha 1.0"
    assert_kept(arm64_host, package_index, **args)
