"""Rewriting a python-build-standalone runtime's build settings to the host, on the files such an archive ships.

The contents below are those of the test bed's upstream-faithful archive (tests/testbed/pbs_faithful.py,
3.11.2 x86_64): CPython's own generators wrote them for `--prefix=/install` and clang, as upstream's do.
"""

import os
import pprint
import stat

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _sysconfig
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

REAL = "/opt/appenv/python"
HOST = {"cc": "cc", "cxx": "c++", "ar": "ar", "cc_path": "/usr/bin/cc"}

BUILD_TIME_VARS = {
    "ABIFLAGS": "",
    "AR": "/tools/llvm/bin/llvm-ar",
    "BINDIR": "/install/bin",
    "BLDSHARED": "clang -shared -Wl,-rpath,\\$ORIGIN/../lib",
    "CC": "clang",
    "CCSHARED": "-fPIC",
    "CONFIG_ARGS": "'--prefix=/install' '--enable-shared' '--with-ensurepip=no' "
                   "'LDFLAGS=-Wl,-rpath,\\$$ORIGIN/../lib'",
    "CPP": "clang -E",
    "CXX": "clang++",
    "EXT_SUFFIX": ".cpython-311-x86_64-linux-gnu.so",
    "INCLUDEPY": "/install/include/python3.11",
    "LDCXXSHARED": "clang++ -shared",
    "LDSHARED": "clang -shared -Wl,-rpath,\\$ORIGIN/../lib",
    "LIBDIR": "/install/lib",
    "LIBPL": "/install/lib/python3.11/config-3.11-x86_64-linux-gnu",
    "LINKCC": "clang",
    "MAINCC": "clang",
    "Py_ENABLE_SHARED": 1,
    "SIZEOF_LONG": 8,
    "exec_prefix": "/install",
    "prefix": "/install",
}
SYSCONFIGDATA = ("# system configuration generated and used by the sysconfig module\n"
                 "build_time_vars = " + pprint.pformat(BUILD_TIME_VARS) + "\n")

MAKEFILE = """\
# Generated automatically from Makefile.pre by makesetup.
VERSION=	3.11
srcdir=		.
CC=		clang
CXX=		clang++
MAINCC=		$(CC)
LINKCC=		$(PURIFY) $(MAINCC)
AR=		/tools/llvm/bin/llvm-ar
CONFIG_ARGS=	 '--prefix=/install' '--enable-shared' '--with-ensurepip=no'
prefix=		/install
exec_prefix=	${prefix}
LIBDIR=		${exec_prefix}/lib
LDSHARED=	$(CC) -shared $(PY_LDFLAGS)
BLDSHARED=	$(CC) -shared $(PY_CORE_LDFLAGS)
LDCXXSHARED=	$(CXX) -shared
"""

PYTHON_CONFIG = """\
#!/bin/sh
prefix_real=$(installed_prefix "$0")
prefix="/install"
exec_prefix="${prefix}"
includedir=$(echo "${prefix}/include" | sed "s#$prefix#$prefix_real#")
LIBPL=$(echo "${prefix}/lib/python3.11/config-3.11-x86_64-linux-gnu" | sed "s#$prefix#$prefix_real#")
"""

PC = """\
prefix=/install
exec_prefix=${prefix}
libdir=${exec_prefix}/lib
includedir=${prefix}/include

Name: Python
Libs: -L${libdir} -lpython3.11
Cflags: -I${includedir}/python3.11
"""


def make_runtime(root):
    """The files of an extracted archive that hold build settings, with the links upstream has."""
    stdlib = root / "lib" / "python3.11"
    config = stdlib / "config-3.11-x86_64-linux-gnu"
    for directory in (root / "bin", config, stdlib / "__pycache__", root / "lib" / "pkgconfig"):
        directory.mkdir(parents=True)
    (stdlib / "_sysconfigdata__linux_x86_64-linux-gnu.py").write_text(SYSCONFIGDATA)
    (stdlib / "__pycache__" / "_sysconfigdata__linux_x86_64-linux-gnu.cpython-311.pyc").write_bytes(b"stale")
    (stdlib / "__pycache__" / "os.cpython-311.pyc").write_bytes(b"kept")
    (config / "Makefile").write_text(MAKEFILE)
    (config / "python-config.py").write_text("#!/install/bin/python3.11\nimport sysconfig\n")
    (root / "bin" / "python3.11-config").write_text(PYTHON_CONFIG)
    os.chmod(root / "bin" / "python3.11-config", 0o755)
    os.symlink("python3.11-config", root / "bin" / "python3-config")
    (root / "lib" / "pkgconfig" / "python-3.11.pc").write_text(PC)
    os.symlink("python-3.11.pc", root / "lib" / "pkgconfig" / "python3.pc")
    return stdlib


