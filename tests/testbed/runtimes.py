"""CPython runtime archives in the python-build-standalone layout, built from source.

python-build-standalone archives cannot be downloaded on the test machines, so the test bed
builds its own `cpython-<version>+<TAG>-<triple>-install_only_stripped.tar.gz`:

    python/bin/python3, python/bin/python3.X, python/bin/pip3 ...
    python/lib/python3.X/...            (stdlib, site-packages with pip from ensurepip)
    python/lib/libpython3.X.so*         (the interpreter finds it through RUNPATH $ORIGIN/../lib)

The source is the upstream CPython tarball Debian ships as the `.orig.tar.*` of its
python3.X source package (bookworm: 3.11.2, trixie: 3.13.5), fetched with `apt-get source`.
aarch64 archives are cross-compiled with the x86_64 build of the same version as
`--with-build-python`. Archives are cached under `cache_dir()/runtimes/<key>/`, the key being
the version, the arch and a hash of RECIPE; bump TAG when the recipe changes.
"""
import fcntl
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import tarfile
import tempfile

from .paths import cache_dir

TAG = "20261101"  # release tag in archive names; bump when RECIPE or the build steps change

PY311 = "3.11.2"  # bookworm's python3.11 upstream tarball
PY313 = "3.13.5"  # trixie's python3.13 upstream tarball (recorded from python3.13_3.13.5.orig.tar.xz)

# minor version -> (Debian source package, Debian release it is taken from, exact upstream version)
SOURCES = {
    "3.11": ("python3.11", "bookworm", PY311),
    "3.13": ("python3.13", "trixie", PY313),
}

TRIPLES = {"x86_64": "x86_64-unknown-linux-gnu", "aarch64": "aarch64-unknown-linux-gnu"}
ARCH_ALIASES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}

# The archives the tests need: (exact version, arch).
RUNTIMES = [(PY311, "x86_64"), (PY311, "aarch64"), (PY313, "x86_64")]

RECIPE = {
    "tag": TAG,
    "configure": [
        "--prefix=/python",
        "--enable-shared",
        "--with-ensurepip=no",  # pip is added afterwards with the built interpreter itself
        # Neither build nor install the test packages and C test modules (_testcapi...): the archive dropped the
        # test packages after `make install` had compiled them three times; python-build-standalone's stripped
        # archives carry no test suite either.
        "--disable-test-modules",
        # `\$$ORIGIN`: make turns `$$` into `$`, the shell running the link turns `\$` into `$`.
        r"LDFLAGS=-Wl,-rpath,\$$ORIGIN/../lib",
    ],
    "configure_cross_aarch64": [
        "--host=aarch64-linux-gnu",
        "--build=x86_64-linux-gnu",
        "ac_cv_file__dev_ptmx=yes",
        "ac_cv_file__dev_ptc=no",
        "ac_cv_buggy_getaddrinfo=no",
    ],
    "cross_pkg_config_path": "/usr/lib/aarch64-linux-gnu/pkgconfig",
    "ensurepip": ["-m", "ensurepip", "--default-pip"],
    "remove": [
        "test",
        "idlelib/idle_test",
        "tkinter/test",
        "ctypes/test",
        "unittest/test",
        "lib2to3/tests",
        "distutils/tests",
        "sqlite3/test",
    ],
    "strip": True,
    "relocatable_script_shebangs": True,
    "format": 1,
}


# Checked after every build (not part of RECIPE: it verifies, it does not change the output).
REQUIRED_MODULES = ("ssl", "_hashlib", "sqlite3", "ctypes", "zlib", "bz2", "lzma", "_decimal", "ensurepip", "venv",
                    "pip")


class RuntimeBuildError(RuntimeError):
    pass


def recipe_hash() -> str:
    return hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()[:12]


def minor_of(version: str) -> str:
    return ".".join(version.split(".")[:2])


def exact_version(minor: str) -> str:
    """Exact CPython version the test bed builds for a minor version ("3.13" -> "3.13.5")."""
    return SOURCES[minor_of(minor)][2]


def py313_version() -> str:
    """The exact 3.13 version (trixie's upstream tarball)."""
    return exact_version("3.13")


def triple(arch: str) -> str:
    return TRIPLES[ARCH_ALIASES[arch]]


def archive_name(version: str, arch: str) -> str:
    return "cpython-%s+%s-%s-install_only_stripped.tar.gz" % (version, TAG, triple(arch))


