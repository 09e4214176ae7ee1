"""Runtime archives whose build settings look like python-build-standalone's, derived without a second compile.

The test bed's own archives (runtimes.py) are configured with `--prefix=/python` and built with the
build machine's gcc (`aarch64-linux-gnu-gcc` for the cross-compiled aarch64 one), so their build settings
happen to work on a Debian host with gcc. Upstream's archives were configured with `--prefix=/install`
and built with clang: `_sysconfigdata_*.py`, the `Makefile` under `lib/python3.X/config-*`,
`bin/python3.X-config` and `lib/pkgconfig/*.pc` say so, e.g. (x86_64, release 20240107)

    'CC': 'clang -pthread',  'CXX': 'clang++ -pthread',  'LINKCC': 'clang -pthread ...',
    'LDSHARED': 'clang -pthread -shared ...',  'BLDSHARED': ...,  'LDCXXSHARED': 'clang++ -pthread -shared',
    'prefix': '/install',  'LIBDIR': '/install/lib',  'CONFIG_ARGS': "'--prefix=/install' ... 'CC=clang' ..."

and pip then fails to build an sdist with a C extension on a host without clang. `ensure_faithful_archive`
takes a test-bed archive and rewrites exactly those files the way upstream's read (build prefix `/install`,
compiler `clang`/`clang++`, archiver llvm-ar), so the failure is reproduced; everything else is the same
interpreter. Cached under `cache_dir()/runtimes-pbs/<key>/`, the key being the base archive's sha256 and
RECIPE. Names carry TAG, a release of their own, so a mirror serves them beside the plain archives.
"""
import ast
import hashlib
import json
import pathlib
import pprint
import re
import shutil
import tarfile
import tempfile

from . import docker_host, runtimes
from .paths import cache_dir

TAG = "20261115"  # release tag of the faithful archives (not runtimes.TAG: both sit on one mirror)

RECIPE = {
    "format": 1,
    "tag": TAG,
    "prefix": "/install",
    "cc": "clang",
    "cxx": "clang++",
    "ar": "/tools/llvm/bin/llvm-ar",
}

# (version, arch) of the faithful archives the tests use.
RUNTIMES = [(runtimes.PY311, "x86_64"), (runtimes.PY311, "aarch64")]

# A host with gcc and nothing of clang: the image the C-extension tests run on.
GCC_PACKAGES = docker_host.BASE_PACKAGES + ("gcc", "libc6-dev")
GCC_VARIANT = "gcc"

_SYSCONFIG_HEADER = "# system configuration generated and used by the sysconfig module\n"


class FaithfulArchiveError(runtimes.RuntimeBuildError):
    pass


def archive_name(version, arch):
    return "cpython-%s+%s-%s-install_only_stripped.tar.gz" % (version, TAG, runtimes.triple(arch))


def _prefix_pattern(prefix):
    # A path starting with the prefix, after a separator or a one-letter flag (-I/python/include), never a
    # longer name (/python3.11).
    return re.compile(r"(?:(?<=^)|(?<=[\s'\"=,:;(!])|(?<=-[A-Za-z]))" + re.escape(prefix) + r"(?![\w.+-])")


def _word_pattern(word):
    return re.compile(r"(?<![\w/.+-])" + re.escape(word) + r"(?![\w.+-])")


class _Rewrite:
    """The substitutions that turn the test bed's build settings into upstream's."""

    CXX_KEYS = ("CXX", "LDCXXSHARED")

    def __init__(self, build_prefix, cc, cxx, ar):
        self.cc, self.cxx = cc, cxx
        self.subs = [(_prefix_pattern(build_prefix), RECIPE["prefix"])]
        # C++ first: "g++" must not become "clang++" via "gcc"; whole words only (x86_64-linux-gnu-gcc-12 stays).
        if cxx != cc:
            self.subs.append((_word_pattern(cxx), RECIPE["cxx"]))
        self.subs.append((_word_pattern(cc), RECIPE["cc"]))
        self.ar = ar

    def text(self, text):
        for pattern, new in self.subs:
            text = pattern.sub(new, text)
        return text

    def _cxx_driver(self, value):
        # A cross build without a C++ compiler for the target has CXX = its C compiler: upstream's says clang++.
        return re.sub(r"^(%s|%s)(?=\s|$)" % (re.escape(self.cxx), re.escape(self.cc)), RECIPE["cxx"], value)

    def makefile(self, text):
        text = re.sub(r"^(CXX=\s*)(.*)$", lambda m: m.group(1) + self._cxx_driver(m.group(2)), text, flags=re.M)
        text = self.text(text)
        return re.sub(r"^AR=(\s*)%s$" % re.escape(self.ar), lambda m: "AR=%s%s" % (m.group(1), RECIPE["ar"]), text,
                      flags=re.M)

    def value(self, key, value):
        if key == "AR" and value == self.ar:
            return RECIPE["ar"]
        if key in self.CXX_KEYS:
            value = self._cxx_driver(value)
        return self.text(value)