def read_vars(path):
    data, _node = _sysconfig.parse_sysconfigdata(path.read_text())
    return data


def test_sysconfigdata_names_the_real_prefix_and_the_host_compilers():
    text, prefixes, was, changed = _sysconfig.rewrite_sysconfigdata(SYSCONFIGDATA, REAL, HOST)
    data, _node = _sysconfig.parse_sysconfigdata(text)
    assert (prefixes, was) == (["/install"], "clang")
    assert data["CC"] == data["MAINCC"] == data["LINKCC"] == "cc"
    assert data["CXX"] == "c++"
    assert data["LDSHARED"] == data["BLDSHARED"] == "cc -shared -Wl,-rpath,\\$ORIGIN/../lib"
    assert data["LDCXXSHARED"] == "c++ -shared"
    assert (data["CPP"], data["AR"]) == ("cc -E", "ar")
    assert data["LIBDIR"] == REAL + "/lib" and data["INCLUDEPY"] == REAL + "/include/python3.11"
    assert data["LIBPL"] == REAL + "/lib/python3.11/config-3.11-x86_64-linux-gnu"
    assert data["CONFIG_ARGS"].startswith("'--prefix=%s' " % REAL)
    assert (data["prefix"], data["exec_prefix"], data["BINDIR"]) == (REAL, REAL, REAL + "/bin")
    # Everything else is as it was, ints stay ints, and the file keeps CPython's shape.
    assert data["Py_ENABLE_SHARED"] == 1 and data["CCSHARED"] == "-fPIC"
    assert data["EXT_SUFFIX"] == ".cpython-311-x86_64-linux-gnu.so"
    assert text.startswith("# system configuration generated and used by the sysconfig module\nbuild_time_vars = {")
    assert "/install" not in text and "clang" not in text
    assert set(changed) == {"AR", "BINDIR", "BLDSHARED", "CC", "CONFIG_ARGS", "CPP", "CXX", "INCLUDEPY", "LDCXXSHARED",
                            "LDSHARED", "LIBDIR", "LIBPL", "LINKCC", "MAINCC", "exec_prefix", "prefix"}


def test_a_second_rewrite_changes_nothing():
    once = _sysconfig.rewrite_sysconfigdata(SYSCONFIGDATA, REAL, HOST)[0]
    twice, prefixes, _was, changed = _sysconfig.rewrite_sysconfigdata(once, REAL, HOST)
    assert (twice, prefixes, changed) == (once, [REAL], [])


def test_upstream_flags_after_the_compiler_stay():
    # Release 20240107, x86_64: -pthread in the drivers, clang-only linker flags after them.
    data = dict(BUILD_TIME_VARS, CC="clang -pthread", LDSHARED="clang -pthread -shared  -Wl,--exclude-libs,ALL ",
                LINKCC="clang -pthread -fno-pie -no-pie")
    new = _sysconfig.rewrite_sysconfigdata("build_time_vars = " + pprint.pformat(data) + "\n", REAL, HOST)[0]
    got, _node = _sysconfig.parse_sysconfigdata(new)
    assert (got["CC"], got["LDSHARED"], got["LINKCC"]) == (
        "cc -pthread", "cc -pthread -shared  -Wl,--exclude-libs,ALL ", "cc -pthread -fno-pie -no-pie")


def test_cross_compiler_paths_of_older_releases_are_replaced_too():
    data = dict(BUILD_TIME_VARS, CC="/usr/bin/aarch64-linux-gnu-gcc", CXX="/usr/bin/aarch64-linux-gnu-g++",
                LDSHARED="/usr/bin/aarch64-linux-gnu-gcc -shared", AR="/usr/bin/aarch64-linux-gnu-ar")
    text = "build_time_vars = " + pprint.pformat(data) + "\n"
    new, _p, was, _c = _sysconfig.rewrite_sysconfigdata(text, REAL, {"cc": "gcc-12", "cxx": "g++-12", "ar": "ar"})
    got, _node = _sysconfig.parse_sysconfigdata(new)
    assert was == "/usr/bin/aarch64-linux-gnu-gcc"
    assert (got["CC"], got["CXX"], got["LDSHARED"], got["AR"]) == ("gcc-12", "g++-12", "gcc-12 -shared", "ar")


