"""Fault injection against pip_tooling on real hosts: killed mid-install, killed mid-restore from the layer
cache, a full filesystem.

Each recovering run is a check-mode run then a real one (harness.check_then_real_task): check mode predicts the
recovery with the real run's action and reasons. Each test's docstring is its row in docs/reliability.md.
"""

import pytest

from tests.integration import harness
from tests.integration.faults import injection
from tests.integration.hosts import (DEFAULT_DEST, install_runtime, install_tooling, runtime_args, signed_cache,
                                     start_host)
from tests.testbed.package_index import TOOL_VERSIONS

pytestmark = [pytest.mark.integration, pytest.mark.faults]

MODULE = "appenv.python.pip_tooling"
UV = "/opt/appenv/tools/uv"


def tooling_args(index, **extra):
    args = {"index_url": index.simple_url, "tools": [{"name": "uv"}]}
    args.update(extra)
    return args


def assert_tools_work(host):
    assert host.exec([DEFAULT_DEST + "/bin/python3", "-m", "pip", "--version"]).stdout.split()[1] == \
        TOOL_VERSIONS["pip"]
    assert TOOL_VERSIONS["uv"] in host.exec([UV + "/bin/uv", "--version"]).stdout


def install_runtime_and_tools(host, runtime_mirror, index, **extra):
    """python_runtime (3.11) then pip_tooling (uv), with extra options for both, in one play; both succeed."""
    tasks = [("appenv.python.python_runtime", runtime_args(host, runtime_mirror, **extra)),
             (MODULE, tooling_args(index, **extra))]
    for result in harness.run_tasks(host, tasks):
        harness.assert_ok(result)


def recover(host, index, **extra):
    """The next run, predicted by check mode, then the one after keeps; nothing left behind or running."""
    recovered = harness.assert_ok(harness.check_then_real_task(host, MODULE, tooling_args(index, **extra)))
    assert recovered["layer_action"] != "kept", recovered
    assert_tools_work(host)
    again = harness.assert_ok(install_tooling(host, index, **tooling_args(index, **extra)))
    assert (again["layer_action"], again["commands"]) == ("kept", []), again
    assert injection.leftovers(host, "/opt/appenv/tools") == []
    assert injection.module_processes(host) == []
    return recovered


def test_killed_tool_install_is_recovered_by_the_next_run(amd64_host, runtime_state, package_index):
    """pip_tooling SIGKILLed while pip installs uv into its venv.

    Expected: the next run (predicted by check mode: same action and reasons) installs it; the one after keeps;
    no leftovers, no module process left.
    """
    runtime_state.put_on(amd64_host)  # 3.11 installed by python_runtime (conftest.py)
    run = injection.Background(amd64_host, MODULE, tooling_args(package_index))
    # Tool venvs are built beside the live one, in a version of their own (_layer_switch), then switched in.
    assert injection.kill_module_when(amd64_host, "pip_tooling", UV + ".appenv-versions/*/bin/python", " install ")
    run.wait()
    assert not amd64_host.exists(UV + "/bin/uv"), "the kill came after uv was installed and switched in"
    recover(amd64_host, package_index)


def test_killed_restore_from_the_layer_cache_is_recovered(amd64_host, runtime_mirror, package_index):
    """pip_tooling SIGKILLed while it extracts pip, setuptools and wheel from the layer cache (fresh runtime).

    Expected: the runtime's own files are untouched; the next run (predicted by check mode) restores; the one
    after keeps; no leftovers.
    """
    cache = signed_cache(path="/var/cache/appenv-layers", compression="gzip")
    install_runtime_and_tools(amd64_host, runtime_mirror, package_index, layer_cache=cache)
    # A fresh host with a warm cache: the runtime comes back from the cache, then pip_tooling restores.
    amd64_host.sh("rm -rf /opt/appenv /opt/.appenv*")
    assert harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11", layer_cache=cache))[
        "layer_action"] == "restored"
    run = injection.Background(amd64_host, MODULE, tooling_args(package_index, layer_cache=cache))
    assert injection.kill_module_when(amd64_host, "pip_tooling", pattern="-C %s/.appenv-overlay-" % DEFAULT_DEST)
    run.wait()
    assert not amd64_host.exists(DEFAULT_DEST + "/.appenv-pip-tooling.json"), "the kill came after the restore"
    assert amd64_host.exec([DEFAULT_DEST + "/bin/python3", "-c", "import json"]).returncode == 0
    recovered = recover(amd64_host, package_index, layer_cache=cache)
    assert recovered["layers"][0]["layer_action"] == "restored", recovered["layers"]


def test_full_filesystem_is_a_titled_error_and_the_tools_survive(amd64_image, runtime_mirror, package_index):
    """Filesystem of the tools full while pip_tooling adds a tool.

    Expected: a titled error that says the space ran out; the tools installed before still work; once space is
    freed the next run (predicted by check mode) installs the tool; no leftovers.
    """
    host = start_host(amd64_image, "x86_64", network="host", tmpfs=["/opt/appenv:size=400m,exec"])
    try:
        install_runtime_and_tools(host, runtime_mirror, package_index)
        host.sh("fallocate -l 1G /opt/appenv/filler 2>/dev/null || "
                "dd if=/dev/zero of=/opt/appenv/filler bs=1M count=400 2>/dev/null; true")
        more = tooling_args(package_index, tools=[{"name": "uv"}, {"name": "poetry"}])
        result = harness.run_task(host, MODULE, more)
        error = harness.error_of(result)
        assert "space" in result["msg"].lower() or "space" in error["cause"].lower(), result["msg"]
        assert_tools_work(host)
        host.sh("rm -f /opt/appenv/filler")
        recovered = harness.assert_ok(harness.check_then_real_task(host, MODULE, more))
        assert recovered["tools"]["poetry"]["version"] == TOOL_VERSIONS["poetry"]
        assert injection.leftovers(host, "/opt/appenv/tools") == []
    finally:
        host.container.remove()