def _cache_key(version, arch):
    data = json.dumps({"version": version, "arch": ARCH_ALIASES[arch], "recipe": recipe_hash()}, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def archive_path(version: str, arch: str) -> pathlib.Path:
    """Where the cached archive lives (it may not exist yet)."""
    return cache_dir() / "runtimes" / _cache_key(version, arch) / archive_name(version, arch)


class _Lock:
    def __init__(self, path):
        self.path = pathlib.Path(path)

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "w")
        fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def _log_run(argv, log, cwd=None, env=None):
    with open(log, "ab") as fh:
        fh.write(("\n$ %s\n" % " ".join(map(str, argv))).encode())
        fh.flush()
        rc = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, check=False).returncode
    if rc != 0:
        tail = "\n".join(pathlib.Path(log).read_text(errors="replace").splitlines()[-40:])
        raise RuntimeBuildError("command failed (exit %d): %s\nlog %s:\n%s" % (rc, " ".join(map(str, argv)), log, tail))


# --------------------------------------------------------------------------- source
def ensure_source(version: str) -> pathlib.Path:
    """The upstream CPython tarball for `version`, from Debian's source package (cached)."""
    pkg, release, expected = SOURCES[minor_of(version)]
    if version != expected:
        raise RuntimeBuildError("the test bed builds %s from %s/%s, not %s" % (expected, pkg, release, version))
    srcdir = cache_dir() / "sources"
    srcdir.mkdir(parents=True, exist_ok=True)
    found = sorted(srcdir.glob("%s_%s.orig.tar.*" % (pkg, version)))
    if found:
        return found[0]
    with _Lock(srcdir / (".%s.lock" % pkg)):
        found = sorted(srcdir.glob("%s_%s.orig.tar.*" % (pkg, version)))
        if found:
            return found[0]
        tmp = pathlib.Path(tempfile.mkdtemp(prefix=".apt-source-", dir=srcdir))
        try:
            # Only the .orig tarball matters; the Debian part of the source may be missing (404).
            res = subprocess.run(["apt-get", "source", "--download-only", "%s/%s" % (pkg, release)], cwd=tmp,
                                 capture_output=True, text=True, check=False)
            origs = sorted(tmp.glob("%s_*.orig.tar.*" % pkg))
            origs = [p for p in origs if not p.name.endswith(".asc")]
            if not origs:
                raise RuntimeBuildError(
                    "apt-get source %s/%s gave no .orig tarball (exit %d). Are deb-src entries present and the "
                    "index fresh? Run tests/testbed/system-packages.sh and `apt-get update`.\n%s"
                    % (pkg, release, res.returncode, (res.stdout + res.stderr)[-3000:]))
            got = re.match(r"%s_(.+)\.orig\.tar\." % re.escape(pkg), origs[0].name).group(1)
            if got != version:
                raise RuntimeBuildError(
                    "Debian's %s/%s now ships CPython %s, the test bed expects %s: update SOURCES in %s"
                    % (pkg, release, got, version, __file__))
            final = srcdir / origs[0].name
            os.replace(origs[0], final)
            return final
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- build
def _is_elf(path):
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


_SHEBANG = """#!/bin/sh
'''exec' "$(dirname -- "$(realpath -- "$0")")"/'{exe}' "$0" "$@"
' '''
"""


def _finish_tree(tree, minor, arch, log):
    """Post-install steps shared by all builds: ensurepip, trim tests, strip, relocatable scripts."""
    libdir = tree / "lib" / ("python" + minor)
    exe = tree / "bin" / ("python" + minor)
    # pip into the runtime's own site-packages, as python-build-standalone ships it. aarch64
    # binaries run here through qemu's binfmt handler.
    if ARCH_ALIASES[arch] == "aarch64":
        from .docker_host import ensure_binfmt_arm64
        ensure_binfmt_arm64()
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": str(tree.parent)}
    _log_run([exe] + RECIPE["ensurepip"], log, env=env)
    _log_run([exe, "-c", "import %s" % ", ".join(REQUIRED_MODULES)], log, env=env)
    for rel in RECIPE["remove"]:
        shutil.rmtree(libdir / rel, ignore_errors=True)
    # Scripts (pip, pip3, pip3.X, idle3, pydoc3, 2to3...) carry the absolute build path in
    # their shebang: make them find the interpreter beside them, as python-build-standalone does.
    for script in (tree / "bin").iterdir():
        if script.is_symlink() or not script.is_file() or _is_elf(script):
            continue
        text = script.read_bytes()
        if text.startswith(b"#!") and b"python" in text.split(b"\n", 1)[0]:
            body = text.split(b"\n", 1)[1] if b"\n" in text else b""
            script.write_bytes(_SHEBANG.format(exe="python" + minor).encode() + body)
    if RECIPE["strip"]:
        strip = "aarch64-linux-gnu-strip" if ARCH_ALIASES[arch] == "aarch64" else "strip"
        elves = [p for p in tree.rglob("*") if p.is_file() and not p.is_symlink() and _is_elf(p)]
        for p in elves:
            os.chmod(p, os.stat(p).st_mode | 0o200)
        _log_run([strip, "--strip-unneeded"] + [str(p) for p in elves], log)
    # The interpreter must find libpython relative to itself.
    dyn = subprocess.run(["readelf", "-d", str(exe)], capture_output=True, text=True, check=False).stdout
    if "$ORIGIN/../lib" not in dyn:
        raise RuntimeBuildError("%s lacks RUNPATH $ORIGIN/../lib:\n%s" % (exe, dyn))


