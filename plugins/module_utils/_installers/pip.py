# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pip: requirement files, and the installer of the lists poetry and pipenv export.

pip has no lock file of its own: it installs the app's requirement files
(``-r``, includes followed by pip itself) or, with ``--no-deps``, the pinned
list another installer exported. It is the runtime's own pip
(``python -m pip``, put there by pip_tooling), never a copy in a venv: for a
venv layer it is pointed at the venv's interpreter with ``--python``.

Every install goes in with ``--no-compile`` (the layer is compiled afterwards,
in parallel) and pip's own retries. pip logs why it skipped an index page
only at debug level, so it writes a log (``--log``) to a temporary directory:
without those lines an index answering 500 looks exactly like a package that
is not on the index ("from versions: none").
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

from ansible_collections.appenv.python.plugins.module_utils import _installers, _site
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

HASH_WARNING = ("The requirements pin hashes (--hash): pip then cannot reuse wheels it built from sdists, "
                "so a rebuild builds them again. Publish wheels for them, or use the uv installer.")
_INSTALL = ["install", "--no-compile", "--disable-pip-version-check", "--no-input", "--no-warn-script-location"]
_LOCATION_ARGS = {"user": ["--user", "--ignore-installed"], "venv": [], "system": []}


class Pip(_installers.Installer):
    name = "pip"
    reads_requirements = True
    installs_with = "pip"
    cache_variable = "PIP_CACHE_DIR"
    markers = {
        "deps_index_unreachable": ("Failed to establish a new connection", "ConnectionError", "Max retries exceeded",
                                   "Server Error:", "incomplete-download", "Connection interrupted while downloading",
                                   "not enough bytes were received", "IncompleteRead", "Connection broken"),
        "deps_build_failed": ("subprocess-exited-with-error",),
        "deps_not_found": ("No matching distribution found", "Could not find a version that satisfies",
                           "ResolutionImpossible", "conflicting dependencies"),
    }

    def version(self, runtime):
        """The runtime's own pip (pip_tooling's packaging layer)."""
        have = _site.installed(runtime.site_packages).get("pip")
        if not have:
            raise AppenvError("tool_missing", tool="pip",
                              detail="the runtime %s has no pip in its site-packages" % runtime.root)
        return have[0]

    def requirement_warnings(self, walk):
        return [HASH_WARNING] if walk.hashes else []

    def install_argv(self, runtime, location, target, retries):
        argv = [runtime.python, "-m", "pip"]
        if location == "venv":
            argv += ["--python", os.path.join(target, "bin", "python")]
        argv += _INSTALL + ["--retries", str(retries)]
        if location == "target":
            return argv + ["--target", target]
        return argv + _LOCATION_ARGS[location]

    def install(self, runner, argv, cwd, env, timeout, retries=0):
        # Not in the layer's work directory: on a full layer filesystem pip could not write its log and would
        # print a logging traceback instead.
        log_dir = _temp_dir()
        log = log_dir and os.path.join(log_dir, "pip.log")
        try:
            if log_dir:
                argv = argv + ["--log", log]

            read, skipped = [0], []

            def explained(failed=None):
                # What the latest attempt logged (each attempt appends to the log).
                text = _read(log)
                if len(text) > read[0]:
                    skipped[:] = fetch_failures(text[read[0]:])
                    read[0] = len(text)
                return "\n".join([failed.output if failed else ""] + skipped)

            try:
                result = runner.run(argv, what=_installers.INSTALLING, cwd=cwd, env=env, timeout=timeout,
                                    check=False, retries=retries,
                                    retry_if=lambda failed: self.transient(explained(failed)))
            except AppenvError as exc:
                raise _with_log(exc, runner, _read(log)[read[0]:])
            explained()
            skipped = skipped if result.rc else []
        finally:
            if log_dir:
                shutil.rmtree(log_dir, ignore_errors=True)
        return argv, result, "\n".join([result.output] + skipped)


def fetch_failures(log_text, limit=5):
    """The lines of a pip log (--log) saying an index page could not be fetched, and why.

    pip logs them at debug level only: without them an index answering 500 or timing out looks exactly like a
    package that is not on the index ("from versions: none").
    """
    lines = []
    for line in log_text.splitlines():
        line = line.strip()
        if "Could not fetch URL" in line and line not in lines:
            lines.append(line)
    return lines[:limit]


def _with_log(exc, runner, log_text, limit=8):
    """exc, and when it is a timeout, with the last lines pip logged before it was stopped.

    pip's own output may still sit in its buffer when it is stopped; its log is written line by line and says
    which index it was waiting on.
    """
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    if exc.code != "command_timeout" or not lines:
        return exc
    printed = exc.fields.get("output")
    printed = "" if printed in (None, "(nothing)") else printed + "\n"
    tail = "\n".join(lines[-limit:])
    return AppenvError(exc.code, **dict(exc.fields, output=printed + "pip's log ends with:\n" + runner.mask(tail)))


def _temp_dir():
    try:
        return tempfile.mkdtemp(prefix="appenv-pip-log-")
    except (IOError, OSError):
        return None


def _read(path):
    if not path:
        return ""
    try:
        with open(path, errors="replace") as handle:
            return handle.read()
    except (IOError, OSError):
        return ""
