"""Test hosts and what they are provisioned from, as plain functions and classes (no pytest).

Containers of the test-bed images reached by Ansible (docker connection, or SSH like a VM), the loopback runtime
mirror, a per-test package index, and the module calls every suite starts with (install a runtime, the tools,
the dependencies). tests/integration/conftest.py wraps them in fixtures; bench/ and examples/run.py import them
directly.
"""

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

from tests.integration import harness
from tests.testbed import docker_host, package_index as package_index_mod, runtimes

DEFAULT_DEST = "/opt/appenv/python"
# Layer caches are signed (layer_cache.hmac_key), as a pipeline's are: unsigned entries are refused by default.
CACHE_HMAC_KEY = "integration-test-hmac-key"


def signed_cache(**options):
    """A layer_cache option whose entries are signed and checked with the tests' HMAC key."""
    return dict(options, hmac_key=CACHE_HMAC_KEY)


class Host:
    """A target host reached by Ansible (a container via the docker connection)."""

    def __init__(self, container, arch):
        self.container = container
        self.name = container.name
        self.arch = arch

    def inventory_line(self):
        return "%s ansible_connection=community.docker.docker ansible_user=root" % self.name

    def exec(self, argv, user=None, check=True):
        return self.container.exec(argv, user=user, check=check)

    def sh(self, script, user=None, check=True):
        return self.exec(["sh", "-c", script], user=user, check=check)

    def exists(self, path):
        """Whether path exists on the host. The answer must be printed by the host's shell: a failed
        `docker exec` (no such container: exit 1, like `test -e` on a missing file) raises, so a check that a
        file is absent cannot pass on an error."""
        proc = self.exec(["sh", "-c", 'if test -e "$1"; then echo present; else echo absent; fi', "sh", path],
                         check=False)
        answer = proc.stdout.strip()
        if proc.returncode != 0 or answer not in ("present", "absent"):
            raise AssertionError("could not look for %s on %s (exit %d): %s"
                                 % (path, self.name, proc.returncode, proc.stdout + proc.stderr))
        return answer == "present"

    def python(self, dest=DEFAULT_DEST):
        return "%s/bin/python3" % dest


class SshHost(Host):
    """A container reached by Ansible over SSH (sshd on a free 127.0.0.1 port), the way VMs are provisioned.

    The test still looks inside through docker exec; Ansible and the modules' transfers go over SSH.
    """

    def __init__(self, container, arch, port, key, login="root", root_password=None):
        super().__init__(container, arch)
        self.port = port
        self.key = key
        self.login = login
        self.root_password = root_password

    def inventory_line(self):
        line = ("%s ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=%d ansible_user=%s "
                "ansible_ssh_private_key_file=%s ansible_ssh_common_args='-o StrictHostKeyChecking=no "
                "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR'" % (self.name, self.port, self.login, self.key))
        if self.login != "root":  # an admin user that becomes root (su: the image has no sudo), like a VM's
            line += (" ansible_become=true ansible_become_method=su ansible_become_user=root "
                     "ansible_become_password=%s" % self.root_password)
        return line


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_ssh_host(image, key_dir, login="root"):
    """A fresh bookworm x86_64 container with sshd on 127.0.0.1 and a key pair in key_dir.

    login: the user Ansible logs in as; another than root is made here and becomes root with su."""
    key = Path(key_dir) / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    host = start_host(image, "x86_64", network="host")
    port = _free_port()
    host.sh("mkdir -p /root/.ssh /run/sshd && chmod 700 /root/.ssh && printf '%%s\\n' '%s' > /root/.ssh/authorized_keys"
            " && /usr/sbin/sshd -p %d -o ListenAddress=127.0.0.1 -o PermitRootLogin=prohibit-password"
            % (key.with_suffix(".pub").read_text().strip(), port))
    root_password = None
    if login != "root":
        root_password = uuid.uuid4().hex
        host.sh("useradd -m -s /bin/bash {user} && mkdir -p ~{user}/.ssh && cp /root/.ssh/authorized_keys ~{user}/.ssh/ "
                "&& chown -R {user}: ~{user}/.ssh && chmod 700 ~{user}/.ssh && echo root:{pw} | chpasswd"
                .format(user=login, pw=root_password))
    ssh_host = SshHost(host.container, "x86_64", port, key, login, root_password)
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return ssh_host
        except OSError:
            if time.time() > deadline:
                host.container.remove()
                raise
            time.sleep(0.2)


def start_host(image, arch, **kwargs):
    container = docker_host.Container.start(image, name="appenv-test-%d-%s-%s" % (os.getpid(), arch, uuid.uuid4().hex[:8]),
                                            **kwargs)
    return Host(container, arch)