def _write_tarball(tree_parent, dest):
    """Write `python/` under tree_parent to dest (.tar.gz) atomically, entries sorted, owner root."""
    part = dest.with_name("." + dest.name + ".part")

    def _filter(ti):
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        return ti

    # gzip level 6, not 9: the same entries, 1% larger (41.8 MB against 41.4 for 3.11 x86_64) for 3.8 s of CPU
    # instead of 25 (each build and each derived archive writes one). Not part of the cache key: what is in an
    # archive does not change with it.
    with tarfile.open(part, "w:gz", compresslevel=6, format=tarfile.PAX_FORMAT) as tf:
        base = tree_parent / "python"
        tf.add(str(base), arcname="python", recursive=False, filter=_filter)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            rel = pathlib.Path(dirpath).relative_to(tree_parent)
            for name in sorted(dirnames) + sorted(filenames):
                tf.add(os.path.join(dirpath, name), arcname=str(rel / name), recursive=False, filter=_filter)
    os.replace(part, dest)


def build_runtime_archive(version: str, arch: str, dest: pathlib.Path, configure_extra=(), abi="") -> None:
    arch = ARCH_ALIASES[arch]
    minor = minor_of(version)
    name = minor + abi  # abi "t": the free-threaded build's python3.13t, lib/python3.13t (freethreaded.py)
    source = ensure_source(version)
    build_python_archive = None
    if arch == "aarch64":
        build_python_archive = ensure_runtime_archive(version, "x86_64")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix=".build-", dir=dest.parent))
    log = dest.parent / "build.log"
    log.write_text("building %s for %s (recipe %s)\n" % (version, arch, recipe_hash()))
    try:
        with tarfile.open(source) as tf:
            tf.extractall(work / "src")
        (srcdir,) = [p for p in (work / "src").iterdir() if p.is_dir()]
        env = dict(os.environ, LC_ALL="C")
        configure = ["./configure"] + RECIPE["configure"] + list(configure_extra)
        if arch == "aarch64":
            with tarfile.open(build_python_archive) as tf:
                tf.extractall(work / "build-python")
            configure += RECIPE["configure_cross_aarch64"]
            configure.append("--with-build-python=%s" % (work / "build-python" / "python" / "bin" / ("python" + minor)))
            env["PKG_CONFIG_PATH"] = RECIPE["cross_pkg_config_path"]
            env["PKG_CONFIG_LIBDIR"] = RECIPE["cross_pkg_config_path"] + ":/usr/share/pkgconfig"
        _log_run(configure, log, cwd=srcdir, env=env)
        _log_run(["make", "-j%d" % (os.cpu_count() or 1)], log, cwd=srcdir, env=env)
        stage = work / "stage"
        _log_run(["make", "install", "DESTDIR=%s" % stage], log, cwd=srcdir, env=env)
        tree = stage / "python"
        if not (tree / "bin" / ("python" + name)).exists():
            raise RuntimeBuildError("make install produced no %s" % (tree / "bin" / ("python" + name)))
        _finish_tree(tree, name, arch, log)
        _write_tarball(stage, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ensure_runtime_archive(version: str, arch: str) -> pathlib.Path:
    """Path of the cached runtime archive for (version, arch), building it first when missing.

    version: an exact version from RUNTIMES ("3.11.2", py313_version()); arch: x86_64/aarch64
    (amd64/arm64 accepted).
    """
    arch = ARCH_ALIASES[arch]
    dest = archive_path(version, arch)
    if dest.exists():
        return dest
    with _Lock(dest.parent / ".lock"):
        if not dest.exists():
            build_runtime_archive(version, arch, dest)
    return dest


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
