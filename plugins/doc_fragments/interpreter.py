# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The interpreter option of pip_tooling and app_dependencies (pyc_compile's interpreter is the same option,
    # required there, so it documents it itself with a pointer here).
    DOCUMENTATION = r"""
options:
  interpreter:
    description:
      - Any CPython 3.8 or later that M(appenv.python.python_runtime) did not install (C(/usr/bin/python3) with
        C(python3-venv) and C(python3-pip), a pyenv build, the Python of a base image), used instead of O(runtime).
      - Its identity (implementation, version, prefix, the sha256 of its binary and of its libpython) goes into the
        layers' fingerprints in place of the runtime's, so an interpreter upgraded by the package manager rebuilds
        them with the reason C(the interpreter /usr/bin/python3 changed from 3.11.2 to 3.11.9).
      - The binary (and libpython) is hashed on every run; the interpreter is run (one process) only when the hashes
        differ from the identity in the layer's fingerprint, so a no-op starts no process.
      - An externally managed interpreter (PEP 668, e.g. Debian's) takes no packages into itself or its user site
        (C(location=system) and C(location=user) of M(appenv.python.app_dependencies), pip/setuptools/wheel of
        M(appenv.python.pip_tooling) are refused with a titled error); C(location=venv) and the tools' venvs work.
      - As root, an interpreter another user could write (the binary, its libpython or a directory above) is refused.
      - See docs/guides/bring-your-own-python.md.
    type: path
"""
