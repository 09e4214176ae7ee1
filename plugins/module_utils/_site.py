# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is installed where, read from the files alone (no subprocess: it runs on every no-op).

Shared by pip_tooling and app_dependencies: the runtime a layer sits on (from
the python_runtime fingerprint), the distributions in a site directory (from
their ``*.dist-info``), whether their files are still there (from ``RECORD``).
Credentials in URLs are _urls.py's, the index options _index.py's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import os
import re
import shutil

from ansible_collections.appenv.python.plugins.module_utils import _interpreter
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._fingerprint import digest, read_runtime_fingerprint
from ansible_collections.appenv.python.plugins.module_utils._runner import SAFE_PATH
from ansible_collections.appenv.python.plugins.module_utils._upstream import predicted_runtime, predicted_versions

_DIST_INFO = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+)\.dist-info$")


def canonical_name(name):
    return re.sub(r"[-_.]+", "-", name).lower()


class Runtime:
    """A runtime installed by python_runtime, described by its fingerprint.

    upstream (check mode only): the registered result of the task before this one (_upstream). When it predicts
    that the runtime changes, the runtime is the predicted one: ``replaced`` is set (nothing inside root survives),
    and ``versions`` holds the tool versions pip_tooling's result says it installs.
    """

    interpreter = None  # the identity of a foreign interpreter (ForeignRuntime); fingerprint inputs hold it
    externally_managed = None
    replaced = False
    versions = {}
    action = "kept"
    variant = "default"

    def __init__(self, root, module, upstream=None):
        self.root = os.path.abspath(root)
        record, action = predicted_runtime(upstream, self.root)
        self.versions = predicted_versions(upstream)
        if record is not None:
            self.replaced, self.action = True, action
        else:
            record, problem = read_runtime_fingerprint(self.root)
        if record is None:
            raise AppenvError("runtime_missing", runtime=self.root, module=module, detail=problem)
        inputs = record["inputs"]
        facts = record.get("facts", {})
        self.key = record["key"]
        self.version = inputs["python_version"]
        self.minor = ".".join(self.version.split(".")[:2])
        # The free-threaded build names its interpreter and lib directories python3.13t (sysconfig's abi_thread).
        self.variant = inputs.get("variant") or "default"
        self.abi = self.minor + ("t" if self.variant == "freethreaded" else "")
        self.arch = inputs.get("arch")
        self.python = os.path.join(self.root, "bin", "python" + self.abi)
        if not self.replaced and not os.access(self.python, os.X_OK):
            raise AppenvError("runtime_missing", runtime=self.root, module=module,
                              detail="its interpreter %s is missing" % self.python)
        self.site_packages = os.path.join(self.root, facts.get("purelib_rel") or
                                          "lib/python%s/site-packages" % self.abi)
        self.stdlib = os.path.join(self.root, "lib", "python" + self.abi)
        self.cache_tag = facts.get("cache_tag") or "cpython-" + self.minor.replace(".", "")

    def user_site(self, base):
        """The site directory of a PYTHONUSERBASE (or --prefix, or venv) rooted at base (posix schemes)."""
        return os.path.join(base, "lib", "python" + self.abi, "site-packages")

    def refuse_externally_managed(self, module, what):
        """Raise the titled error when what (installing into the interpreter itself) meets PEP 668's marker."""
        if self.externally_managed:
            raise AppenvError("interpreter_externally_managed", interpreter=self.python, module=module, what=what,
                              marker=self.externally_managed)

    def bundled_wheels(self):
        directory = os.path.join(self.stdlib, "ensurepip", "_bundled")
        try:
            return dict((name.split("-")[0], os.path.join(directory, name)) for name in os.listdir(directory)
                        if name.endswith(".whl"))
        except OSError:
            return {}


class ForeignRuntime(Runtime):
    """Any CPython >= 3.8 python_runtime did not install (the interpreter option), with Runtime's interface.

    Described by _interpreter.identify (run once, then read back from the layer's fingerprint): its key is
    the digest of that identity, so a layer on it is rebuilt when the interpreter changes.
    """

    def __init__(self, python, module, runner, recorded=None):  # pylint: disable=super-init-not-called
        identity = _interpreter.identify(python, runner, module, recorded)
        self.interpreter = identity
        self.python = os.path.abspath(python)
        self.root = identity["prefix"]
        self.key = digest(dict((key, identity.get(key)) for key in _interpreter.IDENTITY_KEYS))
        self.version = identity["version"]
        self.minor = ".".join(self.version.split(".")[:2])
        self.abi = identity["abi"]
        self.arch = None
        # Where its packages are: the site directory that holds its pip (Debian's is /usr/lib/python3/dist-packages,
        # not the purelib /usr/local/lib/python3.X/dist-packages), else its purelib.
        with_pip = [site for site in identity["site_dirs"] if "pip" in installed(site)]
        self.site_packages = with_pip[0] if with_pip else identity["purelib"]
        self.stdlib = identity["stdlib"]
        self.cache_tag = identity["cache_tag"]
        self.externally_managed = identity.get("externally_managed")


