# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's half of app_code: list the app's code tree and pack it (module_utils/_code.py writes it).

The listing maps each path relative to the tree to its content's sha256 (a directory to None); its digest is the
layer's input, so a no-op sends the digest alone. A link to a file inside the tree is sent as that file's content
(as ansible.builtin.copy does); a link to a directory, or out of the tree, is refused. __pycache__ and .pyc files
belong to the bytecode layer and are never sent.
"""

from __future__ import annotations

import os
import tarfile

from ansible_collections.appenv.python.plugins.module_utils._code import SKIPPED_DIRS, SKIPPED_SUFFIXES
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._layer import file_sha256


def list_tree(src):
    """{relative path: sha256 of a file, None for a directory} of the tree at src."""
    root = os.path.realpath(src)
    if not os.path.isdir(root):
        raise AppenvError("bad_argument", option="src", module="app_code",
                          detail="src is %s, which is not a directory on the controller" % src)
    listing = {}
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        dirs[:] = sorted(name for name in dirs if name not in SKIPPED_DIRS)
        for name in list(dirs):
            path = os.path.join(directory, name)
            if os.path.islink(path):
                _refuse_link(src, path, "a directory" if os.path.isdir(path) else "outside the tree")
        for name in dirs:
            listing[_rel(rel_dir, name)] = None
        for name in sorted(files):
            if name.endswith(SKIPPED_SUFFIXES):
                continue
            path = os.path.join(directory, name)
            if os.path.islink(path):
                target = os.path.realpath(path)
                if not target.startswith(root + os.sep) or not os.path.isfile(target):
                    _refuse_link(src, path, "outside the tree" if os.path.exists(target) else "which does not exist")
            listing[_rel(rel_dir, name)] = file_sha256(path)
    return listing


def _rel(rel_dir, name):
    return name if rel_dir == "." else rel_dir + "/" + name


def _refuse_link(src, path, why):
    raise AppenvError("code_src_link", src=src, path=path, target=os.readlink(path), why=why)


def pack(src, listing, archive):
    """Write the listed files and directories of src into the tar file archive (links as their files' content)."""
    root = os.path.realpath(src)
    with tarfile.open(archive, "w") as tar:
        for rel in sorted(listing):
            path = os.path.join(root, rel)
            info = tar.gettarinfo(os.path.realpath(path), arcname=rel)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if listing[rel] is None:
                tar.addfile(info)
            else:
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
