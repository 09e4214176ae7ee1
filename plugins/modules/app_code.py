#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: app_code
short_description: Put the app's code from the controller on the host, sending it only when it changed
version_added: "0.3.0"
author: appenv.python contributors (@appenv-python)
description:
  - Lays the files of a directory on the controller (O(src)) out in O(dest) on the host, with one O(owner),
    O(group), file O(mode) and O(directory_mode), as C(ansible.builtin.copy) of a directory does; but as a layer.
    The controller lists the tree (each file's path and sha256) and the host compares the listing's digest with
    its fingerprint and checks the files it wrote (one C(lstat) each); an unchanged tree is RV(layer_action=kept)
    in one module run whatever the number of files, where C(ansible.builtin.copy) checks each file with a module
    run of its own.
  - When the code changed, the tree is sent once (a tar) and only the files whose content, mode or owner differ
    are written, each to a temporary file renamed over the old one (a running app reads the old file or the new
    one, whole). Files the previous run wrote that are no longer in O(src) are removed, with the directories
    that held only them; nothing else in O(dest) is touched (bytecode, the app's own files).
  - C(__pycache__) directories and C(.pyc) files in O(src) are not sent (M(appenv.python.pyc_compile) makes the
    bytecode). A link to a file inside O(src) is sent as that file; a link to a directory or out of O(src) is an
    error.
  - Running as root, the code is written through directories opened without following links, so an O(owner)
    who can write O(dest) cannot make root write elsewhere; a link in the way is an error.
  - A file changed on the host (its size, mtime, mode or owner) is noticed and written again, with a reason.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - appenv.python.attributes
  - appenv.python.attributes.action
attributes:
  diff_mode:
    support: full
    details: The files (path and the start of their sha256) before and after the run.
requirements:
  - Python 3.8 or later on the host (any; the code is not run).
options:
  src:
    description:
      - The app's code on the controller, a directory. A relative path is looked up as
        C(ansible.builtin.copy) looks up its C(src) (the role's C(files/), then the
        playbook's directory).
    type: path
    required: true
  dest:
    description: The directory on the host the code goes into (made when missing).
    type: path
    required: true
  owner:
    description: The user owning the files and the directories made; default the task's user.
    type: str
  group:
    description: Their group; default the O(owner)'s primary group, or the task's user's.
    type: str
  mode:
    description: The files' mode, octal.
    type: str
    default: "0644"
  directory_mode:
    description: The mode of the directories made, octal (existing directories are left as they are).
    type: str
    default: "0755"
  state_dir:
    description: Where the fingerprint and the lock are kept on the host (a directory private to the task's user).
    type: path
    default: /var/lib/appenv/code
  lock_timeout:
    description: Seconds to wait for another run on the same O(dest) to finish.
    type: int
    default: 600
  force:
    description: Write every file again and report a change, whatever the fingerprint says.
    type: bool
    default: false
seealso:
  - module: appenv.python.pyc_compile
notes:
  - Only files this module wrote are ever removed; to remove the code, remove O(dest) and the fingerprint in
    O(state_dir) with C(ansible.builtin.file).
"""

EXAMPLES = r"""
- name: The app's code, root-owned and read-only to the app user
  appenv.python.app_code:
    src: app/
    dest: /srv/app

- name: Code the app user owns
  appenv.python.app_code:
    src: "{{ playbook_dir }}/app"
    dest: /srv/app
    owner: app
    mode: "0640"
    directory_mode: "0750"
"""

RETURN = r"""
error:
  description: The titled error of a failure (C(code), C(title), C(cause), C(fault), numbered C(fixes)); docs/troubleshooting.md.
  returned: failure
  type: dict
layer_action:
  description: C(created), C(kept), C(updated) (files changed on the controller) or C(recreated) (the owner or
    a mode changed, or files were changed on the host).
  returned: success
  type: str
  sample: updated
reasons:
  description: Why the code was written.
  returned: always
  type: list
  elements: str
  sample: ["2 file(s) of the code changed (added: app/views.py; changed: app/models.py)"]
files:
  description: Number of files of the code.
  returned: success
  type: int
dest:
  description: O(dest), absolute.
  returned: success
  type: str
layer:
  description: O(dest), absolute, which names the layer (its fingerprint is kept in O(state_dir)).
  returned: success
  type: str
fingerprint:
  description: Key of the inputs.
  returned: success
  type: str
commands:
  description: Every command the run started (always none).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.appenv.python.plugins.module_utils._modules import run, spec


def main():
    run("app_code", AnsibleModule(**spec("app_code")))


if __name__ == "__main__":
    main()
