# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  index_url:
    description:
      - Base URL of the package index (PEP 503 simple API) instead of the installer's default or the host's
        pip configuration.
      - Credentials may be given in the URL or with O(index_username) and O(index_password); they are used for the
        commands and never appear in results, logs, fingerprints or error messages.
    type: str
  extra_index_urls:
    description: More indexes to search.
    type: list
    elements: str
    default: []
  find_links:
    description: Directories or URLs of distribution files to search as well.
    type: list
    elements: str
    default: []
  index_username:
    description: User name for O(index_url) and O(extra_index_urls).
    type: str
  index_password:
    description: Password or token for O(index_url) and O(extra_index_urls).
    type: str
"""
