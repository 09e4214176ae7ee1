"""Live hosts: a process that imports the app's packages in a loop never fails while a venv or target layer is
rebuilt and switched in (docs/guides/live-hosts.md). The SIGKILL mid-rebuild is in the fault suite
(tests/integration/faults/test_live_faults.py), the emulated aarch64 rebuild in test_emulated_aarch64.py; both use
Importer from here.

One host for the module (the tests leave the layers they use removed); each scenario's tasks in one play.
"""

import json
import os
import time

import pytest

from tests.integration import harness
from tests.integration.hosts import DEFAULT_DEST, running_host
from tests.integration.plugins.modules.test_app_dependencies import APP, prepare, write_files

pytestmark = pytest.mark.integration

MODULE = "appenv.python.app_dependencies"
VENV = "/opt/appenv/venv"
SITE = "/opt/appenv/site"
SITE_PACKAGES = "/lib/python3.11/site-packages"
V1 = {"requirements.txt": "demo-alpha==1.0\ndemo-delta\n"}
V2 = {"requirements.txt": "demo-alpha==2.0\ndemo-delta\n"}
# What the app does at start: import its packages, one after the other as an app does; it says which version it
# got and from which directory, and fails when they came from two (a switch while it was importing).
APP_START = ("import os, time, demo_alpha, demo_beta, demo_delta; time.sleep(0.01); import demo_gamma; "
             "dirs = set(os.path.dirname(os.path.dirname(os.path.realpath(m.__file__))) "
             "for m in (demo_alpha, demo_beta, demo_delta, demo_gamma)); "
             "assert len(dirs) == 1, 'imported from two versions: %s' % sorted(dirs); "
             "print(demo_alpha.__version__, dirs.pop())")

# Runs on the host with its own python3: starts the app (a fresh interpreter) again and again until told to stop,
# recording each start (start, end, exit status, output); the record is rewritten after each start.
_LOOP = r"""
import json, os, subprocess, sys, time
argv, record, stop = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
rows = []
def save():
    with open(record + ".tmp", "w") as handle:
        json.dump(rows, handle)
    os.rename(record + ".tmp", record)
save()
while not os.path.exists(stop):
    start = time.time()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    rows.append([start, time.time(), proc.returncode, proc.stdout.strip()[-600:]])
    save()
open(record + ".done", "w").close()
"""


def wait_for(condition, what, timeout=120):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out waiting for %s" % what
        time.sleep(0.2)


class Importer:
    """A process on the host starting the app in a loop (APP_START with argv's interpreter) during a with block."""

    def __init__(self, host, python, name="importer"):
        self.host = host
        self.record = "/tmp/appenv-%s.json" % name
        self.stop_file = "/tmp/appenv-%s.stop" % name
        self.argv = [python, "-c", APP_START]
        self.rows = []

    def __enter__(self):
        self.host.sh("rm -f %s %s.done %s" % (self.record, self.record, self.stop_file))
        self.host.exec(["sh", "-c", 'setsid python3 -c "$1" "$2" "$3" "$4" </dev/null >/dev/null 2>&1 &', "sh", _LOOP,
                        json.dumps(self.argv), self.record, self.stop_file])
        self.wait_for(lambda: len(self._read()) >= 2, "the importer's first starts")
        return self

    def _read(self):
        out = self.host.sh("cat %s 2>/dev/null || echo '[]'" % self.record).stdout
        try:
            return json.loads(out)
        except ValueError:
            return []

    def wait_for(self, condition, what, timeout=120):
        wait_for(condition, what, timeout)

    def __exit__(self, *exc):
        self.host.sh("touch %s" % self.stop_file)
        self.wait_for(lambda: self.host.exists(self.record + ".done"), "the importer to stop")
        self.rows = self._read()

    def failures(self):
        return [row for row in self.rows if row[2] != 0]

    def during(self, start, end):
        """The starts that began and ended within [start, end] (the controller's clock is the host's)."""
        return [row for row in self.rows if start <= row[0] and row[1] <= end]

    def seen(self, rows):
        """The (version, directory) pairs the app imported in rows."""
        return sorted(set(tuple(row[3].split()) for row in rows if row[2] == 0))


