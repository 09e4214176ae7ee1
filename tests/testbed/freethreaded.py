"""A free-threaded CPython runtime archive (PEP 703, `--disable-gil`), built from source like the others.

python-build-standalone names its free-threaded archives
`cpython-<version>+<release>-<triple>-freethreaded-install_only_stripped.tar.gz`, laid out as

    python/bin/python3.13t              (the interpreter; `t` is the ABI flag of free-threaded builds)
    python/lib/python3.13t/...          (stdlib and site-packages)
    python/lib/libpython3.13t.so*

The test bed builds one of them: CPython 3.13 (trixie's upstream tarball, the same source as the
default 3.13 archive) configured with `--disable-gil` on top of `runtimes.RECIPE`'s flags, for x86_64
only, and finished and packed by the same steps as the default archives (pip from ensurepip, tests
trimmed, stripped, relocatable script shebangs). Cached under `cache_dir()/runtimes/<key>/`, the
key being the version, the arch and a hash of RECIPE (which includes runtimes.RECIPE).
"""
import hashlib
import json
import pathlib

from . import runtimes
from .paths import cache_dir

VARIANT = "freethreaded"
VERSION = runtimes.PY313  # free-threaded builds exist from 3.13 on
ARCH = "x86_64"

RECIPE = {
    "base": runtimes.RECIPE,
    "configure": ["--disable-gil"],
    "format": 1,
}


def recipe_hash() -> str:
    return hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()[:12]


def archive_name(version: str = VERSION, arch: str = ARCH) -> str:
    return "cpython-%s+%s-%s-%s-install_only_stripped.tar.gz" % (version, runtimes.TAG, runtimes.triple(arch), VARIANT)


def archive_path(version: str = VERSION, arch: str = ARCH) -> pathlib.Path:
    data = json.dumps({"version": version, "arch": runtimes.ARCH_ALIASES[arch], "variant": VARIANT,
                       "recipe": recipe_hash()}, sort_keys=True)
    key = hashlib.sha256(data.encode()).hexdigest()[:16]
    return cache_dir() / "runtimes" / key / archive_name(version, arch)


def build_archive(version: str, arch: str, dest: pathlib.Path) -> None:
    if runtimes.ARCH_ALIASES[arch] != ARCH:
        raise runtimes.RuntimeBuildError("the test bed builds the free-threaded runtime for x86_64 only")
    # The default recipe plus --disable-gil; the same finishing steps, named by the ABI (python3.13t).
    runtimes.build_runtime_archive(version, arch, dest, configure_extra=RECIPE["configure"], abi="t")


def ensure_archive(version: str = VERSION, arch: str = ARCH) -> pathlib.Path:
    """Path of the cached free-threaded archive, building it first when missing (serialised by a lock)."""
    dest = archive_path(version, arch)
    if dest.exists():
        return dest
    with runtimes._Lock(dest.parent / ".lock"):
        if not dest.exists():
            build_archive(version, arch, dest)
    return dest