def _read_sysconfigdata(path):
    tree = ast.parse(path.read_text())
    (assign,) = [n for n in tree.body if isinstance(n, ast.Assign)]
    return ast.literal_eval(assign.value)


def _rewrite_tree(tree, minor):
    """Rewrite the build settings of the extracted runtime at tree; returns the files rewritten."""
    stdlib = tree / "lib" / ("python" + minor)
    (sysconfigdata,) = sorted(stdlib.glob("_sysconfigdata_*.py"))
    data = _read_sysconfigdata(sysconfigdata)
    cc, cxx = data["CC"].split()[0], data["CXX"].split()[0]
    if not cc.endswith("gcc") or cxx not in (cc, cc[:-3] + "g++"):
        raise FaithfulArchiveError("%s: expected the test bed's gcc build, CC=%r CXX=%r" % (sysconfigdata, cc, cxx))
    rewrite = _Rewrite(data["prefix"], cc, cxx, data["AR"])
    new = dict((key, rewrite.value(key, value) if isinstance(value, str) else value) for key, value in data.items())
    # The way CPython writes it (Lib/sysconfig.py, _generate_posix_vars).
    sysconfigdata.write_text(_SYSCONFIG_HEADER + "build_time_vars = " + pprint.pformat(new) + "\n")
    for pyc in (stdlib / "__pycache__").glob(sysconfigdata.stem + ".*.pyc"):
        pyc.unlink()
    written = [sysconfigdata]
    (config,) = sorted(p for p in stdlib.glob("config-%s*" % minor) if p.is_dir())
    makefile = config / "Makefile"
    makefile.write_text(rewrite.makefile(makefile.read_text()))
    written.append(makefile)
    texts = [config / "python-config.py"] + sorted((tree / "bin").glob("python*-config"))
    texts += sorted((tree / "lib" / "pkgconfig").glob("*.pc"))
    for path in texts:
        if path.is_file() and not path.is_symlink():
            path.write_text(rewrite.text(path.read_text()))
            written.append(path)
    _check(new, written, data["prefix"], cc)
    return written


def _check(data, written, old_prefix, old_cc):
    """The result must read like upstream's, and nothing may name the old prefix or compiler."""
    expect = {"prefix": RECIPE["prefix"], "LIBDIR": RECIPE["prefix"] + "/lib", "AR": RECIPE["ar"]}
    for key, value in expect.items():
        if data.get(key) != value:
            raise FaithfulArchiveError("%s is %r after the rewrite, expected %r" % (key, data.get(key), value))
    for key in ("CC", "LDSHARED", "BLDSHARED", "LINKCC", "CXX", "LDCXXSHARED"):
        if data[key].split()[:1] != [RECIPE["cxx" if "CXX" in key else "cc"]]:
            raise FaithfulArchiveError("%s is %r after the rewrite" % (key, data[key]))
    stale = [str(p) for p in written if _prefix_pattern(old_prefix).search(p.read_text())
             or _word_pattern(old_cc).search(p.read_text())]
    if stale:
        raise FaithfulArchiveError("still naming %s or %s: %s" % (old_prefix, old_cc, ", ".join(stale)))


def _cache_key(base):
    data = json.dumps({"base_sha256": runtimes.sha256_file(base), "recipe": RECIPE}, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def ensure_faithful_archive(version, arch):
    """Path of the cached upstream-faithful archive for (version, arch), derived from the test bed's when missing."""
    arch = runtimes.ARCH_ALIASES[arch]
    base = runtimes.ensure_runtime_archive(version, arch)
    dest = cache_dir() / "runtimes-pbs" / _cache_key(base) / archive_name(version, arch)
    if dest.exists():
        return dest
    with runtimes._Lock(dest.parent / ".lock"):  # pylint: disable=protected-access
        if dest.exists():
            return dest
        work = pathlib.Path(tempfile.mkdtemp(prefix=".derive-", dir=dest.parent))
        try:
            with tarfile.open(base) as tf:
                tf.extractall(work, filter="tar")
            written = _rewrite_tree(work / "python", runtimes.minor_of(version))
            (dest.parent / "rewritten.txt").write_text("".join("%s\n" % p.relative_to(work) for p in written))
            runtimes._write_tarball(work, dest)  # pylint: disable=protected-access
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return dest


def ensure_gcc_image(arch="amd64"):
    """The bookworm image with gcc and libc6-dev (and no clang): a host that builds C extensions with gcc only."""
    return docker_host.ensure_image("bookworm", arch, include=GCC_PACKAGES, variant=GCC_VARIANT)
