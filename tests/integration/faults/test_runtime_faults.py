"""Fault injection against python_runtime on real hosts.

Each scenario checks three things: a titled error with cause and fix (or
success where recovery is expected), the previous runtime still works, and
the next normal run recovers to a correct state without leftovers.

Each test's docstring is its row in docs/reliability.md: the first line is the
scenario, the paragraph starting "Expected:" the expected outcome.
"""

import json

import pytest

from tests.integration import harness
from tests.integration.hosts import DEFAULT_DEST, install_runtime, runtime_args, start_host
from tests.integration.faults import injection
from tests.testbed import runtimes

pytestmark = [pytest.mark.integration, pytest.mark.faults]

PROBE = "import platform; print(platform.python_version())"


def runtime_version(host, dest=DEFAULT_DEST):
    proc = host.exec([dest + "/bin/python3", "-c", PROBE], check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def leftovers(host, parent="/opt/appenv"):
    return injection.leftovers(host, parent)


def start_install(host, runtime_mirror, version):
    """ansible-playbook running python_runtime in the background."""
    runtime_mirror.ensure(runtimes.exact_version(version), host.arch)
    return injection.Background(host, "appenv.python.python_runtime", {
        "version": version, "mirror": runtime_mirror.base_url, "release": runtime_mirror.tag})


def kill_module_when(host, path="", pattern="", timeout=240):
    return injection.kill_module_when(host, "python_runtime", path, pattern, timeout)


@pytest.mark.parametrize("point, path, pattern", [
    ("download", DEFAULT_DEST + ".appenv-new/.appenv-work", ""),
    ("bytecode", "", "python3.13 -I -c"),
])
def test_killed_rebuild_leaves_old_runtime_working_and_next_run_recovers(
        amd64_host, runtime_mirror, runtime_state, point, path, pattern):
    """python_runtime SIGKILLed during the {point} step of an upgrade (3.11 to 3.13).

    Expected: the old runtime stays in place and works (the new one is built in a staging directory); the next
    run rebuilds (recreated), the one after keeps; no staging or moved-aside leftovers.
    """
    runtime_state.put_on(amd64_host)  # 3.11 installed by python_runtime (conftest.py)
    proc = start_install(amd64_host, runtime_mirror, "3.13")
    killed = kill_module_when(amd64_host, path, pattern)
    proc.wait()
    assert killed, "the module never reached the %s step" % point
    # The old runtime is whole and still in place: staging is renamed in only when complete.
    assert runtime_version(amd64_host) == "3.11.2"
    # Check mode predicts the recovering run, then it runs.
    recovered = harness.assert_ok(harness.check_then_real_task(amd64_host, "appenv.python.python_runtime",
                                                               runtime_args(amd64_host, runtime_mirror, "3.13")))
    assert recovered["layer_action"] == "recreated"
    assert runtime_version(amd64_host) == runtimes.exact_version("3.13")
    assert leftovers(amd64_host) == []
    again = harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.13"))
    assert again["layer_action"] == "kept"


def test_killed_first_install_is_rebuilt(amd64_host, runtime_mirror):
    """python_runtime SIGKILLed during a first install (nothing there before).

    Expected: no half-built runtime at dest; the next run builds it (created, with a reason naming the
    interrupted build); no leftovers.
    """
    proc = start_install(amd64_host, runtime_mirror, "3.11")
    assert kill_module_when(amd64_host, DEFAULT_DEST + ".appenv-new/.appenv-work")
    proc.wait()
    assert runtime_version(amd64_host) is None
    result = harness.assert_ok(harness.check_then_real_task(amd64_host, "appenv.python.python_runtime",
                                                            runtime_args(amd64_host, runtime_mirror, "3.11")))
    assert result["layer_action"] == "created"
    assert any("interrupted" in reason for reason in result["reasons"]), result["reasons"]
    assert runtime_version(amd64_host) == "3.11.2"
    assert leftovers(amd64_host) == []


def test_two_runs_at_once_are_serialised(amd64_host, runtime_mirror):
    """Two python_runtime runs at once on one host.

    Expected: both succeed; one builds the runtime (changed), the other waits for the layer lock and finds it
    complete (kept); the next run keeps.
    """
    runs = [start_install(amd64_host, runtime_mirror, "3.11") for unused in range(2)]
    results = [run.wait() for run in runs]
    assert [rc for rc, _result in results] == [0, 0], results
    # One built the runtime; the other waited for the lock and then found it complete.
    assert sorted(result["changed"] for _rc, result in results) == [False, True], results
    assert harness.overlapped(results[0][1], results[1][1]), "the runs did not overlap: %s" % [
        result["_task_span"] for _rc, result in results]
    assert harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))["layer_action"] == "kept"


