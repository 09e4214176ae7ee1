#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: layer_cache_info
short_description: List the entries of a layer cache
version_added: "0.1.0"
author: appenv.python contributors (@appenv-python)
description:
  - Lists the layers kept in a layer cache (the O(appenv.python.python_runtime#module:layer_cache) option of
    M(appenv.python.python_runtime), M(appenv.python.pip_tooling) and M(appenv.python.app_dependencies)), and
    for each entry, its key, the kind of layer, where it is restored, its size, when and where it was built,
    how often it was restored and when it was last used, and totals per kind.
  - Reads the entries' metadata only; never changes, evicts or downloads an entry (C(changed) is always
    C(false)).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - appenv.python.attributes.info
options:
  path:
    description:
      - Directory on the host holding the cache (the O(appenv.python.python_runtime#module:layer_cache.path) of
        the modules).
      - For a cache kept on the controller (C(layer_cache.controller_path)), run this module delegated to the controller
        (C(delegate_to) set to C(localhost)).
      - One of O(path) and O(url) is required.
    type: path
  url:
    description:
      - Base URL of a cache on an HTTP server (the O(appenv.python.python_runtime#module:layer_cache.url) of the
        modules). The server must list its directories (nginx C(autoindex on;), in JSON with
        C(autoindex_format json;) or in HTML); a server without listings can be listed with O(path) on its cache
        directory, which has the same layout.
      - Credentials may be given in the URL or with O(url_username) and O(url_password); they are never shown.
    type: str
  url_username:
    description: User name for O(url) (HTTP basic auth).
    type: str
  url_password:
    description: Password or token for O(url) (HTTP basic auth).
    type: str
notes:
  - Hits are counted when a layer is restored. For a directory cache each restore appends to C(<key>.hits),
    so concurrent restores all count; for an HTTP cache the count is kept in the entry's metadata, and two
    restores at the same moment may count once.
seealso:
  - module: appenv.python.python_runtime
  - module: appenv.python.app_dependencies
"""

EXAMPLES = r"""
- name: List the layer cache on a volume mounted into the build
  appenv.python.layer_cache_info:
    path: /cache
  register: layer_cache

- name: Show the size of the cache and what it holds
  ansible.builtin.debug:
    msg: "{{ layer_cache.totals.entries }} layers, {{ layer_cache.totals.bytes | human_readable }}"

- name: List the layer cache on an HTTP server (nginx with WebDAV and autoindex)
  appenv.python.layer_cache_info:
    url: https://cache.example/appenv/
    url_username: builder
    url_password: "{{ layer_cache_token }}"

- name: List a cache kept on the controller
  appenv.python.layer_cache_info:
    path: ~/.cache/appenv-layers
  delegate_to: localhost
"""

RETURN = r"""
error:
  description: The titled error of a failure (C(code), C(title), C(cause), C(fault), numbered C(fixes)); docs/troubleshooting.md.
  returned: failure
  type: dict
cache:
  description: The cache listed (the URL without its credentials).
  returned: always
  type: str
  sample: https://cache.example/appenv/
entries:
  description: The entries, most recently used first.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The layer's fingerprint key (inputs, destination path, kind and layer format).
      type: str
      sample: 3e955150207d8343ccf5f68e6af3b280f9a74da5ae0c1e27685bd04bdf9fea34
    kind:
      description: The kind of layer - the module that built it (C(python_runtime), C(tool_venv)
        for the venvs of pip_tooling, C(app_dependencies)).
      type: str
      sample: python_runtime
    layer:
      description: The directory the layer is restored to.
      type: str
      sample: /opt/appenv/python
    size:
      description: Size of the entry's archive in bytes.
      type: int
      sample: 31457280
    hits:
      description: How often the entry was restored.
      type: int
      sample: 12
    built_on:
      description: Host name of the host that built the layer.
      type: str
    built_at:
      description: When the layer was built (seconds since the epoch).
      type: int
    age:
      description: Seconds since the layer was built.
      type: int
    last_used:
      description: When the entry was last stored or restored (seconds since the epoch).
      type: int
    idle:
      description: Seconds since the entry was last used.
      type: int
    complete:
      description: Whether the entry's archive is there with the size its metadata records (an incomplete
        entry is never restored; the next build of the layer replaces it).
      type: bool
totals:
  description: Totals over the entries.
  returned: always
  type: dict
  contains:
    entries:
      description: Number of entries.
      type: int
    bytes:
      description: Bytes of all archives.
      type: int
    hits:
      description: Restores of all entries.
      type: int
    incomplete:
      description: Entries that are not complete.
      type: int
    kinds:
      description: Entries, bytes and hits per kind of layer.
      type: dict
      sample: {"python_runtime": {"entries": 2, "bytes": 62914560, "hits": 7}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.appenv.python.plugins.module_utils._layer_cache_info import info
from ansible_collections.appenv.python.plugins.module_utils._module import run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            url=dict(type="str"),
            url_username=dict(type="str"),
            url_password=dict(type="str", no_log=True),
        ),
        mutually_exclusive=[["path", "url"]],
        required_one_of=[["path", "url"]],
        supports_check_mode=True,
    )
    run_module(module, info)


if __name__ == "__main__":
    main()
