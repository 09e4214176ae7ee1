# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  lock_timeout:
    description:
      - Seconds to wait for another appenv.python run on the same layer to finish (runs on one host are
        serialised by a lock next to the layer).
    type: int
    default: 600
"""

    # Steps that download or install: python_runtime, pip_tooling, app_dependencies.
    NETWORK = r"""
options:
  timeout:
    description: Seconds a single step (a download, an installer run) may take before it is stopped.
    type: int
    default: 900
  retries:
    description: Extra attempts, with exponential backoff, for steps that use the network.
    type: int
    default: 3
"""
