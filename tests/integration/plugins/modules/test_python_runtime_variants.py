"""python_runtime's free-threaded variant on a real Debian host (x86_64).

The archive is the test bed's free-threaded CPython 3.13 (tests/testbed/freethreaded.py: built from source with
--disable-gil, named and laid out as python-build-standalone's `...-freethreaded-install_only_stripped.tar.gz`),
served with the default 3.13 build from a loopback mirror of its own. The version is resolved from that mirror's
SHA256SUMS by the action plugin, as for any release.
"""

import json

import pytest

from tests.integration import harness
from tests.integration.hosts import DEFAULT_DEST
from tests.testbed import freethreaded, mirror as mirror_mod, runtimes

pytestmark = pytest.mark.integration

GIL_PROBE = "import sys, sysconfig; print(json.dumps([sys._is_gil_enabled(), sysconfig.get_config_var('Py_GIL_DISABLED')," \
            " sys.version, sys.prefix]))"


@pytest.fixture(scope="module")
def variant_mirror(tmp_path_factory):
    """A loopback mirror with the free-threaded and the default 3.13 archives of the test bed, in one release."""
    root = tmp_path_factory.mktemp("variant-mirror")
    archives = [freethreaded.ensure_archive(), runtimes.ensure_runtime_archive(runtimes.py313_version(), "x86_64")]
    mirror_mod.make_mirror(root, archives, runtimes.TAG)
    with mirror_mod.serve(root) as base_url:
        yield base_url


def install(host, mirror, check=False, **args):
    task = {"version": "3.13", "mirror": mirror, "release": runtimes.TAG, "dest": DEFAULT_DEST}
    task.update(args)
    return harness.run_task(host, "appenv.python.python_runtime", task, check=check)


def gil_facts(host, interpreter):
    return json.loads(host.exec([interpreter, "-c", "import json; " + GIL_PROBE]).stdout)


def test_free_threaded_runtime_runs_without_the_gil_idempotent_and_predicted(amd64_host, variant_mirror):
    predicted = harness.assert_ok(install(amd64_host, variant_mirror, check=True, variant="freethreaded"))
    assert (predicted["changed"], predicted["layer_action"]) == (True, "created")
    assert amd64_host.exec(["test", "-e", DEFAULT_DEST], check=False).returncode != 0, "check mode wrote files"

    first = harness.assert_ok(install(amd64_host, variant_mirror, variant="freethreaded"))
    assert (first["changed"], first["layer_action"], first["reasons"]) == (True, "created", predicted["reasons"])
    assert first["python_version"] == runtimes.py313_version() and first["variant"] == "freethreaded"
    assert first["interpreter"] == DEFAULT_DEST + "/bin/python3.13t"
    assert first["resolution"]["filename"] == freethreaded.archive_name()
    assert first["site_packages"] == DEFAULT_DEST + "/lib/python3.13t/site-packages"
    gil_enabled, gil_disabled_build, version, prefix = gil_facts(amd64_host, first["interpreter"])
    assert (gil_enabled, gil_disabled_build, prefix) == (False, 1, DEFAULT_DEST)
    assert "free-threading build" in version

    again_check = harness.assert_ok(install(amd64_host, variant_mirror, check=True, variant="freethreaded"))
    again = harness.assert_ok(install(amd64_host, variant_mirror, variant="freethreaded"))
    assert (again_check["changed"], again_check["layer_action"]) == (False, "kept")
    assert (again["changed"], again["layer_action"]) == (False, "kept")
    assert again["commands"] == [], "a no-op run started a process"
    # uv's spelling of the same request, in the version itself: the same runtime, kept.
    spelled = harness.assert_ok(install(amd64_host, variant_mirror, version="3.13t"))
    assert (spelled["changed"], spelled["layer_action"], spelled["variant"]) == (False, "kept", "freethreaded")


def test_a_variant_change_rebuilds_with_the_reason(amd64_host, variant_mirror):
    default = harness.assert_ok(install(amd64_host, variant_mirror))
    assert (default["layer_action"], default["variant"]) == ("created", "default")
    assert gil_facts(amd64_host, default["interpreter"])[:2] == [True, 0]

    predicted = harness.assert_ok(install(amd64_host, variant_mirror, check=True, variant="freethreaded"))
    changed = harness.assert_ok(install(amd64_host, variant_mirror, variant="freethreaded"))
    assert (changed["changed"], changed["layer_action"]) == (True, "recreated")
    assert "Python variant changed from default to freethreaded" in changed["reasons"]
    assert (predicted["layer_action"], predicted["reasons"]) == (changed["layer_action"], changed["reasons"])
    assert gil_facts(amd64_host, changed["interpreter"])[0] is False

    back = harness.assert_ok(install(amd64_host, variant_mirror, variant="default"))
    assert back["layer_action"] == "recreated" and "Python variant changed from freethreaded to default" in back["reasons"]
    assert amd64_host.exec(["test", "-e", DEFAULT_DEST + "/lib/python3.13t"], check=False).returncode != 0
