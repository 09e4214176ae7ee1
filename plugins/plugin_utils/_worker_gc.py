# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cyclic garbage collector off while an action plugin runs its module, and for the rest of a worker process.

Ansible runs each task in a worker process forked from ``ansible-playbook`` that ends with the task. The first task of
a module in a run builds the module's AnsiballZ payload there: Ansible parses every module_util the module can import
(about 100 files, 0.9 MB of source for app_dependencies) into syntax trees, millions of objects the collector tracks
and walks again and again, together with everything the worker inherited (plays, inventory, variables). Measured in
the worker of an app_dependencies no-op (docs/performance.md, issue 21): 235 ms of CPU with the collector on, 172 ms
with it off for the rest of the worker; 289 ms and 174 ms as the first of 20 tasks (a larger play, a larger heap).
Turning it back on when the action ends keeps most of that cost: its first collection walks all that the pause let
accumulate (211 ms).

Nothing a task does needs the collector: the syntax trees and the task's other objects are freed by reference
counting as they go, and whatever cyclic garbage is left goes when the worker exits. In any other process (the
controller's own, a test) the collector is turned back on when the block ends.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import gc
import multiprocessing

from ansible.plugins.action.normal import ActionModule as NormalAction


def in_worker_process():
    """Whether this is a child process of multiprocessing, as Ansible's task workers are."""
    return multiprocessing.parent_process() is not None


@contextlib.contextmanager
def collector_paused():
    """The collector off for the with block; in a task's worker process it stays off (the worker ends with the task),
    elsewhere it is turned back on after the block (an error included) if it was on before."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled and not in_worker_process():
            gc.enable()


class ModuleRunAction(NormalAction):
    """The action plugin of a module with nothing to do on the controller (pip_tooling, pyc_compile): Ansible's own
    module run (ansible.builtin.normal: check mode, async and the rest as without a plugin), with the collector off.
    The plugin exists for the first task of the module in a run, whose worker builds the module's payload."""

    def run(self, tmp=None, task_vars=None):
        with collector_paused():
            return super(ModuleRunAction, self).run(tmp, task_vars)
