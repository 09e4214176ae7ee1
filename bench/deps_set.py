"""The hermetic package set of the dependency benchmarks, built by the benchmark itself.

~50 pure-Python wheels (each a few modules of padding functions, so bytecode and file counts are
realistic; chains of dependencies between them) and a few sdists that pip must build, in a PEP 503
index on 127.0.0.1 together with the test bed's tool wheels (pip, setuptools, wheel, uv).
"""

import contextlib
import contextvars
import tempfile
from pathlib import Path

from tests.testbed import mirror, package_index

WHEELS = 48
SDISTS = 3
# The arch whose tool wheels (uv's is platform-specific) the index serves: see `for_arch`.
_TOOLS_ARCH = contextvars.ContextVar("bench_tools_arch", default="x86_64")


@contextlib.contextmanager
def for_arch(arch):
    """Within the block, `served_index` serves the tool wheels of arch ("aarch64" for arm64 hosts)."""
    token = _TOOLS_ARCH.set(arch)
    try:
        yield
    finally:
        _TOOLS_ARCH.reset(token)


def names(count=WHEELS):
    return ["bench-pkg-%02d" % number for number in range(count)]


@contextlib.contextmanager
def served_index(quick=False):
    """Yields (index simple URL, requirement lines for the whole set)."""
    count = 8 if quick else WHEELS
    with tempfile.TemporaryDirectory(prefix="appenv-bench-index-") as tmp:
        index = package_index.PackageIndex(Path(tmp) / "index")
        index.add(package_index.ensure_tool_wheels(_TOOLS_ARCH.get()))
        wanted = names(count)
        for number, name in enumerate(wanted):
            # Every fourth package depends on the next one: transitive dependencies to resolve.
            requires = [wanted[number + 1]] if number % 4 == 0 and number + 1 < count else []
            package_index.build_wheel(index.files, name, "1.0", requires, modules=4, size=150)
        sdists = ["bench-src-%d" % number for number in range(1 if quick else SDISTS)]
        for name in sdists:
            package_index.build_sdist(index.files, name, "1.0")
        index.write_pages()
        with mirror.serve(Path(tmp)) as base_url:
            top = [name for number, name in enumerate(wanted) if number % 4 != 1] + sdists
            yield base_url + "/index/simple", ["%s==1.0" % name for name in top]
