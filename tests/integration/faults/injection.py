"""Tools the fault suites share: kill a module at a chosen point, run plays in the background, look for leftovers.

Everything that acts inside a host runs there with the host's own python3 (minimal images have no pkill,
no flock command), and everything that waits is bounded in time.
"""

import json
import os
import shutil
import subprocess
import tempfile
import weakref
from pathlib import Path

import yaml

from ansible_collections.appenv.python.plugins.module_utils._modules import NAMES
from tests.integration import harness

# The command line of the shell Ansible pipes a module into (ANSIBLE_PIPELINING). The fault suite turns
# pipelining off (conftest.py), but a kill should not depend on that.
PIPELINED_MODULE = "python3 && sleep 0"

# Runs inside the host: waits until every given condition holds (a path matching a glob exists, a process
# whose command line holds pattern runs), then SIGKILLs the module and every process it started, as an OOM
# kill or a cancelled CI job would. The module is found by its command line: AnsiballZ_engine.py (the file every
# module of the collection runs as, plugins/modules/engine.py; ansiballz_file) when Ansible copies it over, the
# shell running the bare interpreter ("python3 && sleep 0") when it pipes it in.
_WATCHER = r"""
import glob, json, os, signal, sys, time
job = json.loads(sys.argv[1])
def processes():
    found = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as handle:
                    line = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
                with open("/proc/%s/stat" % pid) as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            found[int(pid)] = (parent, line)
    return found
def reached():
    if job["path"] and not glob.glob(job["path"]):
        return False
    return not job["pattern"] or any(job["pattern"] in line for _parent, line in processes().values())
deadline = time.time() + job["timeout"]
while time.time() < deadline:
    if reached():
        found = processes()
        victims = set(pid for pid, (_parent, line) in found.items() if any(mark in line for mark in job["victims"]))
        grown = True
        while grown:
            children = set(pid for pid, (parent, _line) in found.items() if parent in victims) - victims
            victims |= children
            grown = bool(children)
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        print("killed %d" % len(victims))
        sys.exit(0)
    time.sleep(0.01)
sys.exit(1)
"""

# Runs inside the host: exits 0 when nobody holds the flock on the file, 1 when a process still does.
_LOCK_FREE = r"""
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    sys.exit(1)
"""


def ansiballz_file(module):
    """The name of the file module runs from on the host without pipelining (module: its short name)."""
    return "AnsiballZ_%s.py" % ("engine" if module in NAMES else module)


def kill_module_when(host, module, path="", pattern="", timeout=240, runtime="/opt/appenv/python"):
    """SIGKILL module (and every process started from the runtime, or from its staging copy) once path (a glob)
    exists and a process matching pattern runs on the host. True when it did, False when the point was never
    reached."""
    job = {"path": path, "pattern": pattern, "timeout": timeout,
           "victims": [ansiballz_file(module), PIPELINED_MODULE, runtime]}
    proc = host.exec(["python3", "-c", _WATCHER, json.dumps(job)], check=False)
    return proc.returncode == 0


