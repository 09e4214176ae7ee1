#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: app_dependencies
short_description: Install an app's dependencies with pip, uv, poetry or pipenv, reinstalling only when an input changed
version_added: "0.1.0"
author: appenv.python contributors (@appenv-python)
description:
  - Installs the packages an app needs on a runtime installed by M(appenv.python.python_runtime), with the
    installer the app's files call for (C(requirements.txt) - pip, C(poetry.lock) - poetry, C(Pipfile.lock) - pipenv,
    C(uv.lock) - uv) or the one O(installer) names. Files of more than one installer are an error, never a guess.
  - Lock files are read by their own tool (C(poetry export), C(pipenv requirements --hash), C(uv export --frozen))
    into a fully pinned, hash-checked list installed with C(--no-deps). Requirement files are installed by pip, or by
    C(uv pip install) with O(installer=uv). uv, poetry and pipenv come from M(appenv.python.pip_tooling).
  - The fingerprint holds the runtime's fingerprint, the installer and its version, the content of every requirement
    input (C(-r)/C(-c) includes followed recursively, relative to the including file, cycles refused; lock and
    project files), the location and the install options (index URLs without credentials). Unchanged inputs and
    an intact layer are RV(layer_action=kept) and no installer starts. A changed input rebuilds from empty (removed
    packages and dropped dependencies are gone) with reasons naming what changed. A package deleted or replaced by
    hand is detected from the installed distributions and repaired.
  - A failed install gives a titled error with the installer's own message and leaves the previous environment in
    place. After the install, C(pip check) fails the task when requirements conflict.
  - Packages are installed with C(--no-compile), then compiled in parallel by the runtime (O(invalidation_mode)).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.actiongroups
  - appenv.python.attributes
  - appenv.python.attributes.action
  - appenv.python.interpreter
  - appenv.python.layer
  - appenv.python.layer.state
  - appenv.python.layer.switch
  - appenv.python.layer.upstream
  - appenv.python.layer.network
  - appenv.python.layer_cache
  - appenv.python.index
attributes:
  action_group:
    support: full
    membership: [appenv.python.layer, appenv.python.network, appenv.python.index]
requirements:
  - On the host, a runtime installed by M(appenv.python.python_runtime) with pip (M(appenv.python.pip_tooling)), or
    the CPython 3.8 or later of O(interpreter) with pip, or its C(venv) module for O(location=venv).
  - uv, poetry or pipenv when the app's files call for them, installed by M(appenv.python.pip_tooling) into O(tools_dir).
