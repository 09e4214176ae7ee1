# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The identity of a Python interpreter python_runtime did not install (a distro python3, a pyenv build).

The one home of what "the same interpreter" means for the layers that sit on one:
its implementation, version and prefix (from running it once), the sha256 of its
binary and of its libpython if it links one. The identity goes into the layers'
fingerprints in place of a runtime's fingerprint key, so an interpreter upgraded by
apt rebuilds them, with a reason naming both versions.

The no-op rule: the binary and libpython are hashed on every run (a few MB: 17 ms
for Debian's 6.8 MB python3.11), and the interpreter is run (one subprocess) only
when those hashes or its real path differ from the identity recorded in the
layer's fingerprint. So a no-op starts no process, and a binary replaced in place
is noticed even if its size and mtime were kept.

Least privilege: as root, an interpreter a non-root user could write (the binary,
its libpython or any directory above them owned by another user or writable by
group/others) is refused: root would run their code.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import stat

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

MINIMUM = (3, 8)

# Runs inside the interpreter (any CPython >= 3.8 and older ones, to say they are too old): facts as JSON.
_PROBE = r"""
import json, os, platform, site, sys, sysconfig
libdir = sysconfig.get_config_var("LIBDIR") or ""
soname = sysconfig.get_config_var("INSTSONAME") or ""
lib = os.path.join(libdir, soname) if sysconfig.get_config_var("Py_ENABLE_SHARED") and soname else None
stdlib = sysconfig.get_path("stdlib")
marker = os.path.join(stdlib, "EXTERNALLY-MANAGED")
print(json.dumps({
    "implementation": platform.python_implementation(), "version": platform.python_version(),
    "version_info": list(sys.version_info[:2]), "prefix": sys.prefix, "base_prefix": sys.base_prefix,
    "libpython": lib if lib and os.path.exists(lib) else None, "stdlib": stdlib,
    "purelib": sysconfig.get_path("purelib"), "site_dirs": site.getsitepackages(), "cache_tag": sys.implementation.cache_tag,
    "abi": "%d.%d%s" % (sys.version_info[0], sys.version_info[1],
                        "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""),
    "externally_managed": marker if os.path.exists(marker) else None,
}))
"""

# The identity keys compared between runs (the rest are facts read from the same probe).
IDENTITY_KEYS = ("path", "implementation", "version", "prefix", "sha256", "libpython", "libpython_sha256")


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def writable_by_others(path, euid=None):
    """The first of path and its parent directories that a user other than root could write, or None."""
    euid = os.geteuid() if euid is None else euid
    current = os.path.abspath(path)
    while True:
        info = os.lstat(current)
        sticky_dir = stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX
        if info.st_uid not in (0, euid) or (info.st_mode & 0o022 and not sticky_dir):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def recorded_identity(*fingerprint_paths):
    """The interpreter identity recorded in the first of these fingerprint files that holds one, or None.

    Read as plain JSON (the layer engine validates the record itself): a damaged file means a probe.
    """
    for path in fingerprint_paths:
        try:
            with open(path) as handle:
                record = json.load(handle)
            found = record["inputs"]["interpreter"]
        except (IOError, OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(found, dict):
            return found
    return None


def _probe(runner, real, module):
    result = runner.run([real, "-I", "-c", _PROBE], what="Reading the identity of the interpreter %s" % real,
                        check=False)
    try:
        facts = json.loads(result.stdout)
    except (ValueError, TypeError, AttributeError):
        facts = None
    if result.rc != 0 or not isinstance(facts, dict):
        raise AppenvError("interpreter_unusable", interpreter=real, module=module,
                          detail="it did not run (%s)" % (getattr(result, "stderr", "") or "")[-300:].strip())
    if facts.get("implementation") != "CPython" or tuple(facts.get("version_info") or ()) < MINIMUM:
        raise AppenvError("interpreter_unusable", interpreter=real, module=module,
                          detail="it is %s %s; appenv.python needs CPython %d.%d or later" % (
                              facts.get("implementation"), facts.get("version"), MINIMUM[0], MINIMUM[1]))
    return facts


def identify(path, runner, module, recorded=None):
    """The identity of the interpreter at path: a dict of IDENTITY_KEYS plus the facts of its probe.

    recorded is the identity the layer's last fingerprint holds (recorded_identity): reused as it is
    when the real path and the hashes match, so no process is started.
    """
    real = os.path.realpath(path)
    if not os.path.isfile(real) or not os.access(real, os.X_OK):
        raise AppenvError("interpreter_unusable", interpreter=path, module=module,
                          detail="it is not an executable file")
    if os.geteuid() == 0:
        unsafe = writable_by_others(real)
        if unsafe:
            raise AppenvError("interpreter_unsafe", interpreter=path, module=module, path=unsafe)
    sha = sha256_file(real)
    if recorded and recorded.get("path") == real and recorded.get("sha256") == sha:
        lib = recorded.get("libpython")
        try:
            same_lib = lib is None or sha256_file(lib) == recorded.get("libpython_sha256")
        except (IOError, OSError):
            same_lib = False
        if same_lib and all(key in recorded for key in ("stdlib", "purelib", "site_dirs", "cache_tag", "abi")):
            return dict(recorded)
    facts = _probe(runner, real, module)
    lib = facts.get("libpython")
    if lib and os.geteuid() == 0 and writable_by_others(lib):
        raise AppenvError("interpreter_unsafe", interpreter=path, module=module, path=writable_by_others(lib))
    identity = dict(facts)
    identity.update(path=real, sha256=sha, libpython=lib, libpython_sha256=sha256_file(lib) if lib else None)
    identity.pop("version_info", None)
    return identity


def describe_change(old, new, shown=None):
    """Sentences saying how the interpreter under a layer changed between two identities ([] if it did not)."""
    if old == new or (old and new and all(old.get(key) == new.get(key) for key in IDENTITY_KEYS)):
        return []
    name = shown or (new or {}).get("path")
    if not old:
        return ["the interpreter is now %s (Python %s) instead of a python_runtime runtime" % (name, new["version"])]
    if not new:
        return ["the interpreter %s (Python %s) was replaced by a python_runtime runtime" % (
            old.get("path"), old.get("version"))]
    if old.get("path") != new.get("path"):
        return ["the interpreter changed from %s (Python %s) to %s (Python %s)" % (
            old.get("path"), old.get("version"), new.get("path"), new.get("version"))]
    if old.get("version") != new.get("version"):
        return ["the interpreter %s changed from %s to %s" % (name, old.get("version"), new.get("version"))]
    if old.get("sha256") != new.get("sha256"):
        return ["the interpreter %s (Python %s) changed: its binary changed" % (name, new.get("version"))]
    if old.get("libpython_sha256") != new.get("libpython_sha256") or old.get("libpython") != new.get("libpython"):
        return ["the interpreter %s (Python %s) changed: its libpython changed" % (name, new.get("version"))]
    return ["the interpreter %s (Python %s) changed: its prefix or implementation changed" % (
        name, new.get("version"))]