# Imports demo_alpha, says so and waits for a go before it imports the rest: a start the switch falls in the middle of.
_PAUSED = ("import os, sys, time, demo_alpha; open(sys.argv[1] + '.imported', 'w').close()\n"
           "while not os.path.exists(sys.argv[1] + '.go'): time.sleep(0.05)\n"
           "import demo_beta, demo_delta, demo_gamma\n"
           "print(demo_alpha.__version__, sorted(set(os.path.dirname(os.path.dirname(os.path.realpath(m.__file__))) "
           "for m in (demo_alpha, demo_beta, demo_delta, demo_gamma))))\n")


class PausedStart:
    """An app start paused after its first import for the length of a with block (the rebuild and its switch)."""

    def __init__(self, host, python, name):
        self.host, self.python, self.base = host, python, "/tmp/appenv-%s" % name
        self.output = None

    def __enter__(self):
        self.host.sh("rm -f %s.*" % self.base)
        self.host.exec(["sh", "-c", 'setsid "$1" -c "$2" "$3" </dev/null >"$3.out" 2>&1 &', "sh", self.python,
                        _PAUSED, self.base])
        wait_for(lambda: self.host.exists(self.base + ".imported"), "the paused start's first import")
        return self

    def _printed(self):
        return self.host.sh("cat %s.out" % self.base).stdout.strip()

    def __exit__(self, *exc):
        self.host.sh("touch %s.go" % self.base)
        wait_for(self._printed, "the paused start")
        self.output = self._printed()


@pytest.fixture(scope="module")
def host(amd64_image):
    with running_host(amd64_image, "x86_64") as started:
        yield started


def predicted_then_real(host, args, importer=None):
    """app_dependencies in check mode, then for real while importer runs; (real result, start, end of the run)."""
    predicted = harness.assert_ok(harness.run_task(host, MODULE, args, check=True))
    start = time.time()
    real = harness.assert_ok(harness.run_task(host, MODULE, args))
    end = time.time()
    for key in ("layer_action", "reasons", "live_version"):
        assert predicted.get(key) == real.get(key), (key, predicted, real)
    return real, start, end


def readlink(host, path):
    return host.sh("readlink -f %s" % path).stdout.strip()


def assert_never_failed_and_switched(importer, start, end, old, new):
    """No start failed; starts ran during the rebuild; the app got old then new, each whole."""
    assert importer.failures() == [], importer.failures()[:3]
    during = importer.during(start, end)
    assert during, "no start of the app ran during the rebuild (%d in all)" % len(importer.rows)
    seen = importer.seen(importer.rows)
    assert seen == sorted([old, new]), seen
    assert importer.seen(during)[0] in (old, new)
    print("app starts: %d during the rebuild, %d in all, 0 failed" % (len(during), len(importer.rows)))
    return len(during)


