"""The package sets of the dependency benchmarks (scenarios 1-4 and 11), served on 127.0.0.1.

- `hermetic`: built by the benchmark itself, no network: ~50 pure-Python wheels (each a few modules of
  padding functions, so bytecode and file counts are realistic; chains of dependencies between them)
  and a few sdists that pip must build (`--quick`: 8 wheels and 1 sdist).
- `webapp`: a typical web app's requirements from the real package registry, pinned like a
  `pip-compile` output: Django, gunicorn, psycopg 3 with its binary wheel, whitenoise and what they
  depend on (8 wheels, 12 MB).
- `large`: the web app plus a data stack (numpy, pandas, scipy, scikit-learn, matplotlib and their
  dependencies: 26 wheels, 108 MB, 347 MB unpacked) - an app with analytics or reports.

Every set is served from a PEP 503 index on 127.0.0.1 together with the test bed's tool wheels (pip,
setuptools, wheel, uv). The registry sets' wheels are fetched with `pip download` (the machine's pip
configuration, the hosts' Python, ABI and platform) once, into the test bed's cache under
`bench-sets/<set>-<arch>-<key>/` keyed by the requirement text: runs after the first are hermetic.
When the registry cannot be reached and nothing is cached, `served_index` raises `SetUnavailable`
and `bench.run` skips the scenario for that set with a log line.
"""

import contextlib
import contextvars
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.testbed import mirror, package_index
from tests.testbed.paths import cache_dir

from bench.registry import Skipped

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


HERMETIC = "hermetic"
WEBAPP = "webapp"
LARGE = "large"

_WEB = [
    "asgiref==3.13.0",
    "django==5.2.19",
    "gunicorn==27.0.1",
    "psycopg[binary]==3.3.9",
    "psycopg-binary==3.3.9",
    "sqlparse==0.6.1",
    "typing-extensions==4.16.0",
    "whitenoise==6.12.0",
]
_DATA = [
    "cloudpickle==3.1.3",
    "contourpy==1.3.3",
    "cycler==0.12.1",
    "fonttools==4.68.0",
    "joblib==1.6.0",
    "kiwisolver==1.5.1",
    "matplotlib==3.11.2",
    "narwhals==2.29.0",
    "numpy==2.4.6",
    "packaging==26.3",
    "pandas==3.1.1",
    "pillow==13.0.0",
    "pyparsing==3.3.3",
    "python-dateutil==4.0.0",
    "scikit-learn==1.9.1",
    "scipy==1.17.1",
    "threadpoolctl==3.8.0",
    "tzdata==2026.6",
]

# Pinned requirement lines of the registry sets, sorted like a pip-compile output. Scenario 4 drops the
# last line and puts it back in turn: it must be a top-level requirement nothing else needs (whitenoise).
REGISTRY_SETS = {
    WEBAPP: _WEB,
    LARGE: sorted(_WEB + _DATA, key=lambda line: package_index.normalise(line.split("=")[0].split("[")[0])),
}
SETS = (HERMETIC, WEBAPP, LARGE)
PYTHON = package_index.PYTHON_FOR_WHEELS


class SetUnavailable(Skipped):
    """A registry set's wheels are neither cached nor downloadable (no registry: offline)."""


def names(count=WHEELS):
    return ["bench-pkg-%02d" % number for number in range(count)]


def check(name):
    """name if it is a known set, else a ValueError naming the known ones."""
    if name not in SETS:
        raise ValueError("unknown package set %r (known: %s)" % (name, ", ".join(SETS)))
    return name


def cache_key(requirements, arch="x86_64"):
    """The cache key of a registry set: its requirement text, the hosts' Python and platform tags."""
    text = json.dumps({"requirements": list(requirements), "python": PYTHON,
                       "platforms": package_index.PLATFORMS[arch]}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _download_command(requirements, arch, dest):
    argv = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary=:all:",
            "--python-version", PYTHON, "--implementation", "cp", "--abi", "cp" + PYTHON.replace(".", ""),
            "--abi", "abi3", "--abi", "none", "-d", str(dest)]
    for platform in package_index.PLATFORMS[arch]:
        argv += ["--platform", platform]
    return argv + list(requirements)


def registry_wheels(name, arch="x86_64", log=None):
    """The wheels of registry set `name` for arch: downloaded once from the registry, then from the cache."""
    requirements = REGISTRY_SETS[name]
    root = cache_dir() / "bench-sets" / ("%s-%s-%s" % (name, arch, cache_key(requirements, arch)))
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(str(root) + ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / ".complete").exists():
            part = Path(str(root) + ".part")
            for stale in (root, part):
                if stale.exists():
                    shutil.rmtree(stale)
            part.mkdir()
            if log:
                log("set %s: downloading %d pinned requirements for %s from the package registry (once)"
                    % (name, len(requirements), arch))
            try:
                proc = subprocess.run(_download_command(requirements, arch, part), capture_output=True, text=True,
                                      timeout=1800, check=False)
            except subprocess.TimeoutExpired:
                proc = subprocess.CompletedProcess([], 1, "", "pip download timed out after 1800 s")
            if proc.returncode != 0:
                shutil.rmtree(part, ignore_errors=True)
                lines = [line for line in proc.stderr.splitlines() if line.strip() and "is ignored" not in line]
                raise SetUnavailable("set %s: its wheels are not cached and pip download from the package registry "
                                     "failed (offline?): %s" % (name, " | ".join(lines[-3:]) or "exit %d"
                                                                % proc.returncode))
            (part / ".complete").write_text("\n".join(requirements) + "\n", encoding="utf-8")
            os.rename(part, root)
    return sorted(path for path in root.iterdir() if path.suffix == ".whl")


def _hermetic(files, quick):
    count = 8 if quick else WHEELS
    wanted = names(count)
    for number, name in enumerate(wanted):
        # Every fourth package depends on the next one: transitive dependencies to resolve.
        requires = [wanted[number + 1]] if number % 4 == 0 and number + 1 < count else []
        package_index.build_wheel(files, name, "1.0", requires, modules=4, size=150)
    sdists = ["bench-src-%d" % number for number in range(1 if quick else SDISTS)]
    for name in sdists:
        package_index.build_sdist(files, name, "1.0")
    top = [name for number, name in enumerate(wanted) if number % 4 != 1] + sdists
    return ["%s==1.0" % name for name in top]


@contextlib.contextmanager
def served_index(quick=False, name=HERMETIC, log=None):
    """Yields (index simple URL, requirement lines for the whole set) for set `name`.

    Raises SetUnavailable (a registry set that is neither cached nor downloadable) before serving.
    """
    check(name)
    wheels = registry_wheels(name, arch=_TOOLS_ARCH.get(), log=log) if name != HERMETIC else []
    with tempfile.TemporaryDirectory(prefix="appenv-bench-index-") as tmp:
        index = package_index.PackageIndex(Path(tmp) / "index")
        index.add(package_index.ensure_tool_wheels(_TOOLS_ARCH.get()))
        if name == HERMETIC:
            requirements = _hermetic(index.files, quick)
        else:
            index.add(wheels)  # after the tool wheels: the set's own pins win a file name both hold
            requirements = list(REGISTRY_SETS[name])
        index.write_pages()
        with mirror.serve(Path(tmp)) as base_url:
            yield base_url + "/index/simple", requirements