@contextlib.contextmanager
def running_host(image, arch):
    """A host on the host network for the with block (a fixture of any scope yields it); removed after."""
    host = start_host(image, arch, network="host")
    try:
        yield host
    finally:
        host.container.remove()


class RuntimeMirror:
    """A python-build-standalone-shaped mirror of test-built archives on 127.0.0.1 and file://."""

    def __init__(self, root, base_url):
        self.root = Path(root)
        self.base_url = base_url
        self.tag = runtimes.TAG
        self._lock = threading.Lock()

    @property
    def file_url(self):
        return self.root.as_uri()

    def ensure(self, version, arch):
        """Put the archive for (version, arch) on the mirror; return its facts."""
        with self._lock:
            archive = Path(runtimes.ensure_runtime_archive(version, arch))
            release_dir = self.root / self.tag
            release_dir.mkdir(parents=True, exist_ok=True)
            target = release_dir / archive.name
            if not target.exists():
                try:
                    os.link(archive, target)
                except OSError:
                    shutil.copy2(archive, target)
            sums = []
            for entry in sorted(release_dir.glob("*.tar.*")):
                sums.append("%s  %s" % (hashlib.sha256(entry.read_bytes()).hexdigest(), entry.name))
            (release_dir / "SHA256SUMS").write_text("\n".join(sums) + "\n")
            digest = hashlib.sha256(target.read_bytes()).hexdigest()
            return {
                "version": runtimes.exact_version(version),
                "filename": archive.name,
                "sha256": digest,
                "url": "%s/%s/%s" % (self.base_url, self.tag, archive.name),
                "file_url": "%s/%s/%s" % (self.file_url, self.tag, archive.name),
                "path": str(target),
            }


def runtime_args(host, runtime_mirror, version="3.11", dest=DEFAULT_DEST, **extra):
    """python_runtime's arguments for host from the loopback mirror (the archive put on the mirror first)."""
    runtime_mirror.ensure(runtimes.exact_version(version), host.arch)
    args = {"version": version, "mirror": runtime_mirror.base_url, "release": runtime_mirror.tag, "dest": dest}
    args.update(extra)
    return args


def install_runtime(host, runtime_mirror, version="3.11", dest=DEFAULT_DEST, check=False, diff=False, **extra):
    """Run python_runtime on host from the loopback mirror; return the task result."""
    args = runtime_args(host, runtime_mirror, version, dest, **extra)
    return harness.run_task(host, "appenv.python.python_runtime", args, check=check, diff=diff)


def install_runtime_and_tooling(host, runtime_mirror, index, version="3.11", tools=()):
    """python_runtime then pip_tooling (tools: names) in one play; both must succeed. Returns both results."""
    runtime, tooling = harness.run_tasks(host, [
        ("appenv.python.python_runtime", runtime_args(host, runtime_mirror, version)),
        ("appenv.python.pip_tooling", {"index_url": index.simple_url, "tools": [{"name": name} for name in tools]}),
    ])
    return harness.assert_ok(runtime), harness.assert_ok(tooling)


# -- the loopback package index ------------------------------------------------------------------
SYNTHETIC = [
    # (name, version, requires, extra build options)
    ("demo-alpha", "1.0", ["demo-beta>=1.0"], {"scripts": {"demo-alpha": "demo_alpha:main"}}),
    ("demo-beta", "1.0", [], {}),
    ("demo-gamma", "1.0", [], {}),
    ("demo-delta", "1.0", ["demo-gamma"], {}),
]


def make_package_index(root, base_url, arches):
    """A fresh PEP 503 index under root (served at base_url): the tool wheels for arches plus the synthetic demo
    packages; `publish()`/`remove()` change it while it is served. Its URL is `.url`, its simple URL `.simple_url`."""
    name = uuid.uuid4().hex[:10]
    index = package_index_mod.PackageIndex(Path(root) / name)
    for arch in arches:
        index.add(package_index_mod.ensure_tool_wheels(arch))
    for pkg, version, requires, options in SYNTHETIC:
        package_index_mod.build_wheel(index.files, pkg, version, requires, **options)
    index.write_pages()
    index.url = "%s/%s" % (base_url, name)
    return index


def install_tooling(host, index, check=False, diff=False, **extra):
    args = {"index_url": index.simple_url}
    args.update(extra)
    return harness.run_task(host, "appenv.python.pip_tooling", args, check=check, diff=diff)


def install_deps(host, index, project_dir="/srv/app", check=False, diff=False, **extra):
    args = {"project_dir": project_dir, "index_url": index.simple_url}
    args.update(extra)
    return harness.run_task(host, "appenv.python.app_dependencies", args, check=check, diff=diff)
