# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller half of pip_tooling: Ansible's own module run (ansible.builtin.normal), with the garbage collector off.

Nothing of the task is decided on the controller. The plugin exists because the first pip_tooling task of a run makes
Ansible build the module's payload in the task's worker process, which costs tens of milliseconds of controller CPU
less with the collector off (plugin_utils/_worker_gc.py).
"""

from __future__ import annotations

from ansible.plugins.action.normal import ActionModule as NormalAction

from ansible_collections.appenv.python.plugins.plugin_utils._worker_gc import collector_paused


class ActionModule(NormalAction):
    def run(self, tmp=None, task_vars=None):
        with collector_paused():
            return super(ActionModule, self).run(tmp, task_vars)
