# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pipenv: ``Pipfile.lock`` beside ``Pipfile``, exported and installed by pip.

pipenv runs from its own venv (pip_tooling installs it there). Its own
``sync`` installs into a venv it manages and would compile as it goes, so the
lock is exported instead (``pipenv requirements --hash``, printed on stdout)
and pip installs that list with ``--no-deps``: every location works, and the
bytecode is compiled afterwards like for every installer.

Groups are Pipfile categories: ``packages`` always, each group named, and
``dev`` meaning ``dev-packages``. pipenv is told which Pipfile to read
(``PIPENV_PIPFILE``) and to ignore any venv it finds itself in. A
``Pipfile.lock`` whose hash of the Pipfile no longer matches is refused first
(``pipenv verify``), as ``pipenv install --deploy`` refuses it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.appenv.python.plugins.module_utils import _installers


class Pipenv(_installers.Installer):
    name = "pipenv"
    lock_file = _installers.lock_file_of("pipenv")
    project_file = "Pipfile"
    installs_with = "pip"
    cache_variable = "PIPENV_CACHE_DIR"
    settings = {"PIPENV_VERBOSITY": "-1", "PIPENV_IGNORE_VIRTUALENVS": "1"}
    lock_check = ("verify",)
    stale_marker = "out-of-date"
    relock = "pipenv lock"
    lock_options = ("groups",)

    @classmethod
    def environment(cls, cache_root, project_dir):
        env = super(Pipenv, cls).environment(cache_root, project_dir)
        env["PIPENV_PIPFILE"] = os.path.join(project_dir, cls.project_file)
        return env

    def export(self, runner, project_dir, output, groups, extras, env):
        argv = [self.executable(), "requirements", "--hash"]
        if groups:
            argv += ["--categories", " ".join(["packages"] + [group for group in groups if group != "dev"]
                                              + (["dev-packages"] if "dev" in groups else []))]
        result = runner.run(argv, what="Reading Pipfile.lock (pipenv requirements)", cwd=project_dir, env=env,
                            fault="deps_install_failed")
        with open(output, "w") as handle:
            handle.write(result.stdout)
