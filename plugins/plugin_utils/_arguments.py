# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An action plugin's check of its task's arguments, with its module's own argument spec.

python_runtime's and app_dependencies' action plugins work on the controller before the module runs (resolving a
version request, reading a mirror, pushing an archive, a controller-side layer cache). They validate the task's
arguments first, with the spec and constraints the module itself is built with (its ``module_spec()``), so a typo,
a wrong type or two exclusive options fail before that work, with the message the module would give.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

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
