# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller half of app_dependencies: the controller-side layer cache.

With ``layer_cache.controller_path`` the dependency layer is looked up in a
cache on the controller and moved over the connection (see
plugin_utils/_controller_cache.py); otherwise the module runs as it is.
"""

from __future__ import annotations


from ansible_collections.appenv.python.plugins.plugin_utils._arguments import ControllerAction
from ansible_collections.appenv.python.plugins.plugin_utils._controller_cache import run_module_with_controller_cache

MODULE = "appenv.python.app_dependencies"


class ActionModule(ControllerAction):
    NAME = "app_dependencies"

    def run_checked(self, result, args, task_vars):
        cache = args.get("layer_cache") or {}
        if cache.get("controller_path"):
            result.update(run_module_with_controller_cache(self, MODULE, args, task_vars, cache))
        else:
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        return result
