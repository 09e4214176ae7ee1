"""Docker engine, Debian base images built with debootstrap, and a small container helper.

No image can be pulled on the test machines: base images are made from Debian packages
(`debootstrap --variant=minbase`) and `docker import`-ed. The root file system tarball is
cached under `cache_dir()/rootfs`, keyed by release, arch and the package list; the image
carries that key as a label, so a changed recipe re-imports. Variants with more packages (sshd, gcc)
are derived from their base image by `apt-get install` in a container from the same mirror, and
committed: the same package set a second debootstrap gave, without running every package's set-up again
(under qemu for arm64: ~600 s for a debootstrap).
"""
import fcntl
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import uuid

from .paths import cache_dir, debian_mirror

IMAGE_REPO = "appenv-test/debian"
CONTAINER_PREFIX = "appenv-test-"
# What Ansible and the tests need on an otherwise minimal host; tests install the rest
# through Ansible. Changing this list changes the cache key (new rootfs, new image).
BASE_PACKAGES = ("python3", "ca-certificates")
ROOTFS_FORMAT = 1  # bump when the way the rootfs is made changes
DERIVED_FORMAT = 1  # bump when the way a variant is derived from its base image changes
DEBIAN_ARCH = {"amd64": "amd64", "x86_64": "amd64", "arm64": "arm64", "aarch64": "arm64"}


class TestbedError(RuntimeError):
    pass


def _run(argv, **kw):
    kw.setdefault("check", True)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    try:
        # check comes from kw (default True)
        return subprocess.run(argv, **kw)  # pylint: disable=subprocess-run-check
    except subprocess.CalledProcessError as exc:
        raise TestbedError(
            "command failed (exit %d): %s\n--- stdout ---\n%s\n--- stderr ---\n%s"
            % (exc.returncode, " ".join(map(str, argv)), (exc.stdout or "")[-4000:], (exc.stderr or "")[-4000:])
        ) from None


