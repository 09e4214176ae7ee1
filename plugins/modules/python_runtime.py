#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: python_runtime
short_description: Install a relocatable CPython as a layer, idempotently
version_added: "0.1.0"
author: appenv.python contributors (@appenv-python)
description:
  - Installs a relocatable CPython from a python-build-standalone archive (or any archive with the same
    layout) into O(dest), and compiles its standard library to C(unchecked-hash) bytecode in parallel.
  - The version request is resolved on the controller by the action plugin, from O(version) or from the
    app's C(.python-version), C(runtime.txt) or C(pyproject.toml) in O(project_dir). C(3.12) picks the newest
    3.12.Z available for the host's architecture.
  - The layer's fingerprint (Python version, architecture, host distribution, C library, archive sha256)
    is stored in O(dest). A run whose fingerprint matches and whose files are intact reports
    RV(action=kept), downloads nothing and starts no process. A changed input rebuilds the runtime in a
    staging directory that replaces the old one only when complete; on failure the old one stays.
  - The archive's sha256 is mandatory and checked before extraction; extraction refuses members and
    links that would escape the destination.
extends_documentation_fragment:
  - appenv.python.layer
  - appenv.python.layer.network
  - appenv.python.layer_cache
options:
  dest:
    description: Directory that becomes the runtime (the archive's C(python/) directory).
    type: path
    default: /opt/appenv/python
  version:
    description:
      - The Python version wanted. An exact C(X.Y.Z), C(X.Y) (newest patch), or any PEP 440 specifier such as
        C(>=3.11,<3.13).
      - When unset, read from the files in O(project_dir).
    type: str
  project_dir:
    description:
      - Directory on the controller holding the app's C(.python-version), C(runtime.txt) or C(pyproject.toml).
    type: path
  allow_eol:
    description: Allow a Python version that has reached its end of life.
    type: bool
    default: false
  mirror:
    description:
      - Base URL of the archives (C(https://), C(http://) or C(file://)), laid out as
        C(<mirror>/<release>/<archive>) with a C(SHA256SUMS) file per release, like python-build-standalone's
        releases. Defaults to python-build-standalone's releases.
    type: str
  release:
    description: Release tag of the archives on O(mirror). Required with a mirror other than the default.
    type: str
  archive:
    description:
      - Path on the controller of a runtime archive to push to the host (air-gapped builds). Its file name must
        follow python-build-standalone's naming; its sha256 comes from O(sha256) or a C(SHA256SUMS) beside it.
      - The archive is transferred only when the runtime must be (re)built.
    type: path
  url:
    description: Exact archive URL (with O(sha256) and an exact O(version)); skips resolution.
    type: str
  src:
    description: Path on the host of an archive already there (with O(sha256) and an exact O(version)).
    type: path
  sha256:
    description: The archive's sha256. Mandatory for O(url), O(src) and O(archive) unless a C(SHA256SUMS) names it.
    type: str
  arch:
    description: Architecture of the archive. Defaults to the host's; a mismatch with the host is an error.
    type: str
    choices: [x86_64, aarch64]
  compile_bytecode:
    description: Replace the shipped bytecode of the standard library with C(unchecked-hash) pycs.
    type: bool
    default: true
  bytecode_workers:
    description: Processes compiling bytecode; C(0) means one per core.
    type: int
    default: 0
  compiler:
    description:
      - The C compiler the runtime's build settings name (C(CC), C(LDSHARED), C(LINKCC)...), so that sdists with
        C extensions build on this host. An archive built elsewhere names its build machine's compiler
        (C(clang)) and install prefix (C(/install)); both are rewritten to this host after extraction.
      - Unset, the host's C(cc) and C(c++) are named, whether or not they are installed yet. Set, it must be a
        program on the host's C(PATH) or an absolute path, and the C++ compiler is derived from it
        (C(gcc-12) gives C(g++-12), C(clang) gives C(clang++)).
      - Part of the fingerprint - a change rebuilds the runtime.
    type: str
  resolution:
    description: Internal, set by the action plugin - how the version was chosen (shown in the result).
    type: dict
  candidates:
    description:
      - Internal, set by the action plugin - the request resolved for each architecture (version, url, sha256,
        resolution, or the error for that architecture); the module takes its host's.
    type: dict
  decide_only:
    description: Internal, set by the action plugin - report the decision without acting.
    type: bool
    default: false
notes:
  - Supports check mode (reports the action and reasons a real run would) and diff mode (fingerprint before
    and after).
  - Without O(release), version requests are resolved against the release table shipped with the collection
    (the newest python-build-standalone release of each CPython 3.9+ version for x86_64 and aarch64 glibc
    hosts, with sha256), so no listing is downloaded. C(scripts/refresh_python_releases.py) regenerates it;
    see C(docs/guides/python-releases.md).
seealso:
  - module: appenv.python.pip_tooling
  - module: appenv.python.pyc_compile
"""

EXAMPLES = r"""
- name: Install the Python the app asks for in its .python-version
  appenv.python.python_runtime:
    project_dir: "{{ playbook_dir }}/app"

- name: Install the newest 3.12 from an internal mirror
  appenv.python.python_runtime:
    version: "3.12"
    mirror: https://mirror.example.com/python-build-standalone
    release: "20241016"
    dest: /opt/app/python

- name: Air-gapped - push an archive from the controller
  appenv.python.python_runtime:
    archive: files/cpython-3.12.7+20241016-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz
    sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
"""

RETURN = r"""
action:
  description: What the run did - C(created), C(kept), C(recreated) or C(restored) (from O(layer_cache)).
  returned: always
  type: str
  sample: kept
reasons:
  description: Sentences saying why the layer was (re)built; empty when kept.
  returned: always
  type: list
  elements: str
  sample: ["Python version changed from 3.12.6 to 3.12.7"]
python_version:
  description: The exact Python version of the runtime.
  returned: success
  type: str
  sample: 3.12.7
arch:
  description: The runtime's architecture.
  returned: success
  type: str
  sample: x86_64
interpreter:
  description: Path of the interpreter.
  returned: success
  type: str
  sample: /opt/appenv/python/bin/python3.12
bin_dir:
  description: Directory to put on C(PATH).
  returned: success
  type: str
site_packages:
  description: The runtime's own site-packages.
  returned: success
  type: str
build_settings:
  description:
    - What was rewritten in the runtime's build settings - the archive's build prefix and compiler, the prefix and
      compilers named now, whether the C compiler exists on the host (C(compiler_path)), the files rewritten.
  returned: success
  type: dict
  sample: {"build_prefix": ["/install"], "compiler_was": "clang", "compiler": "cc", "cxx": "c++",
           "compiler_path": "/usr/bin/cc", "prefix": "/opt/appenv/python",
           "files": ["lib/python3.12/_sysconfigdata__linux_x86_64-linux-gnu.py"]}
fingerprint:
  description: Host-independent key of the layer's inputs.
  returned: success
  type: str
resolution:
  description: How the version was chosen (request, source file, release, archive).
  returned: when resolved by the action plugin
  type: dict
commands:
  description: Every command the run started, with exit status, duration and output tails (secrets masked).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.appenv.python.plugins.module_utils._options import layer_argument_spec, run_layer_module
from ansible_collections.appenv.python.plugins.module_utils._runtime import run_python_runtime


def main():
    module = AnsibleModule(argument_spec=layer_argument_spec(dict(
        dest=dict(type="path", default="/opt/appenv/python"),
        version=dict(type="str"),
        project_dir=dict(type="path"),
        allow_eol=dict(type="bool", default=False),
        mirror=dict(type="str"),
        release=dict(type="str"),
        archive=dict(type="path"),
        url=dict(type="str"),
        src=dict(type="path"),
        sha256=dict(type="str"),
        arch=dict(type="str", choices=["x86_64", "aarch64"]),
        compile_bytecode=dict(type="bool", default=True),
        bytecode_workers=dict(type="int", default=0),
        compiler=dict(type="str"),
        resolution=dict(type="dict"),
        candidates=dict(type="dict"),
        decide_only=dict(type="bool", default=False),
    )), supports_check_mode=True)
    run_layer_module(module, run_python_runtime, "python_runtime", controller_cache=True)


if __name__ == "__main__":
    main()