def test_a_system_prefix_is_never_taken_for_a_build_prefix():
    data = dict(BUILD_TIME_VARS, prefix="/usr", exec_prefix="/usr", LIBDIR="/usr/lib/x86_64-linux-gnu")
    new, prefixes, _was, _changed = _sysconfig.rewrite_sysconfigdata(
        "build_time_vars = " + pprint.pformat(data) + "\n", REAL, HOST)
    got, _node = _sysconfig.parse_sysconfigdata(new)
    assert prefixes == [] and got["LIBDIR"] == "/usr/lib/x86_64-linux-gnu" and got["CC"] == "cc"


def test_prefix_is_replaced_only_where_a_path_starts_with_it():
    text = ("-I/install/include -L/install/lib -Wl,-rpath,/install/lib x=/install:/install/bin #!/install/bin/py "
            "/opt/install/lib /install2 /install-old /installer")
    assert _sysconfig.replace_prefix(text, ["/install"], REAL) == (
        "-I{0}/include -L{0}/lib -Wl,-rpath,{0}/lib x={0}:{0}/bin #!{0}/bin/py "
        "/opt/install/lib /install2 /install-old /installer".format(REAL))
    # The test bed's own archives: prefix /python, which must not touch python3.11 or "env python".
    assert _sysconfig.replace_prefix("/python/lib/python3.11 /python3.11 env python", ["/python"], "/srv/py") == (
        "/srv/py/lib/python3.11 /python3.11 env python")


def test_makefile_settings_and_prefix():
    new = _sysconfig.rewrite_makefile(MAKEFILE, ["/install"], REAL, HOST)
    lines = dict(line.split("=", 1) for line in new.splitlines() if "=" in line and not line.startswith("#"))
    assert lines["CC"] == "\t\tcc" and lines["CXX"] == "\t\tc++"
    assert lines["AR"] == "\t\tar" and lines["prefix"] == "\t\t" + REAL
    assert lines["CONFIG_ARGS"].startswith("\t '--prefix=%s'" % REAL)
    # Make references stay references: they follow CC/CXX.
    assert lines["MAINCC"] == "\t\t$(CC)" and lines["LINKCC"] == "\t\t$(PURIFY) $(MAINCC)"
    assert lines["LDSHARED"] == "\t$(CC) -shared $(PY_LDFLAGS)"
    assert new.startswith("# Generated automatically") and new.endswith("-shared\n")


@pytest.mark.parametrize("compiler, cxx", [
    ("cc", "c++"), ("gcc", "g++"), ("gcc-12", "g++-12"), ("clang", "clang++"), ("clang-16", "clang++-16"),
    ("/usr/bin/x86_64-linux-gnu-gcc-12", "/usr/bin/x86_64-linux-gnu-g++-12"), ("tcc", "c++"), ("icx", "c++"),
])
def test_the_cxx_driver_follows_the_compiler(compiler, cxx):
    assert _sysconfig.cxx_for(compiler) == cxx


def test_host_compilers(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "gcc-12").write_text("#!/bin/sh\n")
    os.chmod(fake / "gcc-12", 0o755)
    assert _sysconfig.host_compilers("gcc-12", path=str(fake)) == {
        "cc": "gcc-12", "cxx": "g++-12", "ar": "ar", "cc_path": str(fake / "gcc-12")}
    # Unset: the host's cc and c++, found or not (a compiler installed later then works without a rebuild).
    assert _sysconfig.host_compilers(None, path=str(fake)) == {"cc": "cc", "cxx": "c++", "ar": "ar", "cc_path": None}
    assert _sysconfig.host_compilers(str(fake / "gcc-12"), path="/nonexistent")["cc_path"] == str(fake / "gcc-12")


@pytest.mark.parametrize("requested", ["clang", "/usr/bin/no-such-cc"])
def test_a_requested_compiler_that_is_missing_is_a_titled_error(tmp_path, requested):
    with pytest.raises(AppenvError) as caught:
        _sysconfig.host_compilers(requested, path=str(tmp_path))
    assert caught.value.code == "compiler_not_found"
    assert requested in caught.value.message and "apt-get install gcc" in caught.value.message


