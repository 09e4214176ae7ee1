"""Fault injection against a live host: a switched venv rebuilt under a running app and killed half-way.

The rebuild without a fault, the target directory and the emulated aarch64 host are in
tests/integration/plugins/modules/test_live_switch.py and test_emulated_aarch64.py.
"""

import json
import time

import pytest

from tests.integration import harness
from tests.integration.faults import injection
from tests.integration.faults.test_deps_faults import lock_of
from tests.integration.plugins.modules.test_app_dependencies import APP, prepare, write_files
from tests.integration.plugins.modules.test_live_switch import MODULE, SITE_PACKAGES, V1, V2, VENV, Importer

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def test_killed_venv_rebuild_never_takes_the_packages_from_a_running_app(amd64_host, runtime_mirror, package_index):
    """app_dependencies (location venv) SIGKILLed while pip installs the next deploy into a new version, while a
    process starts the app (a fresh interpreter importing its packages) in a loop.

    Expected: not one start of the app fails, before, during or after the kill: dest still points at the old
    version, whole; the next run removes the half-built version (a reason says so) and switches the new one in
    (recreated, predicted by check mode), the run after keeps; no leftovers, no lock holder, no stray process.
    """
    host = amd64_host
    prepare(host, runtime_mirror, package_index)
    package_index.publish("demo-alpha", "2.0", ["demo-beta>=1.0"])
    args = {"project_dir": APP, "index_url": package_index.simple_url, "location": "venv", "dest": VENV}
    write_files(host, V1)
    first = harness.assert_ok(harness.run_task(host, MODULE, args))
    write_files(host, V2)
    with Importer(host, VENV + "/bin/python") as importer:
        start = time.time()
        run = injection.Background(host, MODULE, args)
        killed = injection.kill_module_when(host, "app_dependencies",
                                            pattern="-m pip --python %s.appenv-versions/" % VENV)
        rc, result = run.wait()
        end = time.time()
        assert killed, "pip never ran"
        assert rc != 0 and result.get("failed"), result
        assert host.sh("readlink -f %s" % VENV).stdout.strip() == first["live_version"]
        recovered = harness.assert_ok(harness.check_then_real_task(host, MODULE, args))
        importer.wait_for(lambda: "2.0" in json.dumps(importer._read()[-1:]), "a start on the new version")
    assert importer.failures() == [], importer.failures()[:3]
    during = importer.during(start, end)
    assert during, "no start of the app ran between the rebuild's start and its kill"
    assert importer.seen(during) == [("1.0", first["live_version"] + SITE_PACKAGES)]
    print("app starts: %d around the kill, %d in all, 0 failed" % (len(during), len(importer.rows)))
    assert recovered["layer_action"] == "recreated", recovered
    assert recovered["reasons"][0].startswith("a build interrupted earlier left "), recovered["reasons"]
    assert importer.seen(importer.rows)[-1] == ("2.0", recovered["live_version"] + SITE_PACKAGES)
    again = harness.assert_ok(harness.run_task(host, MODULE, args))
    assert (again["layer_action"], again["commands"]) == ("kept", [])
    names = host.sh("ls -A %s.appenv-versions" % VENV).stdout.split()
    assert sorted(names) == sorted([".appenv-history.json", first["live_version"].rsplit("/", 1)[1],
                                    recovered["live_version"].rsplit("/", 1)[1]])
    assert injection.leftovers(host, "/opt/appenv") == []
    assert injection.lock_free(host, lock_of(VENV)), "a process still holds the layer lock"
    assert injection.module_processes(host) == []