class Background:
    """ansible-playbook running one module task against one host in the background."""

    def __init__(self, host, module, args, environment=None):
        task = {"name": "in the background", module: args}
        play = {"hosts": "all", "gather_facts": False, "tasks": [task]}
        if environment:
            play["environment"] = environment
        self._tmp = Path(tempfile.mkdtemp(prefix="appenv-fault-"))
        # Removed by wait(), or when the object goes away (a test that failed before waiting).
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self._tmp), True)
        (self._tmp / "inventory.ini").write_text(harness.inventory_for([host]))
        (self._tmp / "play.yml").write_text(yaml.safe_dump([play], sort_keys=False))
        self.host = host
        self.proc = subprocess.Popen(
            [str(harness.VENV_BIN / "ansible-playbook"), "-i", str(self._tmp / "inventory.ini"),
             str(self._tmp / "play.yml")],
            env=harness.ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait(self, timeout=600):
        """(exit status, the task's result or None when the play printed no report)."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        finally:
            self._cleanup()
        try:
            report = json.loads(out[out.index("{"):])
        except ValueError:
            return self.proc.returncode, None
        results = harness.task_results(report, self.host.name)
        return self.proc.returncode, (results[-1] if results else {"_stderr": err[-3000:]})


def leftovers(host, parent):
    """Names in parent that an interrupted or failed run could leave behind."""
    names = host.sh("ls -a %s 2>/dev/null || true" % parent).stdout.split()
    return [name for name in names if any(mark in name for mark in (".appenv-new", ".appenv-old", ".appenv-work",
                                                                    ".tmp-"))]


def lock_free(host, lock_path):
    """True when no process holds the layer lock (a killed holder's lock is released by the kernel)."""
    return host.exec(["python3", "-c", _LOCK_FREE, lock_path], check=False).returncode == 0


def module_processes(host):
    """Command lines of module processes still running on the host (none should outlive their run)."""
    out = host.sh("for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done").stdout
    return [line for line in out.splitlines() if "AnsiballZ_" in line or PIPELINED_MODULE in line]


# A host environment that would hijack any Python or installer started with it: a sitecustomize that marks
# the hijack when it runs inside an appenv runtime, an index that does not answer, pip refusing to work
# outside a venv, a foreign venv. PYTHONHOME=/usr is the host python3's own prefix, so Ansible (which runs
# the module with that python3) still starts, but a runtime that saw it would load the host's stdlib.
HIJACK_MARK = "/tmp/hijacked"
HOSTILE_ENV = {"PYTHONHOME": "/usr", "PYTHONPATH": "/evil", "PYTHONSTARTUP": "/evil/sitecustomize.py",
               "PYTHONUSERBASE": "/evil", "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_REQUIRE_VIRTUALENV": "1",
               "PIP_CONFIG_FILE": "/evil/pip.conf", "UV_INDEX_URL": "http://127.0.0.1:9/simple",
               "VIRTUAL_ENV": "/evil-venv"}


def plant_hijack(host):
    """Put the files HOSTILE_ENV points at on the host."""
    host.sh("mkdir -p /evil && printf '%s\n' 'import sys' "
            "'if sys.prefix.startswith(\"/opt/appenv\"): open(\"" + HIJACK_MARK + "\", \"w\").close()' "
            "> /evil/sitecustomize.py && printf '[global]\nindex-url = http://127.0.0.1:9/simple\n' > /evil/pip.conf")


def hijacked(host):
    return host.exists(HIJACK_MARK)  # raises when docker exec fails, never reads an error as "not hijacked"


# Leaks planted on purpose, to measure how many no-op runs the series need to catch one: with
# APPENV_TEST_INJECT_LEAK=<kind>[,<kind>…] a no-op series plants a .pth in the host python3's site directory, so
# every module run (a python3 start) leaves that kind of leak behind, and the series must fail; with
# APPENV_TEST_NOOP_RUNS=<n> it makes n runs instead of its own count. Neither is set in CI.
LEAKS = {
    "file": "open('/tmp/appenv-leak-%d' % os.getpid(), 'w').close()",
    "dir": "os.makedirs('/var/lib/appenv/leak-%d' % os.getpid())",
    "lock": "open('/opt/appenv/.leak-%d.appenv-lock' % os.getpid(), 'w').close()",
    "process": "__import__('subprocess').Popen(['sleep', '3600'], stdin=-3, stdout=-3, stderr=-3, "
               "start_new_session=True)",
    "write": "os.utime('/opt/appenv')",
}
LEAK_PTH = "/usr/lib/python3/dist-packages/zz-appenv-test-leak.pth"


# A census's count of the host's processes, made by the shell itself (a glob, no child process): `ls /proc | grep`
# counted its own pipeline, whose grep may or may not have started when ls read /proc (3 or 4 under load).
PROCESS_COUNT = "set -- /proc/[0-9]*; echo $#"


def noop_runs(default):
    """How many runs a no-op series makes: default, or APPENV_TEST_NOOP_RUNS (at least 1)."""
    return max(1, int(os.environ.get("APPENV_TEST_NOOP_RUNS") or default))


def plant_leaks(host):
    """Plant the leaks APPENV_TEST_INJECT_LEAK names (none when it is unset); the kinds planted."""
    kinds = [kind for kind in os.environ.get("APPENV_TEST_INJECT_LEAK", "").split(",") if kind]
    lines = ["import os; %s\n" % LEAKS[kind] for kind in kinds]
    if lines:
        host.exec(["sh", "-c", 'printf "%s" "$1" > ' + LEAK_PTH, "sh", "".join(lines)])
    return kinds
