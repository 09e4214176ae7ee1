#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pyc_compile
short_description: Compile the bytecode of directory trees, skipping unchanged trees
version_added: "0.1.0"
author: appenv.python contributors (@appenv-python)
description:
  - Compiles every C(.py) file under O(paths) with the given interpreter (pyc magic numbers belong to one
    Python version, so the interpreter that will run the code compiles it), in parallel, with the chosen
    invalidation mode and optimisation levels. Orphaned pycs (whose source is gone) are removed.
  - A fingerprint of the trees (each source's path, size and mtime), the mode, the levels and the Python
    version is stored in O(state_dir). An unchanged tree whose pycs are all present is RV(layer_action=kept)
    without starting any process; changed sources are recompiled alone (RV(layer_action=updated)); another mode,
    level or Python version recompiles everything (RV(layer_action=recreated)).
  - With O(source_date_epoch) (or C(SOURCE_DATE_EPOCH) in the environment) two runs on identical trees give
    byte-identical pycs. As py_compile does, C(timestamp) pycs are then written as C(checked-hash), since a timestamp
    pyc records its source's mtime, which differs between checkouts.
  - With O(layer_cache), a tree compiled on one host is restored on the next (RV(layer_action=restored)). The pycs
    are looked up by the sources' content (plus their size and mtime for C(timestamp) pycs, which record both),
    the trees' paths, the invalidation mode, the levels and the interpreter (its
    M(appenv.python.python_runtime) fingerprint, or the interpreter file's sha256), so another checkout of the
    same code hits and any change misses. A restore moves the files it replaces aside and puts them back if
    it fails.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.actiongroups
  - appenv.python.attributes
  - appenv.python.attributes.runs_module
  - appenv.python.layer
  - appenv.python.layer.upstream
  - appenv.python.layer_cache
attributes:
  action_group:
    support: full
    membership: [appenv.python.layer]
requirements:
  - On the host, the CPython 3.8 or later of O(interpreter), the one that will run the code.
options:
  paths:
    description: Directories whose sources are compiled.
    type: list
    elements: path
    required: true
  interpreter:
    description:
      - The Python that will run the code (for a runtime installed by M(appenv.python.python_runtime), its
        RV(appenv.python.python_runtime#module:interpreter)); the same option as the O(appenv.python.app_dependencies#module:interpreter)
        of M(appenv.python.app_dependencies) and M(appenv.python.pip_tooling).
      - Its identity is fingerprinted, not only its X.Y - a python_runtime runtime's fingerprint key, or for any
        other CPython its version, prefix and the sha256 of its binary and libpython - so switching between two
        3.11 interpreters, or an upgrade by the package manager, compiles again with the reason.
    type: path
    default: /opt/appenv/python/bin/python3
  invalidation_mode:
    description:
      - How Python decides a pyc is stale. C(checked-hash) compares the source's hash on import (safe when code
        may be edited in place); C(unchecked-hash) never checks (fastest; right for images whose code never
        changes); C(timestamp) is Python's default.
    type: str
    choices: [checked-hash, unchecked-hash, timestamp]
    default: checked-hash
  optimize:
    description: Optimisation levels to compile for (C(0) plain, C(1) C(-O), C(2) C(-OO)).
    type: list
    elements: int
    choices: [0, 1, 2]
    default: [0]
  bytecode_workers:
    description:
      - Compiling processes; C(0) means one per core. The same option as the
        O(appenv.python.python_runtime#module:bytecode_workers) of the other modules.
      - The alias O(workers) is deprecated and will be removed in 0.3.0.
    type: int
    default: 0
    aliases: [workers]
  exclude:
    description: Regular expressions; sources whose path matches any are skipped.
    type: list
    elements: str
    default: []
  remove_orphans:
    description: Delete pycs in C(__pycache__) whose source no longer exists.
    type: bool
    default: true
  source_date_epoch:
    description:
      - C(SOURCE_DATE_EPOCH) for the compiler, for reproducible builds. The value is recorded nowhere; its presence
        makes C(timestamp) pycs be written as C(checked-hash) (as py_compile does), so two runs on identical trees
        give byte-identical pycs. C(checked-hash) and C(unchecked-hash) pycs are the same with or without it.
    type: int
  state_dir:
    description: Directory on the host where the fingerprints of compiled trees are kept.
    type: path
    default: /var/lib/appenv/pyc
notes:
  - O(layer_cache.controller_path) is not supported; use O(layer_cache.path) or O(layer_cache.url).
seealso:
  - module: appenv.python.python_runtime
"""

EXAMPLES = r"""
- name: Bytecode of the app and its dependencies, checked against the sources on import
  appenv.python.pyc_compile:
    paths: [/srv/app, /srv/app/.deps]
    interpreter: /opt/appenv/python/bin/python3.12

- name: Image build - code never changes, so skip the source check at import
  appenv.python.pyc_compile:
    paths: [/srv/app]
    invalidation_mode: unchecked-hash
    source_date_epoch: 1700000000
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
  description: C(created), C(kept), C(updated) (only changed sources recompiled), C(recreated) or C(restored)
    (from O(layer_cache), nothing compiled).
  returned: success
  type: str
  sample: updated
reasons:
  description: Why bytecode was (re)compiled.
  returned: always
  type: list
  elements: str
  sample: ["2 source files changed (added: views.py; changed: models.py)"]
compiled:
  description: Number of source files compiled by this run.
  returned: success
  type: int
removed:
  description: Number of orphaned pycs removed by this run.
  returned: success
  type: int
compile_errors:
  description: Sources that could not be compiled (syntax errors), each with C(file) and C(error). They are
    reported, not fatal, like C(compileall).
  returned: success
  type: list
  elements: dict
sources:
  description: Number of source files in the trees.
  returned: success
  type: int
fingerprint:
  description: Key of the inputs.
  returned: success
  type: str
layer:
  description: The first of O(paths), absolute and sorted, which names the layer (its fingerprint is kept in O(state_dir)).
  returned: success
  type: str
commands:
  description: Every command the run started (none for a no-op).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.appenv.python.plugins.module_utils._modules import run, spec


def main():
    run("pyc_compile", AnsibleModule(**spec("pyc_compile")))


if __name__ == "__main__":
    main()