def _tail(path, lines=30):
    try:
        return "\n".join(pathlib.Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return "(no log: %s)" % exc


# --------------------------------------------------------------------------- engine
def docker_ok() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def ensure_dockerd(timeout: float = 60.0) -> None:
    """Make `docker info` work: start `dockerd` in the background (no systemd) if it does not."""
    if docker_ok():
        return
    if shutil.which("dockerd") is None:
        raise TestbedError("dockerd is not installed: run tests/testbed/system-packages.sh")
    log = cache_dir() / "dockerd.log"
    with open(log, "ab") as fh:
        fh.write(b"\n=== dockerd started by the appenv test bed at %d ===\n" % time.time())
        fh.flush()
        proc = subprocess.Popen(
            ["dockerd"], stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if docker_ok():
            return
        if proc.poll() is not None:
            # Another dockerd may have won a race for the socket; accept it if it answers.
            if docker_ok():
                return
            raise TestbedError("dockerd exited with code %s; log %s:\n%s" % (proc.returncode, log, _tail(log)))
        time.sleep(0.5)
    raise TestbedError("dockerd did not answer `docker info` within %ds; log %s:\n%s" % (timeout, log, _tail(log)))


def ensure_binfmt_arm64() -> None:
    """Register qemu's aarch64 binfmt handler (needed to run arm64 binaries, in chroots and containers)."""
    entry = pathlib.Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    if entry.exists() and entry.read_text().startswith("enabled"):
        return
    if not pathlib.Path("/proc/sys/fs/binfmt_misc/register").exists():
        _run(["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"])
    if not entry.exists():
        if shutil.which("update-binfmts") is None:
            raise TestbedError("update-binfmts missing: run tests/testbed/system-packages.sh")
        _run(["update-binfmts", "--enable", "qemu-aarch64"])
    if not entry.exists() or not entry.read_text().startswith("enabled"):
        raise TestbedError("could not enable the qemu-aarch64 binfmt handler (%s)" % entry)


# --------------------------------------------------------------------------- images
def image_tag(release: str = "bookworm", arch: str = "amd64", variant: str = "") -> str:
    return "%s:%s-%s%s" % (IMAGE_REPO, release, DEBIAN_ARCH[arch], "-" + variant if variant else "")


def _rootfs_key(release, arch, include):
    data = json.dumps({"release": release, "arch": arch, "include": sorted(include), "format": ROOTFS_FORMAT,
                       "variant": "minbase"}, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def ensure_rootfs(release: str = "bookworm", arch: str = "amd64", include=BASE_PACKAGES) -> pathlib.Path:
    """Cached `debootstrap --variant=minbase` root file system as a tarball; built when missing."""
    arch = DEBIAN_ARCH[arch]
    key = _rootfs_key(release, arch, include)
    final = cache_dir() / "rootfs" / ("debian-%s-%s-%s.tar" % (release, arch, key))
    if final.exists():
        return final
    if arch == "arm64":
        ensure_binfmt_arm64()
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=".build-%s-%s-" % (release, arch), dir=final.parent))
    try:
        root = tmp / "root"
        argv = ["debootstrap", "--variant=minbase", "--include=" + ",".join(include)]
        if arch != "amd64":
            argv.append("--arch=" + arch)
        argv += [release, str(root), debian_mirror()]
        log = tmp / "debootstrap.log"
        with open(log, "wb") as fh:
            rc = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
        if rc != 0:
            raise TestbedError("debootstrap failed (exit %d): %s\n%s" % (rc, " ".join(argv), _tail(log)))
        # Slim the tree a little: apt lists and package cache are not needed in a test host image.
        for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (root / sub).glob("*"):
                if p.is_file():
                    p.unlink()
        part = tmp / "rootfs.tar"
        _run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(part), "."])
        os.replace(part, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _image_label(tag):
    res = subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", tag],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        return None
    labels = json.loads(res.stdout or "null") or {}
    return labels.get("appenv.testbed.key", "")


SSH_PACKAGES = BASE_PACKAGES + ("openssh-server",)
# A host whose distro Python has venv and pip, as Debian users have it (tests/integration/.../test_foreign_interpreter.py).
VENV_PACKAGES = BASE_PACKAGES + ("python3-venv", "python3-pip")


def _derived_key(release, arch, added):
    data = json.dumps({"base": _rootfs_key(release, arch, BASE_PACKAGES), "add": sorted(added),
                       "format": DERIVED_FORMAT}, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


# Run in a container of the base image: the package lists from the mirror debootstrap wrote into sources.list, the
# packages without recommends (as debootstrap --include installs them), then apt's lists and cache removed as in
# ensure_rootfs.
_DERIVE_SCRIPT = """set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq -o Acquire::Languages=none
apt-get install -y -qq --no-install-recommends "$@"
apt-get clean
rm -rf /var/lib/apt/lists/*
mkdir -p /var/lib/apt/lists/partial
"""


def _derive_image(base, tag, key, added):
    """Commit `base` + `apt-get install added` as `tag`, labelled with key."""
    name = "appenv-testbed-derive-%s" % key
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)  # left by a killed build
    try:
        res = subprocess.run(["docker", "run", "--name", name, "--network", "host", base,
                              "sh", "-c", _DERIVE_SCRIPT, "derive"] + sorted(added),
                             capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise TestbedError("deriving %s from %s failed (exit %d): apt-get install %s\n%s"
                               % (tag, base, res.returncode, " ".join(sorted(added)), (res.stdout + res.stderr)[-3000:]))
        _run(["docker", "commit", "--change", "LABEL appenv.testbed.key=" + key,
              "--change", 'CMD ["sleep", "infinity"]', name, tag])
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def ensure_image(release: str = "bookworm", arch: str = "amd64", include=BASE_PACKAGES, variant: str = "") -> str:
    """Return the tag of the Debian image with `include` installed, making it when missing.

    The base package set is debootstrapped and imported; a larger one (a variant) is derived from the base image.
    arm64 images are imported and run without `--platform` (docker 20.10 would try to pull).
    """
    arch = DEBIAN_ARCH[arch]
    tag = image_tag(release, arch, variant)
    added = set(include) - set(BASE_PACKAGES)
    if not set(BASE_PACKAGES) <= set(include):
        raise ValueError("an image's packages include the base packages %s: %s" % (BASE_PACKAGES, include))
    key = _derived_key(release, arch, added) if added else _rootfs_key(release, arch, include)
    if _image_label(tag) == key:
        return tag
    ensure_dockerd()
    if arch == "arm64":
        ensure_binfmt_arm64()
    # One builder per image (test workers run side by side; the one that waited finds the image made); other images
    # are built at the same time (prepare's steps: their debootstraps wait on the mirror as much as on a core).
    with open(cache_dir() / ("image-%s.lock" % key), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _image_label(tag) != key:
            if added:
                _derive_image(ensure_image(release, arch), tag, key, added)
            else:
                tarball = ensure_rootfs(release, arch, include)
                with open(tarball, "rb") as fh:
                    _run(["docker", "import", "--change", "LABEL appenv.testbed.key=" + key,
                          "--change", 'CMD ["sleep", "infinity"]', "-", tag], stdin=fh)
    return tag


# --------------------------------------------------------------------------- containers
class Container:
    """A running test container (`sleep infinity`), removed by `.remove()` or on leaving a `with` block."""

    def __init__(self, name: str, image: str):
        self.name = name
        self.image = image

    @classmethod
    def start(cls, image: str, name=None, network: str = "host", volumes=(), tmpfs=(), env=None, extra_args=()):
        """`docker run -d` the image with `sleep infinity`.

        network: "host" (may reach 127.0.0.1 services of the test) or "none" (reaches nothing).
        volumes: "src:dst[:ro]" strings or (src, dst) / (src, dst, mode) tuples.
        tmpfs: container paths mounted as tmpfs.
        """
        if network not in ("host", "none"):
            raise ValueError("network must be 'host' or 'none' (never the bridge), got %r" % network)
        if name is None:
            name = "%s%d-%s" % (CONTAINER_PREFIX, os.getpid(), uuid.uuid4().hex[:12])
        elif not name.startswith(CONTAINER_PREFIX):
            name = CONTAINER_PREFIX + name
        argv = ["docker", "run", "-d", "--name", name, "--network", network]
        for vol in volumes:
            if not isinstance(vol, str):
                vol = ":".join(str(v) for v in vol)
            argv += ["-v", vol]
        for path in tmpfs:
            argv += ["--tmpfs", str(path)]
        for k, v in (env or {}).items():
            argv += ["-e", "%s=%s" % (k, v)]
        argv += list(extra_args)
        argv += [image, "sleep", "infinity"]
        _run(argv)
        return cls(name, image)

    def exec(self, argv, user=None, check: bool = True, env=None, workdir=None, input=None, timeout=None):
        """`docker exec` argv (a list; no shell) and return the CompletedProcess (text output)."""
        cmd = ["docker", "exec", "-i" if input is not None else None]
        cmd = [c for c in cmd if c]
        if user is not None:
            cmd += ["-u", str(user)]
        if workdir is not None:
            cmd += ["-w", str(workdir)]
        for k, v in (env or {}).items():
            cmd += ["-e", "%s=%s" % (k, v)]
        cmd += [self.name] + [str(a) for a in argv]
        res = subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise TestbedError("in container %s, command failed (exit %d): %s\n--- stdout ---\n%s\n--- stderr ---\n%s"
                               % (self.name, res.returncode, " ".join(map(str, argv)), res.stdout[-4000:],
                                  res.stderr[-4000:]))
        return res

    def sh(self, script, **kw):
        """Run a shell snippet in the container (`sh -c`)."""
        return self.exec(["sh", "-c", script], **kw)

    def copy_in(self, src, dst) -> None:
        """`docker cp src <container>:dst`."""
        _run(["docker", "cp", str(src), "%s:%s" % (self.name, dst)])

    def copy_out(self, src, dst) -> None:
        _run(["docker", "cp", "%s:%s" % (self.name, src), str(dst)])

    def remove(self) -> None:
        if os.environ.get("APPENV_CONTAINER_CPU_LOG"):
            log_container_cpu(self.name, self.image, os.environ["APPENV_CONTAINER_CPU_LOG"])
        subprocess.run(["docker", "rm", "-f", "-v", self.name], capture_output=True, check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def __repr__(self):
        return "Container(%r, image=%r)" % (self.name, self.image)


def container_cpu_seconds(container_id: str):
    """CPU seconds the container's processes used so far (emulated aarch64 included: qemu runs in it), read from
    its cgroup (v1 cpuacct or v2 cpu.stat); None when the cgroup is not found."""
    for path in ("/sys/fs/cgroup/cpuacct/docker/%s/cpuacct.usage" % container_id,
                 "/sys/fs/cgroup/cpu,cpuacct/docker/%s/cpuacct.usage" % container_id):
        if os.path.exists(path):
            return int(pathlib.Path(path).read_text()) / 1e9
    for path in ("/sys/fs/cgroup/docker/%s/cpu.stat" % container_id,
                 "/sys/fs/cgroup/system.slice/docker-%s.scope/cpu.stat" % container_id):
        if os.path.exists(path):
            for line in pathlib.Path(path).read_text().splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
    return None


def log_container_cpu(name, image, log):
    """Append a container's CPU time so far to log (JSON lines). With $APPENV_CONTAINER_CPU_LOG set, every test
    container does so when removed: what a test's hosts cost, which the test process's own CPU time does not show."""
    res = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", name], capture_output=True, text=True, check=False)
    seconds = container_cpu_seconds(res.stdout.strip()) if res.returncode == 0 else None
    with open(log, "a") as fh:
        fh.write(json.dumps({"name": name, "image": image, "cpu_seconds": seconds,
                             "test": os.environ.get("PYTEST_CURRENT_TEST", "")}) + "\n")


def _owner_alive(name: str) -> bool:
    """Containers are named appenv-test-<pid>-...: is the test session that made it still running?"""
    rest = name[len(CONTAINER_PREFIX):]
    pid = rest.split("-", 1)[0]
    if not pid.isdigit():
        return True  # not a test session's (appenv-test-example...): only `cleanup` removes it
    return os.path.exists("/proc/%s" % pid)


def cleanup_stale(all_sessions: bool = False) -> list:
    """Remove leftover `appenv-test-` containers of sessions that are gone (or of every session)."""
    res = _run(["docker", "ps", "-a", "--filter", "name=" + CONTAINER_PREFIX, "--format", "{{.Names}}"])
    names = [n for n in res.stdout.split() if n.startswith(CONTAINER_PREFIX)]
    if not all_sessions:
        names = [n for n in names if not _owner_alive(n) or n.startswith("%s%d-" % (CONTAINER_PREFIX, os.getpid()))]
    if names:
        subprocess.run(["docker", "rm", "-f", "-v"] + names, capture_output=True, check=False)
    return names
