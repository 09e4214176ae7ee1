# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  layer_cache:
    description:
      - A layer cache for hosts that are new every build (image pipelines). Before building, the layer is
        looked up there by its fingerprint key (inputs, destination path, architecture, C library,
        distribution, Python version); a hit is restored after its sha256 is checked
        (RV(action=restored)) instead of being rebuilt. After a build the layer is stored there.
      - A corrupt or truncated entry is discarded and the layer is built. A cache that cannot be written
        (read-only, full) gives a warning; the build still succeeds.
    type: dict
    suboptions:
      path:
        description:
          - Directory on the target holding the cache (for example a volume mounted into the build).
          - One of O(layer_cache.path) and O(layer_cache.controller_path) is required.
        type: path
      controller_path:
        description:
          - Directory on the controller holding the cache. Entries are moved over the Ansible connection,
            so nothing but Ansible is needed; the transfer happens only when the layer must be built.
        type: path
      max_size_mb:
        description: Evict least recently used entries when the cache grows above this size.
        type: int
      max_age_days:
        description: Evict entries not used for this many days.
        type: int
"""
