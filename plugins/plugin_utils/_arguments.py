# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An action plugin's check of its task's arguments, with its module's own argument spec.

The action plugins of python_runtime, app_dependencies and app_code work on the controller before the module runs
(resolving a version request, reading a mirror, pushing an archive or the app's code, a controller-side layer cache).
They validate the task's arguments first, with the spec and constraints the module itself is built with
(``module_utils/_modules.spec``), so a typo,
a wrong type or two exclusive options fail before that work, with the message the module would give.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action.normal import ActionModule as NormalAction

from ansible_collections.appenv.python.plugins.module_utils._modules import spec
from ansible_collections.appenv.python.plugins.plugin_utils._engine import EngineAction
from ansible_collections.appenv.python.plugins.plugin_utils._worker_gc import collector_paused

CONSTRAINTS = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")


def invalid_arguments(module_name, module_spec, args):
    """None when args suit the module, else the failed result the module would return for them.

    module_name: the module as the task names it (the module's own message names it so); module_spec: its
    AnsibleModule keyword arguments (argument_spec and the constraints); args: the task's arguments.
    """
    validator = ArgumentSpecValidator(module_spec["argument_spec"],
                                      **{key: module_spec[key] for key in CONSTRAINTS if key in module_spec})
    errors = validator.validate(dict(args)).errors
    if not errors.errors:  # an AnsibleValidationErrorMultiple is true even when empty
        return None
    msg = errors.msg
    if isinstance(errors[0], UnsupportedError):  # worded as AnsibleModule words it
        msg = "Unsupported parameters for (%s) module: %s" % (module_name, msg)
    return {"failed": True, "changed": False, "msg": msg}


class ControllerAction(EngineAction):
    """The action plugin of a module with work on the controller (python_runtime, app_dependencies, app_code).

    The module's host side runs through the engine (_engine: one payload a run for every module of the collection),
    the collector is paused while the worker builds the payload (_worker_gc), and the task's arguments are
    checked with the module's own spec before any controller work; ``run_checked(result, args,
    task_vars)`` does the rest and returns the task's result. No remote temporary directory is made up front: a
    file sent to the host gets one only when it must be sent, so a no-op costs no mkdir/rm round trips.
    """

    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        with collector_paused():
            task_vars = task_vars or {}
            result = super(ControllerAction, self).run(tmp, task_vars)
            args = dict(self._task.args)
            invalid = invalid_arguments(self._task.action, spec(self.NAME), args)
            if invalid:
                result.update(invalid)
                return result
            return self.run_checked(result, args, task_vars)

    def run_checked(self, result, args, task_vars):
        raise NotImplementedError


class ModuleRunAction(EngineAction, NormalAction):
    """The action plugin of a module with nothing to do on the controller (pip_tooling, pyc_compile): Ansible's own
    module run (ansible.builtin.normal: check mode, async and the rest as without a plugin) of the module's host side
    through the engine (_engine: one payload a run for every module of the collection), with the collector off and the
    task's arguments checked first with the module's own spec (the engine's own check would name the engine)."""

    def run(self, tmp=None, task_vars=None):
        with collector_paused():
            invalid = invalid_arguments(self._task.action, spec(self.NAME), dict(self._task.args))
            if invalid:
                return invalid
            return super(ModuleRunAction, self).run(tmp, task_vars)
