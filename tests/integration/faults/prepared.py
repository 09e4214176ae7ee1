"""Host states the fault scenarios start from, made once by real module runs and unpacked onto each test's host.

Most scenarios start on a host where something already works (a runtime, the tools, an app's dependency layer)
and then break it. Making that state with a play per test cost a playbook start and the work itself each time
(python_runtime compiles the runtime's whole stdlib: ~10 s); what the scenario starts from is only files.

A State is made once per test session (per xdist worker) on a host of its own, by the same module runs the test
made (asserted the same way), optionally on top of another State. Every path `docker diff` reports added or
changed on that host is packed with its owner, mode and mtime to the nanosecond (a pax archive: pyc_compile's and
the dependency layer's listings compare mtimes in ns; directories included, one entry each), and
deleted ones are listed. `put_on` unpacks them onto a fresh host of the same image: the same files, no process
left running. The files are written in the new container's own layer, as the module wrote them on the host that
made the state: a committed image would put them in an image layer, where overlayfs refuses to rename a
directory (EXDEV), and the scenarios' upgrades rename the layer aside.
"""

import copy
import subprocess

from tests.integration.hosts import start_host
from tests.testbed.docker_host import TestbedError

# Paths docker manages in every container (bind mounts, kernel file systems): not part of a state.
_NOT_STATE = ("/proc", "/sys", "/dev", "/run", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/.dockerenv")


def _managed(path):
    return any(path == top or path.startswith(top + "/") for top in _NOT_STATE)


def _docker(argv, **kwargs):
    kwargs.setdefault("stdout", subprocess.PIPE)
    proc = subprocess.run(["docker"] + argv, stderr=subprocess.PIPE, check=False, **kwargs)
    if proc.returncode != 0:
        raise TestbedError("docker %s failed (exit %d): %s" % (" ".join(argv[:3]), proc.returncode,
                                                               proc.stderr.decode("utf-8", "replace")[-3000:]))
    return proc


class State:
    """The files a build left on a host (a tarball on the controller) and what the build returned (payload)."""

    def __init__(self, name, archive, removed, payload):
        self.name, self.archive, self.removed, self.payload = name, archive, removed, payload

    def put_on(self, host):
        """Make host's files those of the state (host: a fresh container of the image the state was made on);
        returns (a copy of) the payload."""
        if self.removed:
            host.exec(["rm", "-rf", "--"] + self.removed)
        with open(self.archive, "rb") as handle:
            _docker(["exec", "-i", host.name, "tar", "-C", "/", "-xpf", "-"], stdin=handle)
        return copy.deepcopy(self.payload)


def make_state(name, image, arch, directory, build, base=None):
    """Run build(host) on a fresh host (with base put on it first) and pack what it left there into directory."""
    host = start_host(image, arch, network="host")
    try:
        if base is not None:
            base.put_on(host)
        payload = build(host)
        changes = [line.split(" ", 1) for line in _docker(["diff", host.name]).stdout.decode().splitlines()]
        kept = [path for kind, path in changes if kind in ("A", "C") and not _managed(path)]
        removed = [path for kind, path in changes if kind == "D" and not _managed(path)]
        archive = directory / ("%s.tar" % name)
        pack = ["exec", "-i", host.name, "tar", "-C", "/", "--format=posix", "--no-recursion", "-cpf", "-", "-T", "-"]
        with open(archive, "wb") as handle:
            _docker(pack, input="".join(path.lstrip("/") + "\n" for path in kept).encode(), stdout=handle)
        return State(name, archive, removed, payload)
    finally:
        host.container.remove()


class States:
    """The session's states by name, each made on first use (tests run one at a time on a worker)."""

    def __init__(self, image, arch, directory):
        self.image, self.arch, self.directory, self._made = image, arch, directory, {}

    def get(self, name, build, base=None):
        if name not in self._made:
            self._made[name] = make_state(name, self.image, self.arch, self.directory, build, base)
        return self._made[name]
