"""python-build-standalone archives as they really are: C extensions build on a host with gcc and no clang.

The runtime archives here are the test bed's upstream-faithful ones (tests/testbed/pbs_faithful.py): their
build settings name the prefix /install and the compiler clang, as upstream's do. The host is a bookworm
image with gcc and libc6-dev only. Unpacked as they come, pip cannot build an sdist with a C extension
(clang is missing) and sysconfig names directories that do not exist; installed by python_runtime, pip and
uv build it with the host's cc and python3-config names paths that exist.
"""

import io
import json
import os
import shlex
import tarfile
import uuid

import pytest

from tests.integration import harness
from tests.integration.hosts import DEFAULT_DEST, Host, install_deps, install_tooling
from tests.integration.harness import error_of
from tests.testbed import docker_host, mirror as mirror_mod, pbs_faithful, runtimes

pytestmark = pytest.mark.integration

APP = "/srv/app"
CEXT_SOURCE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}

static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b, in C"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&module); }
"""
# Where the C extension came from and that it runs: the path of the compiled module and 2 + 3 done in C.
IMPORT_CEXT = "import demo_cext, demo_cext._speed as s; print(s.__file__); print(demo_cext.add(2, 3))"
SYSCONFIG_DIRS = ("LIBDIR", "LIBPL", "INCLUDEPY", "BINDIR")


def build_cext_sdist(outdir, name="demo-cext", version="1.0"):
    """An sdist with one C extension module (setuptools builds it with sysconfig's CC and LDSHARED)."""
    base = "%s-%s" % (name.replace("-", "_"), version)
    files = {
        "pyproject.toml": ("[build-system]\nrequires = [\"setuptools>=61\"]\n"
                           "build-backend = \"setuptools.build_meta\"\n\n"
                           "[project]\nname = \"%s\"\nversion = \"%s\"\n" % (name, version)),
        "setup.py": "from setuptools import Extension, setup\n"
                    "setup(packages=['demo_cext'], ext_modules=[Extension('demo_cext._speed', ['src/speed.c'])])\n",
        "PKG-INFO": "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version),
        "demo_cext/__init__.py": "from demo_cext._speed import add\n",
        "src/speed.c": CEXT_SOURCE,
    }
    target = outdir / ("%s.tar.gz" % base)
    with tarfile.open(target, "w:gz") as tf:
        for path in sorted(files):
            data = files[path].encode()
            member = tarfile.TarInfo("%s/%s" % (base, path))
            member.size, member.mtime, member.mode = len(data), 1577836800, 0o644
            tf.addfile(member, io.BytesIO(data))
    return target


def gcc_host(arch):
    image = pbs_faithful.ensure_gcc_image(arch)
    container = docker_host.Container.start(image, name="appenv-test-%d-gcc-%s" % (os.getpid(), uuid.uuid4().hex[:8]))
    host = Host(container, runtimes.ARCH_ALIASES[arch])
    # What this test is about: a C compiler, but not the one the archive names.
    host.sh("command -v gcc && command -v cc && ! command -v clang && ! command -v clang++")
    return host


@pytest.fixture
def amd64_gcc_host(docker_ready):
    host = gcc_host("amd64")
    yield host
    host.container.remove()


def serve_faithful(runtime_mirror, arch):
    archive = pbs_faithful.ensure_faithful_archive(runtimes.PY311, arch)
    mirror_mod.make_mirror(runtime_mirror.root, [archive], pbs_faithful.TAG)
    return archive


def pbs_runtime_args(host, runtime_mirror, **extra):
    """python_runtime's arguments for the upstream-faithful archive of host's arch (put on the mirror first)."""
    serve_faithful(runtime_mirror, host.arch)
    args = {"version": "3.11", "mirror": runtime_mirror.base_url, "release": pbs_faithful.TAG, "dest": DEFAULT_DEST}
    args.update(extra)
    return args


def install_pbs_runtime(host, runtime_mirror, check=False, **extra):
    return harness.run_task(host, "appenv.python.python_runtime", pbs_runtime_args(host, runtime_mirror, **extra),
                            check=check)


def cext_index(package_index, tmp_path):
    package_index.add([build_cext_sdist(tmp_path)])
    return package_index


def write_requirements(host):
    host.sh("mkdir -p %s && echo demo-cext > %s/requirements.txt" % (APP, APP))


def sysconfig_vars(host, python):
    code = "import json, sysconfig; print(json.dumps(sysconfig.get_config_vars()))"
    return json.loads(host.exec([python, "-c", code]).stdout)


def python_config_paths(host, prefix=DEFAULT_DEST):
    """The -I and -L directories python3-config gives a uwsgi/mod_wsgi-style build, with whether each exists."""
    out = host.exec([prefix + "/bin/python3-config", "--includes", "--ldflags", "--embed"]).stdout.split()
    dirs = [word[2:] for word in out if word.startswith(("-I", "-L"))]
    assert dirs, out
    return {d: host.exec(["test", "-d", d], check=False).returncode == 0 for d in dirs}


def import_cext(host, result):
    env = " ".join("%s=%s" % (key, shlex.quote(value)) for key, value in result["environment"].items())
    return host.sh("env %s %s -c %s" % (env, result["interpreter"], shlex.quote(IMPORT_CEXT))).stdout.split()


def assert_builds_with_pip_and_uv(host, index):
    harness.assert_ok(install_tooling(host, index, tools=[{"name": "uv"}]))
    write_requirements(host)
    for installer, dest in (("pip", "/opt/appenv/deps"), ("uv", "/opt/appenv/deps-uv")):
        first = harness.assert_ok(install_deps(host, index, project_dir=APP, installer=installer, dest=dest))
        assert (first["layer_action"], first["installer"]) == ("created", installer)
        so_file, total = import_cext(host, first)
        assert so_file.startswith(dest + "/") and so_file.endswith(".so") and total == "5", (installer, so_file)
        again = harness.assert_ok(install_deps(host, index, project_dir=APP, installer=installer, dest=dest))
        assert (again["layer_action"], again["commands"]) == ("kept", [])


def test_c_extension_builds_with_gcc_after_the_rewrite_and_not_before(
        amd64_gcc_host, runtime_mirror, package_index, tmp_path):
    host = amd64_gcc_host
    index = cext_index(package_index, tmp_path)

    # Before: the archive unpacked as it comes (what a plain unarchive task gives).
    archive = serve_faithful(runtime_mirror, "x86_64")
    host.container.copy_in(archive, "/tmp/runtime.tar.gz")
    host.sh("mkdir -p /opt/raw && tar -xzf /tmp/runtime.tar.gz -C /opt/raw")
    raw = "/opt/raw/python/bin/python3.11"
    raw_vars = sysconfig_vars(host, raw)
    assert raw_vars["CC"].split()[0] == "clang" and raw_vars["LIBDIR"] == "/install/lib"
    assert not host.exists("/install")
    before = host.exec([raw, "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check",
                        "--index-url", index.simple_url, "demo-cext"], check=False)
    assert before.returncode != 0, before.stdout
    assert "error: [Errno 2] No such file or directory: 'clang'" in before.stdout + before.stderr, (
        before.stdout[-3000:] + before.stderr[-3000:])

    # After: python_runtime installs the same archive and rewrites its settings to this host.
    predicted = harness.assert_ok(install_pbs_runtime(host, runtime_mirror, check=True))
    first = harness.assert_ok(install_pbs_runtime(host, runtime_mirror))
    assert (predicted["layer_action"], first["layer_action"]) == ("created", "created")
    assert predicted["reasons"] == first["reasons"]
    settings = first["build_settings"]
    assert (settings["build_prefix"], settings["compiler_was"]) == (["/install"], "clang")
    assert (settings["compiler"], settings["cxx"], settings["prefix"]) == ("cc", "c++", DEFAULT_DEST)
    assert settings["compiler_path"] == "/usr/bin/cc"
    assert "lib/python3.11/_sysconfigdata__linux_x86_64-linux-gnu.py" in settings["files"]
    assert "bin/python3.11-config" in settings["files"] and "lib/pkgconfig/python-3.11.pc" in settings["files"]
    again = harness.assert_ok(install_pbs_runtime(host, runtime_mirror))
    assert (again["layer_action"], again["commands"], again["build_settings"]) == ("kept", [], settings)

    got = sysconfig_vars(host, DEFAULT_DEST + "/bin/python3.11")
    for key in ("CC", "LDSHARED", "BLDSHARED", "LINKCC"):
        assert got[key].split()[0] == "cc", (key, got[key])
    assert got["CXX"].split()[0] == "c++" and got["LDCXXSHARED"].split()[0] == "c++"
    for key in SYSCONFIG_DIRS:
        assert got[key].startswith(DEFAULT_DEST + "/"), (key, got[key])
        assert host.exec(["test", "-d", got[key]], check=False).returncode == 0, (key, got[key])
    assert all(python_config_paths(host).values()), python_config_paths(host)
    assert_builds_with_pip_and_uv(host, index)

    # Another compiler is another runtime: the fingerprint says why it is rebuilt.
    gcc = harness.assert_ok(install_pbs_runtime(host, runtime_mirror, compiler="gcc"))
    assert gcc["layer_action"] == "recreated"
    assert gcc["reasons"] == ["Compiler named in the runtime's build settings changed from cc to gcc"]
    assert sysconfig_vars(host, DEFAULT_DEST + "/bin/python3.11")["CC"] == "gcc"
    # A compiler that is not there is refused before anything changes.
    missing = install_pbs_runtime(host, runtime_mirror, compiler="clang")
    error = error_of(missing)
    assert error["code"] == "compiler_not_found" and "clang" in error["cause"]
    assert sysconfig_vars(host, DEFAULT_DEST + "/bin/python3.11")["CC"] == "gcc"


# On aarch64 (emulated): tests/integration/test_emulated_aarch64.py, on the one emulated host.
