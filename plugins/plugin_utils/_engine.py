# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugins run their module's host side through one module, appenv.python.engine.

Ansible builds a module's AnsiballZ payload in the task's worker on the first task of that module in a run: it
parses every module_util the module can import, 0.17-0.24 s of CPU for ours (0.09 s for
``ansible.builtin.command``), on the task's way. Run as the engine with the module's name
(``module_utils/_modules.py``), every module of the collection shares one payload: a play of the runtime, the
tools and the dependencies builds it once, not three times, and a run after the first builds none (the payload is
kept on the controller, ``_payload_cache.py``; docs/performance.md, issue 16).
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.appenv.python.plugins.module_utils._modules import ENGINE, NAMES, SELECTOR
from ansible_collections.appenv.python.plugins.plugin_utils import _payload_cache

_COLLECTION = "appenv.python."


def engine_call(module_name, module_args):
    """(module name, arguments) to run module_name with module_args: the engine with the module's name for the
    collection's modules, the same for any other."""
    short = module_name[len(_COLLECTION):] if module_name.startswith(_COLLECTION) else None
    if short not in NAMES:
        return module_name, module_args
    return ENGINE, dict(module_args, **{SELECTOR: short})


class EngineAction(ActionBase):
    """An action plugin whose runs of this collection's modules go through the engine (one payload a run).

    NAME: the module the plugin is the action of (its short name: pip_tooling), whose spec checks the task's arguments.
    """

    NAME = None

    def _execute_module(self, module_name=None, module_args=None, *args, **kwargs):
        module_args = self._task.args if module_args is None else module_args
        if module_name is None:  # the task's own module
            module_name = _COLLECTION + self.NAME
        name, module_args = engine_call(module_name, module_args)
        if name != ENGINE:
            return super(EngineAction, self)._execute_module(name, module_args, *args, **kwargs)
        _payload_cache.seed()
        try:
            return super(EngineAction, self)._execute_module(name, module_args, *args, **kwargs)
        finally:
            _payload_cache.keep()

    def _update_module_args(self, module_name, module_args, *args, **kwargs):
        super(EngineAction, self)._update_module_args(module_name, module_args, *args, **kwargs)
        if module_name == ENGINE and module_args.get(SELECTOR) in NAMES:
            # What the module calls itself (its messages, its syslog name): the module the task runs.
            module_args["_ansible_module_name"] = _COLLECTION + module_args[SELECTOR]