def test_a_venv_rebuild_never_takes_the_packages_from_a_running_app(host, runtime_mirror, package_index):
    prepare(host, runtime_mirror, package_index)
    package_index.publish("demo-alpha", "2.0", ["demo-beta>=1.0"], scripts={"demo-alpha": "demo_alpha:main"})
    args = {"project_dir": APP, "index_url": package_index.simple_url, "location": "venv", "dest": VENV}
    write_files(host, V1)
    first, _start, _end = predicted_then_real(host, args)
    assert first["layer_action"] == "created" and first["live_version"] == readlink(host, VENV)
    assert first["live_version"].startswith(VENV + ".appenv-versions/") and first["interpreter"] == VENV + "/bin/python"
    write_files(host, V2)
    with Importer(host, VENV + "/bin/python") as importer, PausedStart(host, VENV + "/bin/python", "venv") as paused:
        second, start, end = predicted_then_real(host, args, importer)
        importer.wait_for(lambda: "2.0" in json.dumps(importer._read()[-1:]), "a start on the new version")
    assert second["layer_action"] == "recreated" and second["live_version"] != first["live_version"]
    # A start the switch fell in the middle of imports the rest from the version it started on.
    assert paused.output == "1.0 %s" % [first["live_version"] + SITE_PACKAGES], paused.output
    assert_never_failed_and_switched(importer, start, end, ("1.0", first["live_version"] + SITE_PACKAGES),
                                     ("2.0", second["live_version"] + SITE_PACKAGES))
    assert host.exists(first["live_version"])  # kept (keep_previous 1) for processes started from it

    # One play: kept; a forced rebuild keeping no previous version; the console script (its #! names its own
    # version) still starts once the others are gone; state absent removes the link and every version.
    play = [{"hosts": "all", "gather_facts": False, "tasks": [
        {"name": "again", MODULE: args},
        {"name": "forced, keep none", MODULE: dict(args, force=True, keep_previous=0)},
        {"name": "console script", "ansible.builtin.command": VENV + "/bin/demo-alpha", "check_mode": False,
         "changed_when": False},
        {"name": "versions", "ansible.builtin.command": "ls -A %s.appenv-versions" % VENV, "check_mode": False,
         "changed_when": False},
        {"name": "absent", MODULE: dict(args, state="absent")},
    ]}]
    _predicted, real = harness.check_then_real(play, [host])
    again, forced, script, listing, absent = harness.task_results(real, host.name)
    assert (again["layer_action"], again["commands"], again["live_version"]) == ("kept", [], second["live_version"])
    assert forced["layer_action"] == "recreated" and forced["live_version"] == second["live_version"] + ".2"
    assert script["stdout"] == "demo-alpha 2.0", script
    assert sorted(listing["stdout"].split()) == [".appenv-history.json", os.path.basename(forced["live_version"])]
    assert absent["layer_action"] == "removed"
    assert not host.exists(VENV) and not host.exists(VENV + ".appenv-versions")


def test_a_target_rebuild_never_takes_the_packages_from_a_running_app(host, runtime_mirror, package_index):
    prepare(host, runtime_mirror, package_index)
    package_index.publish("demo-alpha", "2.0", ["demo-beta>=1.0"])
    args = {"project_dir": APP, "index_url": package_index.simple_url, "location": "target", "dest": SITE}
    write_files(host, V1)
    first, _start, _end = predicted_then_real(host, args)
    assert first["layer_action"] == "created" and first["live_version"] == readlink(host, SITE)
    write_files(host, V2)
    # The app runs on the runtime; the .pth in its site-packages names the link, never a version (each start
    # resolves it once).
    with Importer(host, DEFAULT_DEST + "/bin/python3", name="target-importer") as importer, \
            PausedStart(host, DEFAULT_DEST + "/bin/python3", "target") as paused:
        second, start, end = predicted_then_real(host, args, importer)
        importer.wait_for(lambda: "2.0" in json.dumps(importer._read()[-1:]), "a start on the new version")
    assert second["layer_action"] == "recreated"
    assert paused.output == "1.0 %s" % [first["live_version"]], paused.output
    assert_never_failed_and_switched(importer, start, end, ("1.0", first["live_version"]),
                                     ("2.0", second["live_version"]))
    pth = host.sh("cat %s/lib/python3.11/site-packages/appenv-opt-appenv-site.pth" % DEFAULT_DEST).stdout
    assert "%r" % SITE in pth and ".appenv-versions" not in pth
    absent = harness.assert_ok(harness.check_then_real_task(host, MODULE, dict(args, state="absent")))
    assert absent["layer_action"] == "removed" and not host.exists(SITE + ".appenv-versions")
