"""Fault injection against python_runtime on real hosts.

Each scenario checks three things: a titled error with cause and fix (or
success where recovery is expected), the previous runtime still works, and
the next normal run recovers to a correct state without leftovers.
"""

import json
import subprocess

import pytest

from tests.integration import harness
from tests.integration.conftest import DEFAULT_DEST, _start_host, install_runtime
from tests.testbed import runtimes

pytestmark = [pytest.mark.integration, pytest.mark.faults]

PROBE = "import platform; print(platform.python_version())"


def runtime_version(host, dest=DEFAULT_DEST):
    proc = host.exec([dest + "/bin/python3", "-c", PROBE], check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def leftovers(host, parent="/opt/appenv"):
    names = host.sh("ls -a %s 2>/dev/null || true" % parent).stdout.split()
    return [name for name in names if ".appenv-new" in name or ".appenv-old" in name or ".tmp-" in name]


def start_install(host, runtime_mirror, version):
    """ansible-playbook running python_runtime in the background; returns the Popen."""
    runtime_mirror.ensure(runtimes.exact_version(version), host.arch)
    play = [{"hosts": "all", "gather_facts": False, "tasks": [{
        "name": "install", "appenv.python.python_runtime": {
            "version": version, "mirror": runtime_mirror.base_url, "release": runtime_mirror.tag}}]}]
    import tempfile
    import yaml
    tmp = tempfile.mkdtemp(prefix="appenv-fault-")
    with open(tmp + "/inv.ini", "w") as handle:
        handle.write(harness.inventory_for([host]))
    with open(tmp + "/play.yml", "w") as handle:
        yaml.safe_dump(play, handle)
    return subprocess.Popen([str(harness.VENV_BIN / "ansible-playbook"), "-i", tmp + "/inv.ini", tmp + "/play.yml"],
                            env=harness.ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# Runs inside the host (minimal images have no pkill): waits for the condition, then SIGKILLs the
# module and everything it started, as an OOM kill or a cancelled CI job would.
_WATCHER = r"""
import os, signal, sys, time
path, pattern, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
def cmdlines():
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as handle:
                    yield int(pid), handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                pass
deadline = time.time() + timeout
while time.time() < deadline:
    hit = (path and os.path.exists(path)) or (pattern and any(pattern in line for _p, line in cmdlines()))
    if hit:
        for pid, line in cmdlines():
            if "AnsiballZ_python_runtime" in line or "/opt/appenv/python" in line:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        print("killed")
        sys.exit(0)
    time.sleep(0.01)
sys.exit(1)
"""


def kill_module_when(host, path="", pattern="", timeout=240):
    """SIGKILL the module once path exists or a process matching pattern runs on the host."""
    proc = host.exec(["python3", "-c", _WATCHER, path, pattern, str(timeout)], check=False)
    return proc.returncode == 0


@pytest.mark.parametrize("point, path, pattern", [
    ("download", DEFAULT_DEST + ".appenv-new/.appenv-work", ""),
    ("bytecode", "", "python3.13 -I -c"),
])
def test_killed_rebuild_leaves_old_runtime_working_and_next_run_recovers(
        amd64_host, runtime_mirror, point, path, pattern):
    harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
    proc = start_install(amd64_host, runtime_mirror, "3.13")
    killed = kill_module_when(amd64_host, path, pattern)
    proc.communicate(timeout=600)
    assert killed, "the module never reached the %s step" % point
    # The old runtime is whole and still in place: staging is renamed in only when complete.
    assert runtime_version(amd64_host) == "3.11.2"
    recovered = harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.13"))
    assert recovered["action"] == "recreated"
    assert runtime_version(amd64_host) == runtimes.exact_version("3.13")
    assert leftovers(amd64_host) == []
    again = harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.13"))
    assert again["action"] == "kept"


def test_killed_first_install_is_rebuilt(amd64_host, runtime_mirror):
    proc = start_install(amd64_host, runtime_mirror, "3.11")
    assert kill_module_when(amd64_host, DEFAULT_DEST + ".appenv-new/.appenv-work")
    proc.communicate(timeout=600)
    assert runtime_version(amd64_host) is None
    result = harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
    assert result["action"] == "created"
    assert any("interrupted" in reason for reason in result["reasons"]), result["reasons"]
    assert runtime_version(amd64_host) == "3.11.2"
    assert leftovers(amd64_host) == []


def test_two_runs_at_once_are_serialised(amd64_host, runtime_mirror):
    first = start_install(amd64_host, runtime_mirror, "3.11")
    second = start_install(amd64_host, runtime_mirror, "3.11")
    outputs = [proc.communicate(timeout=600) for proc in (first, second)]
    assert [proc.returncode for proc in (first, second)] == [0, 0], outputs
    # One built the runtime; the other waited for the lock and then found it complete.
    changed = [json.loads(out[out.index("{"):])["stats"][amd64_host.name]["changed"] for out, _err in outputs]
    assert sorted(changed) == [0, 1], outputs
    assert harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))["action"] == "kept"


