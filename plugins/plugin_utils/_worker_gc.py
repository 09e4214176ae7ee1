# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cyclic garbage collector off while an action plugin runs its module.

Ansible runs each task in a worker process forked from ``ansible-playbook`` that ends with the task. The first task of
a module in a run builds the module's AnsiballZ payload there: Ansible parses every module_util the module can import
(about 100 files, 0.9 MB of source for app_dependencies) into syntax trees, millions of objects that the collector
tracks and walks again and again, together with everything the worker inherited (plays, inventory, variables).
Measured in the worker of an app_dependencies no-op (docs/performance.md, issue 21): 235 ms of CPU with the collector
on, 172 ms with it off for the rest of the worker. Turning it back on when the action ends kept little of that (211
ms): its first collection walked the inherited heap and all the pause let accumulate. So, in a worker, what exists
when the block ends is frozen first (gc.freeze: never walked again in that process) and the collector goes back on
for what comes after (the next items of a loop). What the freeze keeps is the block's cyclic garbage (the module
lookups' exceptions and their frames): about 11 MB more at the worker's peak, once, for a process that ends with
the task. In any other process (the controller's own, a test) nothing is frozen.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import gc
import multiprocessing


def in_worker_process():
    """Whether this is a child process of multiprocessing, as Ansible's task workers are."""
    return multiprocessing.parent_process() is not None


@contextlib.contextmanager
def collector_paused():
    """The collector off for the with block, back on after it (an error included) if it was on before; in a task's
    worker process, what exists then is frozen first, once (the first block: the one that builds the payload)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if in_worker_process() and not gc.get_freeze_count():
            gc.freeze()
        if enabled:
            gc.enable()
