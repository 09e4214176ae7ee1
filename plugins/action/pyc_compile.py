# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller half of pyc_compile: none. Ansible's own module run, with the garbage collector off while Ansible builds the
module's payload (plugin_utils/_worker_gc.py)."""

from __future__ import annotations

from ansible_collections.appenv.python.plugins.plugin_utils._worker_gc import ModuleRunAction


class ActionModule(ModuleRunAction):
    pass
