"""Host facts: the arch names the collection accepts, and the distro/libc/CPU facts a runtime layer records."""

import os
import platform

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _host


@pytest.mark.parametrize("spelling, canonical", [
    ("x86_64", "x86_64"),
    ("amd64", "x86_64"),
    ("AMD64", "x86_64"),
    (" x86_64\n", "x86_64"),  # uname -m output, newline and all
    ("aarch64", "aarch64"),
    ("arm64", "aarch64"),
    ("ARM64", "aarch64"),
])
def test_every_spelling_of_a_supported_arch_maps_to_the_triple_name(spelling, canonical):
    assert _host.normalise_arch(spelling) == canonical


@pytest.mark.parametrize("spelling", ["armv7l", "i686", "riscv64", "ppc64le", "s390x", "", None, "x86"])
def test_an_arch_without_runtimes_is_none(spelling):
    assert _host.normalise_arch(spelling) is None


def test_host_arch_is_the_canonical_name_of_this_machine():
    machine = platform.machine()
    expected = _host.normalise_arch(machine) or machine
    assert _host.host_arch() == expected
    if machine.lower() in ("amd64", "x86_64"):
        assert _host.host_arch() == "x86_64"


def _os_release(tmp_path, text):
    path = tmp_path / "os-release"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text, distro", [
    ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
     'VERSION_CODENAME=bookworm\nID=debian\n', "debian-12"),
    ('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n', "ubuntu-24.04"),
    # Debian testing/sid has no VERSION_ID: the codename stands in.
    ('PRETTY_NAME="Debian GNU/Linux trixie/sid"\nID=debian\nVERSION_CODENAME=trixie\n', "debian-trixie"),
    ("ID=alpine\n", "alpine"),
    ('# comment\n\nID="rocky"\nVERSION_ID=9.4\n', "rocky-9.4"),
    ("", "unknown"),
])
def test_host_distro_from_an_os_release_file(tmp_path, text, distro):
    assert _host.host_distro(_os_release(tmp_path, text)) == distro


def test_host_distro_without_os_release_is_unknown(tmp_path):
    assert _host.host_distro(str(tmp_path / "absent")) == "unknown"
    assert _host.host_distro(str(tmp_path)) == "unknown"  # a directory: unreadable as a file


def test_host_libc_names_the_c_library_family():
    libc = _host.host_libc()
    assert libc in ("glibc", "musl", "unknown")
    name, _version = platform.libc_ver()
    if name:
        assert libc == name


def test_cpu_count_is_the_cpus_this_process_may_use():
    count = _host.cpu_count()
    assert isinstance(count, int) and count >= 1
    if hasattr(os, "sched_getaffinity"):
        assert count == len(os.sched_getaffinity(0))