def runtime_for(params, module, runner, *fingerprints, **kwargs):
    """The runtime a layer module sits on: params' interpreter (a ForeignRuntime) or else params' runtime.

    fingerprints: the layer fingerprint files where the interpreter's identity may be recorded (no probe then).
    check_mode=True: the runtime params' upstream predicts, where it predicts one (Runtime).
    """
    if params.get("interpreter"):
        return ForeignRuntime(params["interpreter"], module, runner, _interpreter.recorded_identity(*fingerprints))
    return Runtime(params["runtime"], module, params.get("upstream") if kwargs.get("check_mode") else None)


def guessed_state(python, name):
    """Where a layer inside a foreign interpreter's prefix keeps its fingerprint, guessed from bin/python's place.

    Only used to find the recorded identity before the interpreter is run; a wrong guess costs one probe.
    """
    if not python:
        return os.devnull
    return os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(python))), name)


def not_there_yet(params, error):
    """In check mode: error only says an earlier task has not installed the runtime or interpreter yet."""
    if params.get("interpreter"):
        return error.code == "interpreter_unusable" and not os.path.lexists(params["interpreter"])
    return error.code == "runtime_missing"


def installed(site_dir):
    """{canonical name: (version, dist-info dir)} of the distributions in site_dir."""
    found = {}
    try:
        names = os.listdir(site_dir)
    except OSError:
        return found
    for name in names:
        match = _DIST_INFO.match(name)
        if match:
            found[canonical_name(match.group("name"))] = (match.group("version"), os.path.join(site_dir, name))
    return found


def record_paths(dist_info, outside=True):
    """Paths (absolute) of the files a distribution installed, from its RECORD.

    outside=False leaves out files outside the site directory (``pip --target``
    records its scripts relative to a temporary prefix, not to the target).
    """
    site_dir = os.path.dirname(dist_info)
    try:
        with io.open(os.path.join(dist_info, "RECORD"), encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (IOError, OSError, ValueError, csv.Error):
        return None
    paths = []
    for row in rows:
        if not row or not row[0]:
            continue
        rel = row[0]
        if rel.endswith(".pyc") or "/__pycache__/" in rel:
            continue  # pycs belong to the bytecode step, not to the installer
        if not outside and rel.startswith("../"):
            continue
        paths.append(os.path.normpath(os.path.join(site_dir, rel)))
    return paths


def drift(site_dir, expected, limit=5, outside=True):
    """Sentences naming distributions of expected {name: version} that are gone, replaced or damaged."""
    found = installed(site_dir)
    problems = []
    for name, version in sorted(expected.items()):
        have = found.get(name)
        if have is None:
            problems.append("%s %s is no longer installed" % (name, version))
            continue
        if have[0] != version:
            problems.append("%s was replaced: %s is installed instead of %s" % (name, have[0], version))
            continue
        paths = record_paths(have[1], outside)
        if paths is None:
            problems.append("%s %s has lost its file list (RECORD)" % (name, version))
            continue
        missing = [path for path in paths if not os.path.lexists(path)]
        if missing:
            shown = ", ".join(os.path.relpath(path, site_dir) for path in missing[:limit])
            problems.append("%s %s is missing %d of its files (%s%s)" % (
                name, version, len(missing), shown, ", …" if len(missing) > limit else ""))
    return problems


def python_files(site_dir, names):
    """The .py files the named distributions installed (for their bytecode)."""
    found = installed(site_dir)
    files = []
    for name in names:
        have = found.get(canonical_name(name))
        if have:
            files.extend(path for path in record_paths(have[1]) or [] if path.endswith(".py"))
    return sorted(set(files))


def outside_files(site_dir):
    """The files the distributions in site_dir installed outside it (their console scripts in bin/, say)."""
    prefix = site_dir.rstrip("/") + "/"
    files = set()
    for _version, dist_info in installed(site_dir).values():
        files.update(path for path in record_paths(dist_info) or [] if not path.startswith(prefix))
    return sorted(files)


class OutsideSnapshot:
    """A copy of the files site_dir's distributions installed outside it, under root (console scripts), kept in
    aside while site_dir changes: restore() puts them back and removes what appeared in the directories watched."""

    def __init__(self, site_dir, root, aside, watch=()):
        self.root, self.aside = root.rstrip("/"), aside
        self.files = [path for path in outside_files(site_dir) if path.startswith(self.root + "/")]
        directories = set(os.path.dirname(path) for path in self.files) | set(watch)
        self.listing = dict((directory, set(os.listdir(directory))) for directory in directories
                            if os.path.isdir(directory))
        self.discard()
        for path in self.files:
            if os.path.lexists(path):
                saved = self._saved(path)
                os.makedirs(os.path.dirname(saved), 0o700, exist_ok=True)
                shutil.copy2(path, saved, follow_symlinks=False)

    def _saved(self, path):
        return os.path.join(self.aside, os.path.relpath(path, self.root))

    def restore(self):
        for directory, names in self.listing.items():
            for name in set(os.listdir(directory)) - names:
                path = os.path.join(directory, name)
                if os.path.islink(path) or os.path.isfile(path):
                    os.unlink(path)
        for path in self.files:
            if os.path.lexists(self._saved(path)):
                if os.path.lexists(path):
                    os.unlink(path)
                os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
                shutil.copy2(self._saved(path), path, follow_symlinks=False)
        self.discard()

    def discard(self):
        shutil.rmtree(self.aside, ignore_errors=True)


def path_with(*directories):
    return ":".join([directory for directory in directories if directory] + [SAFE_PATH])
