# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""poetry: ``poetry.lock`` beside ``pyproject.toml``, exported and installed by pip.

poetry runs from its own venv (pip_tooling installs it there with
``poetry-plugin-export``). It never installs into the layer itself: its
installer has no ``--no-compile`` and knows only venvs, so the lock is
exported (``poetry export --format requirements.txt``, hashes included) and
pip installs that list with ``--no-deps`` - the lock decides the set, and every
location works the same as for requirement files.

Groups are poetry's ``--with`` groups (``dev`` among them), extras its
``--extras``. The export runs in the project directory with
``POETRY_NO_INTERACTION`` so a question never waits for an answer. A lock
that no longer matches ``pyproject.toml`` is refused first (``poetry check
--lock``), as ``poetry install`` refuses it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.appenv.python.plugins.module_utils import _installers


class Poetry(_installers.Installer):
    name = "poetry"
    lock_file = _installers.lock_file_of("poetry")
    project_file = "pyproject.toml"
    installs_with = "pip"
    cache_variable = "POETRY_CACHE_DIR"
    settings = {"POETRY_NO_INTERACTION": "1"}
    lock_check = ("check", "--lock", "--no-interaction", "--no-ansi")
    stale_marker = "poetry.lock was last generated"
    relock = "poetry lock"
    lock_options = ("groups", "extras")

    def export(self, runner, project_dir, output, groups, extras, env):
        argv = [self.executable(), "export", "--format", "requirements.txt", "--output", output,
                "--no-interaction", "--no-ansi"]
        for group in groups:
            argv += ["--with", group]
        for extra in extras:
            argv += ["--extras", extra]
        runner.run(argv, what="Reading poetry.lock (poetry export)", cwd=project_dir, env=env,
                   fault="deps_install_failed")