def test_full_filesystem_is_a_titled_error_and_old_runtime_survives(amd64_image, runtime_mirror):
    """Filesystem of the runtime full during an upgrade.

    Expected: a titled error that says the space ran out; the old runtime still works; once space is freed the
    next run upgrades (recreated); no leftovers.
    """
    host = start_host(amd64_image, "x86_64", network="host", tmpfs=["/opt/appenv:size=400m,exec"])
    try:
        harness.assert_ok(install_runtime(host, runtime_mirror, "3.11"))
        host.sh("fallocate -l 1G /opt/appenv/filler 2>/dev/null || "
                "dd if=/dev/zero of=/opt/appenv/filler bs=1M count=400 2>/dev/null; true")
        result = install_runtime(host, runtime_mirror, "3.13")
        assert result.get("failed"), result
        assert result["error"]["code"] in ("layer_no_space", "download_failed", "archive_corrupt"), result["error"]
        assert "space" in result["msg"].lower(), result["msg"]
        assert runtime_version(host) == "3.11.2"
        host.sh("rm -f /opt/appenv/filler")
        assert leftovers(host) == []
        assert harness.assert_ok(install_runtime(host, runtime_mirror, "3.13"))["layer_action"] == "recreated"
    finally:
        host.container.remove()


def test_read_only_destination_is_a_titled_error(amd64_image, runtime_mirror, tmp_path):
    """python_runtime with its destination on a read-only filesystem.

    Expected: a titled error "not writable" whose fault is the target host.
    """
    host = start_host(amd64_image, "x86_64", network="host", volumes=[(str(tmp_path), "/opt/appenv", "ro")])
    try:
        result = install_runtime(host, runtime_mirror, "3.11")
        assert result.get("failed") and result["error"]["code"] == "layer_not_writable", result
        assert "Whose fault: the target host" in result["msg"]
    finally:
        host.container.remove()


@pytest.mark.parametrize("damage", ["truncate", "not-json", "future-format", "hand-edited"])
def test_damaged_fingerprint_rebuilds_with_a_reason(amd64_host, runtime_mirror, runtime_state, damage):
    """Runtime fingerprint damaged on disk ({damage}).

    Expected: no traceback; the runtime is rebuilt (recreated) with a reason; the next run keeps.
    """
    runtime_state.put_on(amd64_host)
    path = DEFAULT_DEST + "/.appenv-fingerprint.json"
    record = json.loads(amd64_host.exec(["cat", path]).stdout)
    if damage == "truncate":
        content = json.dumps(record)[:40]
    elif damage == "not-json":
        content = "\x01\x02 garbage {"
    elif damage == "future-format":
        record["format_version"] = 99
        content = json.dumps(record)
    else:
        record["inputs"]["python_version"] = "3.11.1"
        content = json.dumps(record)
    amd64_host.container.exec(["sh", "-c", "printf '%%s' \"$0\" > %s" % path, content])
    result = harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
    assert result["layer_action"] == "recreated" and result["reasons"], result
    assert "Traceback" not in json.dumps(result)
    assert runtime_version(amd64_host) == "3.11.2"
    assert harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))["layer_action"] == "kept"