options:
  project_dir:
    description: The app's directory on the host, holding its requirement, lock and project files.
    type: path
    required: true
  installer:
    description: C(auto) decides from the app's files; the others force an installer.
    type: str
    default: auto
    choices: [auto, pip, poetry, pipenv, uv]
  requirements:
    description:
      - Requirement files, relative to O(project_dir), for pip and C(uv pip). Default C(requirements.txt).
      - With O(installer=uv), giving this installs the files with C(uv pip install) even when C(uv.lock) exists.
    type: list
    elements: str
  location:
    description:
      - C(user) installs into the user site of C(PYTHONUSERBASE=dest); C(venv) into a venv at O(dest); C(target)
        into the directory O(dest), put on C(sys.path) by a C(.pth) file in the runtime; C(system) into the runtime's
        own site-packages (never the operating system's Python; name that one with O(interpreter)).
      - RV(environment) holds the variables a process needs to use the result.
    type: str
    default: user
    choices: [user, venv, target, system]
  dest:
    description:
      - The layer's directory (default C(/opt/appenv/deps), C(/opt/appenv/venv) or C(/opt/appenv/site) by O(location)).
      - With O(location=venv) or O(location=target), a symbolic link to the live version in C(<dest>.appenv-versions/),
        switched to a new version once it is complete (O(keep_previous)); a real directory left by an earlier
        release is replaced by the link at its first rebuild.
    type: path
  runtime:
    description:
      - Directory of the runtime (the O(appenv.python.python_runtime#module:dest) of M(appenv.python.python_runtime)).
      - Not used when O(interpreter) is set.
    type: path
    default: /opt/appenv/python
  tools_dir:
    description: Where M(appenv.python.pip_tooling) installed uv, poetry and pipenv.
    type: path
    default: /opt/appenv/tools
  extras:
    description: Extras of the project to install (poetry, uv lock files).
    type: list
    elements: str
    default: []
  groups:
    description: Dependency groups to install besides the main ones (poetry C(--with), pipenv categories, uv C(--group); C(dev) for development packages).
    type: list
    elements: str
    default: []
  max_age:
    description:
      - Rebuild when the layer is older than this (C(3600), C(30m), C(12h), C(7d), C(2w)), so that unpinned
        requirements pick up new upstream releases.
    type: str
  cache_dir:
    description:
      - Directory of the installers' wheel caches, kept across rebuilds so a rebuild after a small change reuses
        built wheels. Default C(<layer_cache.path>/wheels) when O(layer_cache.path) is set, else C(/var/cache/appenv).
    type: path
  invalidation_mode:
    description:
      - How the installed packages' pycs are invalidated (the O(appenv.python.pyc_compile#module:invalidation_mode) of
        M(appenv.python.pyc_compile)); C(none) compiles nothing.
      - The alias O(bytecode) is deprecated and will be removed in 0.3.0.
    type: str
    default: checked-hash
    choices: [checked-hash, unchecked-hash, timestamp, none]
    aliases: [bytecode]
  bytecode_workers:
    description: Processes compiling bytecode; 0 means one per CPU.
    type: int
    default: 0
  pip_check:
    description: Run C(pip check) after installing and fail on conflicts.
    type: bool
    default: true
  source_date_epoch:
    description: C(SOURCE_DATE_EPOCH) for the installers (reproducible wheels built from sdists).
    type: int
  extra_args:
    description:
      - More options for the program that installs the packages, split as a shell would (as
        C(extra_args) of C(ansible.builtin.pip)) - C(pip install) for requirement files
        and for the lists poetry and pipenv export from their locks, C(uv pip install) for uv. For example
        C(--only-binary :all:), C(--no-binary demo), C(--prefer-binary), C(--trusted-host index.internal), C(--pre).
      - Part of the fingerprint, in the order given; a change rebuilds the layer, with a reason naming it.
      - Options the module sets from its own options are refused (C(deps_extra_args_refused)) - where the
        packages go (C(--target), C(--user), C(--prefix), C(--root), C(--python), C(--system)) and which files
        are read (C(-r), C(-c), C(-e)); use O(location), O(dest) and O(requirements).
      - Credentials in URLs (C(--extra-index-url https://user:token@...)) are masked in the result, the commands
        and the errors, and left out of the fingerprint; prefer O(extra_index_urls) with O(index_username) and
        O(index_password), which never put them on the command line.
    type: str
"""

EXAMPLES = r"""
- name: The app's requirements.txt into a user site
  appenv.python.app_dependencies:
    project_dir: /srv/app
  register: deps

- name: poetry.lock into a venv, with the docs group
  appenv.python.app_dependencies:
    project_dir: /srv/app
    location: venv
    dest: /srv/app/.venv
    groups: [docs]

- name: Requirements with uv, from a private index, refreshed weekly
  appenv.python.app_dependencies:
    project_dir: /srv/app
    installer: uv
    requirements: [requirements/prod.txt]
    index_url: https://pypi.example.internal/simple
    index_username: build
    index_password: "{{ vault_index_password }}"
    max_age: 7d

- name: Run the app with the environment the module returns
  ansible.builtin.command: python -m app --version
  environment: "{{ deps.environment }}"
  changed_when: false
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
  description: C(created), C(kept), C(recreated) or C(restored); with O(state=absent), C(removed) or C(absent) (nothing was there).
  returned: success
  type: str
reasons:
  description: Why the layer was (re)built, one sentence per cause.
  returned: success
  type: list
  elements: str
live_version:
  description:
    - With O(location=venv) or O(location=target), the version directory O(dest) points at after the run (in check mode,
      the one it would point at), in C(<dest>.appenv-versions/). Not returned while O(dest) is still a directory
      an earlier release built (until its first rebuild).
  returned: success and O(location) is C(venv) or C(target)
  type: str
  sample: /opt/appenv/venv.appenv-versions/3f9a0c1d2e4b
installer:
  description: The installer used (pip, uv, poetry, pipenv).
  returned: success
  type: str
installer_version:
  description: Its version.
  returned: success
  type: str
source:
  description: C(requirements) or the lock file read.
  returned: success
  type: str
location:
  description: Where the packages are.
  returned: success
  type: str
dest:
  description:
    - The layer's directory (O(dest), or the default for O(location)).
    - Ansible adds the directory's C(owner), C(group), C(mode), C(uid), C(gid), C(state) and C(size) beside it, as
      for any module that returns a C(dest).
  returned: success
  type: str
layer:
  description: The same as RV(dest) (the layer's directory, as every layer module names it).
  returned: success
  type: str
interpreter:
  description: The interpreter to run the app with.
    The same name as python_runtime's RV(appenv.python.python_runtime#module:interpreter) and the O(interpreter) option.
  returned: success
  type: str
python:
  description: Deprecated, removed in 0.3.0 - the same value as RV(interpreter).
  returned: success
  type: str
site_packages:
  description: The directory holding the packages.
  returned: success
  type: str
bin_dir:
  description: The directory holding the packages' scripts.
  returned: success
  type: str
environment:
  description: Environment variables a process needs to use the packages (C(PATH), C(PYTHONUSERBASE), C(VIRTUAL_ENV)).
  returned: success
  type: dict
packages:
  description: Installed distributions and versions (empty for a no-op run).
  returned: success
  type: dict
inputs:
  description: The requirement, lock and project files the fingerprint holds.
  returned: success
  type: list
  elements: str
fingerprint:
  description: Host-independent key of the layer's inputs.
  returned: success
  type: str
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
    run("app_dependencies", AnsibleModule(**spec("app_dependencies")))


if __name__ == "__main__":
    main()
