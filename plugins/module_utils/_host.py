# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about the target host that decide what a layer may contain.

The one arch map of the collection lives here: every spelling a host or a
user may use maps to the name python-build-standalone triples use.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import platform

ARCH_ALIASES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
}

ARCH_TRIPLES = {
    "x86_64": "x86_64-unknown-linux-gnu",
    "aarch64": "aarch64-unknown-linux-gnu",
}


def normalise_arch(name):
    """The canonical arch name, or None for an arch the collection has no runtimes for."""
    return ARCH_ALIASES.get((name or "").strip().lower())


def host_arch():
    return normalise_arch(platform.machine()) or platform.machine()


def host_distro(os_release="/etc/os-release"):
    """'debian-12' style id of the host's distribution ('unknown' when it cannot tell)."""
    fields = {}
    try:
        with open(os_release) as handle:
            for line in handle:
                key, sep, value = line.strip().partition("=")
                if sep:
                    fields[key] = value.strip().strip('"')
    except (IOError, OSError):
        return "unknown"
    distro = fields.get("ID", "unknown")
    version = fields.get("VERSION_ID") or fields.get("VERSION_CODENAME")
    return "%s-%s" % (distro, version) if version else distro


def host_libc():
    """The C library family ('glibc', 'musl' or 'unknown'): archives are built against one."""
    name, _version = platform.libc_ver()
    if name:
        return name
    if any(entry.startswith("ld-musl") for entry in _safe_listdir("/lib")):
        return "musl"
    return "unknown"


def _safe_listdir(path):
    try:
        return os.listdir(path)
    except (IOError, OSError):
        return []


def cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
