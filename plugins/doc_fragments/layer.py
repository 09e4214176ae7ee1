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
    description:
      - Extra attempts, waiting 1, 2, 4... seconds between them, for steps that use the network.
      - A download (a runtime archive) is tried again after a connection error, a timeout or an HTTP
        (408, 429, 5xx) answer, waiting longer when it says Retry-After; never after a 404 or 403.
      - An install (the packaging tools, a tool venv, the app's dependencies with any installer) is run again
        after a timeout or a failure its output shows to be the network or the index briefly out of reach
        (connection refused or reset, name resolution, an HTTP 5xx answer); a failure that is not the network
        (a package not found, a build error, a full disk, a proxy or certificate refused) is not retried.
      - pip also gets C(--retries) for its own connection retries.
    type: int
    default: 3
"""