def test_hostile_environment_does_not_hijack_the_install(amd64_host, runtime_mirror):
    """Hostile environment for python_runtime (PYTHONHOME, PYTHONPATH, PIP_*, VIRTUAL_ENV…).

    Expected: the install succeeds (created) and none of it reaches the runtime's own processes (the runner
    clears the environment).
    """
    injection.plant_hijack(amd64_host)
    runtime_mirror.ensure("3.11.2", "x86_64")
    args = {"version": "3.11", "mirror": runtime_mirror.base_url, "release": runtime_mirror.tag}
    result = harness.assert_ok(harness.run_task(amd64_host, "appenv.python.python_runtime", args,
                                                environment=injection.HOSTILE_ENV))
    assert result["layer_action"] == "created"
    assert runtime_version(amd64_host) == "3.11.2"
    assert not injection.hijacked(amd64_host), "the host's env leaked"


NOOP_RUNS = 10  # why 10: the docstring below


# Every entry under the layers' parent with its mtime and ctime: a no-op run writes nothing there, not even the
# lock file's PID.
WRITTEN = "find /opt -xdev -printf '%p %T@ %C@\\n' | sort"


def test_noop_runs_grow_nothing(amd64_host, runtime_mirror, runtime_state, pipelined):
    """10 python_runtime no-op runs in a row.

    Expected: none changes anything; no growth in files, directories or processes.

    How many runs catch a leak, measured: with a leak planted in every module run (injection.LEAKS, run with
    APPENV_TEST_INJECT_LEAK=<kind> APPENV_TEST_NOOP_RUNS=1: a file in /tmp, a directory in /var/lib/appenv, a lock
    file, a process left running, a write under /opt) the series fails at one run, each kind by its own check: the
    census is exact (a threshold of one file, directory or process) and a write leaves a new mtime. A no-op run takes
    one path (read the fingerprint, compare, report kept) that depends on no counter and no clock, so what one run
    leaks every run leaks. 10 runs also catch for certain a leak that comes back at least every 10th run, and one
    that strikes one run in ten at random with probability 1 - 0.9**10 = 65% (races are sought by the
    two-runs-at-once scenarios). The series made 200 runs (162 s piped), then 25 (~20 s, 84 s on a loaded CI).
    """
    runtime_state.put_on(amd64_host)
    roots = ["/opt", "/tmp", "/var/lib/appenv"]
    census = "find %s -xdev 2>/dev/null | wc -l; %s" % (" ".join(roots), injection.PROCESS_COUNT)
    before = amd64_host.sh(census).stdout.split()
    args = {"version": "3.11", "mirror": runtime_mirror.base_url, "release": runtime_mirror.tag}
    runs = injection.noop_runs(NOOP_RUNS)
    play = [{"hosts": "all", "gather_facts": False, "tasks": [{
        "name": "no-op", "appenv.python.python_runtime": args, "loop": list(range(runs))}]}]
    written = amd64_host.sh(WRITTEN).stdout
    injection.plant_leaks(amd64_host)  # none in CI (injection.LEAKS)
    report = harness.run_playbook(play, [amd64_host])
    harness.assert_no_op_runs(harness.loop_results(report, amd64_host.name, runs))
    after = amd64_host.sh(census).stdout.split()
    assert after == before, (before, after)
    assert amd64_host.sh(WRITTEN).stdout == written, "a no-op run wrote under /opt (a new mtime or ctime)"


def test_archive_pinned_for_another_arch_is_refused(amd64_host, runtime_mirror, runtime_state):
    """An x86_64 host given a runtime archive pinned for aarch64 (url, sha256 and arch set in the task).

    Expected: a titled error naming both architectures, whose fault is the task's or host's; nothing is
    downloaded or extracted; the previous runtime still works; the next run with the right archive keeps it.
    """
    runtime_state.put_on(amd64_host)
    other = runtime_mirror.ensure("3.11.2", "aarch64")
    result = harness.run_task(amd64_host, "appenv.python.python_runtime", {
        "url": other["url"], "sha256": other["sha256"], "version": "3.11.2", "arch": "aarch64"})
    assert result.get("failed"), result
    assert result["error"]["code"] == "runtime_wrong_arch", result["error"]
    assert "aarch64" in result["msg"] and "x86_64" in result["msg"]
    assert "Traceback" not in result["msg"]
    assert runtime_version(amd64_host) == "3.11.2"
    assert leftovers(amd64_host) == []
    assert harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))["layer_action"] == "kept"