def test_full_filesystem_is_a_titled_error_and_old_runtime_survives(amd64_image, runtime_mirror):
    host = _start_host(amd64_image, "x86_64", network="host", tmpfs=["/opt/appenv:size=400m,exec"])
    try:
        harness.assert_ok(install_runtime(host, runtime_mirror, "3.11"))
        host.sh("fallocate -l 1G /opt/appenv/filler 2>/dev/null || dd if=/dev/zero of=/opt/appenv/filler bs=1M count=400 2>/dev/null; true")
        result = install_runtime(host, runtime_mirror, "3.13")
        assert result.get("failed"), result
        assert result["error"]["code"] in ("layer_no_space", "download_failed", "archive_corrupt"), result["error"]
        assert "space" in result["msg"].lower(), result["msg"]
        assert runtime_version(host) == "3.11.2"
        host.sh("rm -f /opt/appenv/filler")
        assert leftovers(host) == []
        assert harness.assert_ok(install_runtime(host, runtime_mirror, "3.13"))["action"] == "recreated"
    finally:
        host.container.remove()


def test_read_only_destination_is_a_titled_error(amd64_image, runtime_mirror, tmp_path):
    host = _start_host(amd64_image, "x86_64", network="host", volumes=[(str(tmp_path), "/opt/appenv", "ro")])
    try:
        result = install_runtime(host, runtime_mirror, "3.11")
        assert result.get("failed") and result["error"]["code"] == "layer_not_writable", result
        assert "Whose fault: the target host" in result["msg"]
    finally:
        host.container.remove()


@pytest.mark.parametrize("damage", ["truncate", "not-json", "future-format", "hand-edited"])
def test_damaged_fingerprint_rebuilds_with_a_reason(amd64_host, runtime_mirror, damage):
    harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
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
    assert result["action"] == "recreated" and result["reasons"], result
    assert "Traceback" not in json.dumps(result)
    assert runtime_version(amd64_host) == "3.11.2"
    assert harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))["action"] == "kept"


def test_hostile_environment_does_not_hijack_the_install(amd64_host, runtime_mirror):
    """PYTHONPATH, PIP_*, VIRTUAL_ENV… on the host must not reach the runtime's own processes.

    (PYTHONHOME is left out: it breaks the host's python3 that Ansible itself runs the module with,
    before any code of ours runs.)
    """
    amd64_host.sh("mkdir -p /evil && printf '%s\n' "
                  "'import sys' 'if sys.prefix.startswith(\"/opt/appenv\"): open(\"/tmp/hijacked\", \"w\").close()' "
                  "> /evil/sitecustomize.py")
    env = {"PYTHONPATH": "/evil", "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "VIRTUAL_ENV": "/evil-venv",
           "PYTHONSTARTUP": "/evil/sitecustomize.py", "PYTHONUSERBASE": "/evil", "PIP_REQUIRE_VIRTUALENV": "1"}
    runtime_mirror.ensure("3.11.2", "x86_64")
    args = {"version": "3.11", "mirror": runtime_mirror.base_url, "release": runtime_mirror.tag}
    play = [{"hosts": "all", "gather_facts": False, "environment": env,
             "tasks": [{"name": "install", "appenv.python.python_runtime": args, "register": "out"}]}]
    report = harness.run_playbook(play, [amd64_host])
    result = harness.task_results(report, amd64_host.name)[-1]
    harness.assert_ok(result)
    assert result["action"] == "created"
    assert runtime_version(amd64_host) == "3.11.2"
    assert amd64_host.exec(["test", "-e", "/tmp/hijacked"], check=False).returncode != 0, "the host's env leaked"


def test_200_noop_runs_grow_nothing(amd64_host, runtime_mirror):
    harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
    census = "find /opt /tmp /var/lib/appenv -xdev 2>/dev/null | wc -l; ls /proc | grep -c '^[0-9]'"
    before = amd64_host.sh(census).stdout.split()
    args = {"version": "3.11", "mirror": runtime_mirror.base_url, "release": runtime_mirror.tag}
    play = [{"hosts": "all", "gather_facts": False, "tasks": [{
        "name": "no-op", "appenv.python.python_runtime": args, "loop": list(range(200))}]}]
    report = harness.run_playbook(play, [amd64_host])
    stats = harness.play_stats(report, amd64_host.name)
    assert stats.get("failures", 0) == 0 and stats.get("changed", 0) == 0, stats
    after = amd64_host.sh(census).stdout.split()
    assert after == before, (before, after)
