# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""uv: ``uv.lock`` beside ``pyproject.toml``, or requirement files, installed by ``uv pip``.

uv runs from its own venv (pip_tooling installs it there). With ``uv.lock``
(and no requirement files named) the lock is exported
(``uv export --locked``: a lock that no longer matches ``pyproject.toml``
is refused, as ``uv sync --locked`` refuses it; hashes included, the
project itself left out) and ``uv pip install --no-deps`` installs it; with
requirement files, ``uv pip install`` is a faster drop-in for pip.

uv is pointed at the runtime's interpreter for every location and never
downloads a Python of its own (``UV_PYTHON_DOWNLOADS=never``); it compiles
nothing unless asked, so the layer is compiled afterwards like for pip.

Check mode runs the same ``uv export --locked`` to standard output, so a
stale lock is predicted as the real run fails on it.

Groups: ``dev`` is uv's development group (left out otherwise,
``--no-dev``), any other is a ``--group``; extras are ``--extra``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.appenv.python.plugins.module_utils import _installers


class Uv(_installers.Installer):
    name = "uv"
    lock_file = _installers.lock_file_of("uv")
    project_file = "pyproject.toml"
    reads_requirements = True
    installs_with = "uv"
    cache_variable = "UV_CACHE_DIR"
    settings = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    stale_marker = "needs to be updated"
    relock = "uv lock"
    lock_options = ("groups", "extras")
    markers = {
        "deps_index_unreachable": ("Failed to fetch", "error sending request", "HTTP status server error"),
        "deps_build_failed": ("Failed to prepare distributions", "Build backend failed"),
        "deps_not_found": ("was not found in the package registry", "not found in the provided package locations",
                           "No solution found when resolving"),
    }

    def export(self, runner, project_dir, output, groups, extras, env):
        argv = [self.executable(), "export", "--locked", "--format", "requirements.txt", "--no-emit-project",
                "--no-progress", "--output-file", output]
        if "dev" not in groups:
            argv.append("--no-dev")
        for group in groups:
            if group != "dev":
                argv += ["--group", group]
        for extra in extras:
            argv += ["--extra", extra]
        result = runner.run(argv, what="Reading uv.lock (uv export)", cwd=project_dir, env=env, check=False)
        self.refuse_stale(runner, project_dir, argv, result)

    def check_lock(self, runner, project_dir, env, read_only=False):
        # The export refuses a stale lock (--locked) in a real run; check mode runs the check alone (to stdout).
        if read_only:
            argv = [self.executable(), "export", "--locked", "--format", "requirements.txt", "--no-emit-project",
                    "--no-progress"]
            result = runner.run(argv, env=env, cwd=project_dir, check=False,
                                what="Checking that %s matches %s" % (self.lock_file, self.project_file))
            self.refuse_stale(runner, project_dir, argv, result)

    def install_argv(self, runtime, location, target, retries):
        argv = [self.executable(), "pip", "install"]
        if location == "venv":
            return argv + ["--python", os.path.join(target, "bin", "python")]
        argv += ["--python", runtime.python]
        return argv + {"user": ["--prefix", target], "target": ["--target", target],
                       "system": ["--system", "--break-system-packages"]}[location]
