# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller half of pyc_compile: none. Ansible's own module run, through the collection's one payload, with the
arguments checked first and the garbage collector off while Ansible builds the payload (plugin_utils/_arguments.py)."""

from __future__ import annotations

from ansible_collections.appenv.python.plugins.plugin_utils._arguments import ModuleRunAction


class ActionModule(ModuleRunAction):
    NAME = "pyc_compile"
