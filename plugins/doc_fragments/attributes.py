# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The attributes every layer module shares (python_runtime, pip_tooling, app_dependencies, pyc_compile). Their
    # descriptions come from ansible.builtin.action_common_attributes, which a module lists before this fragment;
    # a module adds its action_group membership (meta/runtime.yml) and anything it does differently.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    details:
      - Predicts what a real run would do - the same RV(layer_action) and RV(reasons), task by task - and writes nothing
        on the host, not even a lock file.
  diff_mode:
    support: full
    details: The inputs of the layer's fingerprint before and after the run.
  platform:
    platforms: posix
    details: Linux hosts with glibc (Debian 12 and 13 are tested), x86_64 and aarch64.
"""

    # The one module that only reads (layer_cache_info).
    INFO = r"""
attributes:
  check_mode:
    support: full
    details: It changes nothing in either mode.
  diff_mode:
    support: N/A
    details: It changes nothing, so there is no difference to show.
  platform:
    platforms: posix
"""

    # The modules with an action plugin that works on the controller (python_runtime, app_dependencies).
    ACTION = r"""
attributes:
  action:
    support: full
    details: The module's work runs on the host as M(appenv.python.engine), which holds every module of this
      collection, so a run builds one payload for all of them.
  async:
    support: none
  bypass_host_loop:
    support: none
"""

    # The modules whose action plugin only runs the module, as Ansible's own (ansible.builtin.normal) does (pip_tooling,
    # pyc_compile): through appenv.python.engine (one payload a run for the collection's modules,
    # plugins/plugin_utils/_engine.py), with the controller's garbage collector paused while Ansible builds it
    # (plugins/plugin_utils/_worker_gc.py); nothing of the task is decided on the controller.
    RUNS_MODULE = r"""
attributes:
  action:
    support: full
    details:
      - The action plugin only runs the module, as Ansible's own does; no option is handled on the controller.
      - The module's work runs on the host as M(appenv.python.engine), which holds every module of this collection, so
        a run builds one payload for all of them.
  async:
    support: full
  bypass_host_loop:
    support: none
"""
