# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller half of app_code: list src, run the module with the listing's digest, and send the tree only when
the module says the code must be written (plugin_utils/_code_tree.py; the host's half is module_utils/_code.py)."""

from __future__ import annotations

import os
import shutil
import tempfile

from ansible.errors import AnsibleError

from ansible_collections.appenv.python.plugins.module_utils._code import listing_digest
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.plugin_utils._arguments import ControllerAction
from ansible_collections.appenv.python.plugins.plugin_utils._code_tree import list_tree, pack

MODULE = "appenv.python.app_code"


class ActionModule(ControllerAction):
    NAME = "app_code"

    def run_checked(self, result, args, task_vars):
        try:
            src = self._source(args["src"])
            listing = list_tree(src)
        except AppenvError as error:
            result.update(error.as_result(), failed=True, changed=False)
            return result
        args["_files_digest"] = listing_digest(listing)
        if self._task.check_mode or self._task.diff:
            args["_listing"] = listing
        first = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        if not first.get("needs_content"):
            result.update(first)
            return result
        result.update(self._send_and_write(src, listing, dict(args, _listing=listing), task_vars))
        return result

    def _source(self, src):
        """src on the controller, looked up as ansible.builtin.copy looks up its src (a role's files/ first)."""
        try:
            return self._find_needle("files", src)
        except AnsibleError as exc:
            raise AppenvError("bad_argument", option="src", module="app_code", detail=str(exc))

    def _send_and_write(self, src, listing, args, task_vars):
        local = tempfile.mkdtemp(prefix="appenv-code-")
        remote_tmp = None
        try:
            archive = os.path.join(local, "code.tar")
            pack(src, listing, archive)
            remote_tmp = self._make_tmp_path()
            remote = self._connection._shell.join_path(remote_tmp, "code.tar")
            self._transfer_file(archive, remote)
            self._fixup_perms2([remote_tmp, remote])
            return self._execute_module(module_name=MODULE, module_args=dict(args, _archive=remote),
                                        task_vars=task_vars)
        finally:
            shutil.rmtree(local, ignore_errors=True)
            if remote_tmp:
                self._remove_tmp_path(remote_tmp)
