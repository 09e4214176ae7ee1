#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: engine
short_description: The host side of this collection's modules, one payload for all (run by their action plugins)
version_added: "0.3.0"
author: appenv.python contributors (@appenv-python)
description:
  - Not for plays. The action plugins of M(appenv.python.python_runtime), M(appenv.python.pip_tooling),
    M(appenv.python.app_dependencies), M(appenv.python.pyc_compile) and M(appenv.python.app_code) run their
    module's work on the host through this module, with the task's arguments (checked with the module's own
    options) and the module's name.
  - Ansible builds a module's payload (every module_util it can import, parsed on the controller) on the first
    task of that module in a run. With one module for all, a play of the runtime, the tools, the dependencies and
    the bytecode builds it once instead of once a module; each run on the host still imports only what its
    module needs.
  - Run by hand it takes no options and fails, naming the modules to use.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
requirements:
  - What the module it runs needs (see that module).
attributes:
  check_mode:
    support: full
    details: As the module it runs.
  diff_mode:
    support: full
    details: As the module it runs.
  platform:
    platforms: posix
options: {}
notes:
  - With C(ANSIBLE_KEEP_REMOTE_FILES) or without pipelining, the file run on the host is C(AnsiballZ_engine.py)
    for every module of this collection.
seealso:
  - module: appenv.python.python_runtime
  - module: appenv.python.app_dependencies
"""

EXAMPLES = r"""
# Not for plays: use the modules it runs, for example
- name: Install the runtime (its action plugin runs appenv.python.engine on the host)
  appenv.python.python_runtime:
    version: "3.12"
"""

RETURN = r"""
error:
  description:
    - The titled error of a failure of the module it runs (C(code), C(title), C(cause), C(fault), numbered C(fixes));
      docs/troubleshooting.md. Each module's result, this one included, is documented on that module's page.
  returned: failure
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, _load_params

from ansible_collections.appenv.python.plugins.module_utils import _pycache


def main():
    params = _load_params() or {}
    # Before the collection's other module_utils are imported: their compiled code is kept (never in check mode,
    # which writes nothing on the host).
    _pycache.install(store=not params.get("_ansible_check_mode"))
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.appenv.python.plugins.module_utils._modules import (
        ENGINE, NAMES, SELECTOR, engine_spec, run)

    name = params.get(SELECTOR)
    if name not in NAMES:
        module = AnsibleModule(argument_spec={}, supports_check_mode=True)
        module.fail_json(msg="%s runs the host side of this collection's modules for their action plugins: use the "
                             "modules (%s)" % (ENGINE, ", ".join(NAMES)))
    run(name, AnsibleModule(**engine_spec(name)))


if __name__ == "__main__":
    main()