def test_rewrite_runtime_rewrites_every_settings_file_and_drops_stale_bytecode(tmp_path):
    root = tmp_path / "python"
    stdlib = make_runtime(root)
    report = _sysconfig.rewrite_runtime(str(root), REAL, "3.11", HOST, "cpython-3.11.2+x.tar.gz")
    assert report["build_prefix"] == ["/install"] and report["compiler_was"] == "clang"
    assert (report["compiler"], report["cxx"], report["compiler_path"], report["prefix"]) == (
        "cc", "c++", "/usr/bin/cc", REAL)
    assert sorted(report["files"]) == [
        "bin/python3.11-config", "lib/pkgconfig/python-3.11.pc",
        "lib/python3.11/_sysconfigdata__linux_x86_64-linux-gnu.py",
        "lib/python3.11/config-3.11-x86_64-linux-gnu/Makefile",
        "lib/python3.11/config-3.11-x86_64-linux-gnu/python-config.py"]
    assert read_vars(stdlib / "_sysconfigdata__linux_x86_64-linux-gnu.py")["LIBDIR"] == REAL + "/lib"
    assert (root / "bin" / "python3.11-config").read_text().splitlines()[2] == 'prefix="%s"' % REAL
    assert stat.S_IMODE(os.stat(root / "bin" / "python3.11-config").st_mode) == 0o755
    assert (root / "lib" / "pkgconfig" / "python-3.11.pc").read_text().startswith("prefix=%s\n" % REAL)
    # The links still link, to the rewritten files.
    assert os.readlink(root / "bin" / "python3-config") == "python3.11-config"
    assert (root / "lib" / "pkgconfig" / "python3.pc").read_text().startswith("prefix=" + REAL)
    assert sorted(os.listdir(stdlib / "__pycache__")) == ["os.cpython-311.pyc"]
    assert not [name for name in os.listdir(root / "bin") if name.endswith(".appenv-part")]
    again = _sysconfig.rewrite_runtime(str(root), REAL, "3.11", HOST)
    assert again["files"] == [] and again["build_prefix"] == [REAL]


def test_links_out_of_the_layer_are_never_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.pc"
    victim.write_text(PC)
    victim_dir = tmp_path / "elsewhere"
    (victim_dir / "config-3.11-x86_64-linux-gnu").mkdir(parents=True)
    (victim_dir / "config-3.11-x86_64-linux-gnu" / "Makefile").write_text(MAKEFILE)
    root = tmp_path / "python"
    stdlib = make_runtime(root)
    os.symlink(str(victim), str(root / "lib" / "pkgconfig" / "evil.pc"))
    os.symlink(str(victim), str(root / "bin" / "python3.99-config"))
    os.rename(stdlib / "config-3.11-x86_64-linux-gnu", tmp_path / "moved")
    os.symlink(str(victim_dir / "config-3.11-x86_64-linux-gnu"), str(stdlib / "config-3.11-x86_64-linux-gnu"))
    report = _sysconfig.rewrite_runtime(str(root), REAL, "3.11", HOST)
    assert victim.read_text() == PC
    assert (victim_dir / "config-3.11-x86_64-linux-gnu" / "Makefile").read_text() == MAKEFILE
    assert not any("evil" in rel or "3.99" in rel or "Makefile" in rel for rel in report["files"])


def test_unreadable_sysconfigdata_is_a_titled_error(tmp_path):
    root = tmp_path / "python"
    stdlib = make_runtime(root)
    (stdlib / "_sysconfigdata__linux_x86_64-linux-gnu.py").write_text("build_time_vars = dict(CC=os.environ)\n")
    with pytest.raises(AppenvError) as caught:
        _sysconfig.rewrite_runtime(str(root), REAL, "3.11", HOST, "cpython-3.11.2+x.tar.gz")
    assert caught.value.code == "runtime_settings_unreadable"
    assert "_sysconfigdata__linux_x86_64-linux-gnu.py" in caught.value.message


@pytest.mark.parametrize("dest", ["/opt/my python", "/opt/$(reboot)", "/opt/a\"b", "relative/path"])
def test_a_prefix_a_shell_script_would_interpret_is_refused(tmp_path, dest):
    root = tmp_path / "python"
    make_runtime(root)
    with pytest.raises(AppenvError) as caught:
        _sysconfig.rewrite_runtime(str(root), dest, "3.11", HOST)
    assert caught.value.code == "bad_argument"
    assert (root / "bin" / "python3.11-config").read_text() == PYTHON_CONFIG
