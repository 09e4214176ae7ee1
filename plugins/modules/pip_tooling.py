#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pip_tooling
short_description: Install pip, setuptools, wheel and the app's package manager (uv, poetry, pipenv) on a runtime
version_added: "0.1.0"
author: appenv.python contributors (@appenv-python)
description:
  - Installs pip, setuptools and wheel at pinned versions into the runtime's own site-packages. pip is
    bootstrapped from the wheel the runtime bundles (C(ensurepip/_bundled)), without network; versions the
    bundle holds are installed with C(--no-index). Everything is installed with C(--no-compile), then compiled
    C(unchecked-hash) in parallel by the runtime itself.
  - Installs each tool of O(tools) (uv, poetry, pipenv) into its own virtual environment under O(tools_dir)
    (C(--symlinks --system-site-packages --without-pip), installed with the runtime's C(python -m pip)) and
    returns the path of its executable.
  - Each part is a layer with a fingerprint of the runtime's fingerprint, the tool names and versions, and the
    index options. A no-op run starts no pip process. A new runtime, another version, or files deleted by hand
    reinstall what is affected, with the reason in RV(reasons).
  - With O(layer_cache), both parts are cached. The tool venvs are stored as directories; the packaging tools
    are stored as the files they add to the runtime (the C(RECORD) entries of pip, setuptools, wheel and the
    distributions they require, C(bin/pip*) included, and their pycs). Restoring them moves the runtime's own pip (and setuptools and wheel) aside,
    as C(pip install) would uninstall them, moves the cached files in, checks them, and only then drops the
    old files; a failure puts the old ones back. Their key holds the runtime's fingerprint key (which holds
    its path, version and architecture), the versions, the index options and the bytecode setting.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.actiongroups
  - appenv.python.attributes
  - appenv.python.attributes.runs_module
  - appenv.python.interpreter
  - appenv.python.layer
  - appenv.python.layer.upstream
  - appenv.python.layer.switch
  - appenv.python.layer.network
  - appenv.python.layer_cache
  - appenv.python.index
attributes:
  action_group:
    support: full
    membership: [appenv.python.layer, appenv.python.network, appenv.python.index]
requirements:
  - On the host, a runtime installed by M(appenv.python.python_runtime), or the CPython 3.8 or later of O(interpreter)
    with its C(venv) module (Debian C(python3-venv)) and pip (Debian C(python3-pip)).
options:
  runtime:
    description:
      - Directory of the runtime installed by M(appenv.python.python_runtime) (its O(appenv.python.python_runtime#module:dest)).
      - Not used when O(interpreter) is set.
    type: path
    default: /opt/appenv/python
  pip:
    description: Version of pip to install into the runtime. An empty string leaves pip as the runtime ships it.
    type: str
    default: "26.3"
  setuptools:
    description: Version of setuptools to install into the runtime. An empty string installs none.
    type: str
    default: "84.2.1"
  wheel:
    description: Version of wheel to install into the runtime. An empty string installs none.
    type: str
    default: "0.48.0"
  tools:
    description: Package managers to install, each in its own venv.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The tool.
        type: str
        required: true
        choices: [uv, poetry, pipenv]
      version:
        description: Its version (default uv 0.13.9, poetry 2.5.1, pipenv 2026.10.3).
        type: str
      with:
        description:
          - Requirements installed into the tool's venv beside it (plugins). Poetry gets C(poetry-plugin-export)
            by default, which M(appenv.python.app_dependencies) uses to read C(poetry.lock).
        type: list
        elements: str
  tools_dir:
    description: Directory holding one venv per tool (C(<tools_dir>/<name>)).
    type: path
    default: /opt/appenv/tools
  compile_bytecode:
    description: Compile the tools' bytecode (C(unchecked-hash), parallel) after installing them with C(--no-compile).
    type: bool
    default: true
  bytecode_workers:
    description: Processes compiling bytecode; 0 means one per CPU.
    type: int
    default: 0
"""

EXAMPLES = r"""
- name: Pinned pip, setuptools, wheel and uv on the runtime
  appenv.python.pip_tooling:
    runtime: /opt/appenv/python
    tools:
      - name: uv

- name: Poetry from a private index
  appenv.python.pip_tooling:
    tools:
      - name: poetry
        version: "2.5.1"
    index_url: https://pypi.example.internal/simple
    index_username: build
    index_password: "{{ vault_index_password }}"

- name: A runtime, then its tools; in check mode the second task predicts from the first one's result
  appenv.python.python_runtime:
    version: "3.12"
  register: runtime

- name: Tools on that runtime
  appenv.python.pip_tooling:
    upstream: "{{ runtime }}"
    tools:
      - name: uv
"""

RETURN = r"""
error:
  description: The titled error of a failure (C(code), C(title), C(cause), C(fault), numbered C(fixes)); docs/troubleshooting.md.
  returned: failure
  type: dict
action:
  description: Deprecated (removed in 0.3.0), the same as RV(layer_action); Ansible's JSON callbacks overwrite it.
  returned: success
  type: str
layer_action:
  description: C(kept) when every part was already in place, else the strongest action of the parts.
  returned: success
  type: str
reasons:
  description: Why each part was (re)installed, prefixed with the part's name.
  returned: success
  type: list
  elements: str
layers:
  description:
    - Per part (C(packaging) and each tool), its C(name), C(layer_action) (and the deprecated C(action)), C(reasons),
      C(layer) and C(fingerprint).
    - A tool's venv is a switched layer (O(keep_previous)); its entry also has C(live_version), the version directory
      C(<tools_dir>/<name>) points at (in check mode, would point at).
  returned: success
  type: list
  elements: dict
interpreter:
  description: The runtime's interpreter.
    The same name as python_runtime's RV(appenv.python.python_runtime#module:interpreter) and the O(interpreter) option.
  returned: success
  type: str
python:
  description: Deprecated, removed in 0.3.0 - the same value as RV(interpreter).
  returned: success
  type: str
packages:
  description: Versions of pip, setuptools and wheel in the runtime.
  returned: success
  type: dict
tools:
  description: Per tool, its version, venv and executable.
  returned: success
  type: dict
  sample: {"uv": {"version": "0.13.9", "venv": "/opt/appenv/tools/uv", "executable": "/opt/appenv/tools/uv/bin/uv"}}
runtime:
  description:
    - The runtime the layers sit on, in the words of M(appenv.python.python_runtime)'s result (C(dest),
      C(fingerprint), C(python_version), C(arch), C(variant), C(layer_action) and the deprecated C(action)), read
      from the host or, in check mode, predicted by O(upstream). The next task of a chain takes this result as its O(upstream).
  returned: success
  type: dict
  sample: {"dest": "/opt/appenv/python", "fingerprint": "3f1c…", "python_version": "3.11.2", "arch": "x86_64",
           "variant": "default", "layer_action": "kept", "action": "kept"}
commands:
  description: Every command the run started (none for a no-op), secrets masked.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.appenv.python.plugins.module_utils._modules import run, spec


def main():
    run("pip_tooling", AnsibleModule(**spec("pip_tooling")))


if __name__ == "__main__":
    main()
