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
    RV(layer_action=kept), downloads nothing and starts no process. A changed input rebuilds the runtime in a
    staging directory that replaces the old one only when complete; on failure the old one stays.
  - The archive's sha256 is mandatory and checked before extraction; extraction refuses members and
    links that would escape the destination.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.actiongroups
  - appenv.python.attributes
  - appenv.python.attributes.action
  - appenv.python.layer
  - appenv.python.layer.network
  - appenv.python.layer_cache
attributes:
  action_group:
    support: full
    membership: [appenv.python.layer, appenv.python.network]
requirements:
  - On the controller, the Python library C(packaging) (the version request is resolved there).
  - On the host, Linux with glibc, x86_64 or aarch64 (the runtimes are python-build-standalone builds).
options:
  dest:
    description: Directory that becomes the runtime (the archive's C(python/) directory).
    type: path
    default: /opt/appenv/python
  version:
    description:
      - The Python version wanted. An exact C(X.Y.Z) (also an old patch such as C(3.11.4), for which the table
        keeps the C(install_only) archive as no stripped one exists), C(X.Y) or C(X.Y.*) (newest patch), C(3) or C(3.*),
        C(*) (the newest), or any PEP 440 specifier such as C(>=3.11,<3.13). A C(t) after the version (C(3.13t))
        asks for the free-threaded build, as uv reads it.
      - When unset, read from the files in O(project_dir). When nothing is requested anywhere, the newest patch of
        the newest minor that has not reached its end of life is installed, with a warning saying how to pin it.
      - Warnings also say when a newer patch of the chosen minor exists, and when its end of life is less than six
        months away.
    type: str
  variant:
    description:
      - Which CPython build. C(default), or C(freethreaded) for the free-threaded build (PEP 703, C(python3.13t),
        no GIL; CPython 3.13 and later, only for the versions python-build-standalone publishes as
        C(install_only) C(.tar.gz) archives).
      - Part of the fingerprint (a change rebuilds the runtime with the reason). When unset, C(default) unless the
        version request ends in C(t).
    type: str
    choices: [default, freethreaded]
  project_dir:
    description:
      - Directory on the controller holding the app's C(.python-version), C(runtime.txt) or C(pyproject.toml).
    type: path
  allow_eol:
    description:
      - Allow a new install (or a rebuild) of a Python version that has reached its end of life. Without it such
        an install fails with a titled error.
      - A runtime of that version that the host already has and keeps unchanged is never a failure, only a
        warning, with or without this option.
    type: bool
    default: false
  mirror:
    description:
      - Base URL of the archives (C(https://), C(http://) or C(file://)), laid out as
        C(<mirror>/<release>/<archive>) with a C(SHA256SUMS) file per release, like python-build-standalone's
        releases. Defaults to python-build-standalone's releases.
    type: str
  release:
    description:
      - Release tag of the archives on O(mirror); the version is then chosen among that release's C(SHA256SUMS).
      - Without it, any mirror is taken to be a verbatim copy of python-build-standalone's releases; the release
        table shipped with the collection decides the release, the file and its sha256, and the archive is read
        from C(<mirror>/<release>/<archive>).
      - Which sha256 is trusted - for an archive the release table shipped with the collection lists, the table's
        (a mirror that lists another one in its C(SHA256SUMS) serves a different file and is refused); for any
        other archive of the release, the mirror's own C(SHA256SUMS) (then the mirror is trusted as much as the
        archive). Without O(release), only the table's sums are used.
    type: str
  archive:
    description:
      - Path on the controller of a runtime archive to push to the host (air-gapped builds). Its file name must
        follow python-build-standalone's naming; its sha256 comes from O(sha256) or a C(SHA256SUMS) beside it.
      - The archive is transferred only when the runtime must be (re)built.
      - Mutually exclusive with O(url) and O(src).
    type: path
  url:
    description: Exact archive URL (with O(sha256) and an exact O(version)); skips resolution. Mutually exclusive with O(src) and O(archive).
    type: str
  src:
    description:
      - Path on the host of an archive already there (with O(sha256) and an exact O(version)).
      - Mutually exclusive with O(url) and O(archive).
    type: path
  sha256:
    description: The archive's sha256. Mandatory for O(url), O(src) and O(archive) unless a C(SHA256SUMS) names it.
    type: str
  arch:
    description: Architecture of the archive. Defaults to the host's; a mismatch with the host is an error.
    type: str
    choices: [x86_64, aarch64]
  compile_bytecode:
    description:
      - Replace the shipped bytecode of the standard library with C(unchecked-hash) pycs.
      - A shipped pyc that matches its source (what the interpreter would load for it) keeps its code under the new
        header instead of being compiled again; the rest is compiled; every other pyc (other optimization levels,
        orphans) is removed.
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
  max_download_mb:
    description:
      - The largest runtime archive downloaded, in MiB. A body that grows past it is cut off as it arrives and
        refused (the server's Content-Length is not trusted), so a mirror cannot fill the disk before the
        sha256 check. O(timeout) bounds the whole download, not each read.
    type: int
    default: 2048
  max_archive_mb:
    description: The largest unpacked size of a runtime archive, in MiB; a larger archive is refused before anything is written.
    type: int
    default: 4096
  max_archive_members:
    description: The most members a runtime archive may have; an archive with more is refused before anything is written.
    type: int
    default: 200000
notes:
  - Without O(release), version requests are resolved against the release table shipped with the collection
    (the newest python-build-standalone release of each CPython 3.9+ version for x86_64 and aarch64 glibc
    hosts, default and free-threaded builds, with sha256), so no listing is downloaded. C(scripts/refresh_python_releases.py) regenerates it;
    see C(docs/guides/python-releases.md).
seealso:
  - module: appenv.python.pip_tooling
  - module: appenv.python.pyc_compile
"""

EXAMPLES = r"""
- name: Install the Python the app asks for in its .python-version
  appenv.python.python_runtime:
    project_dir: "{{ playbook_dir }}/app"

- name: Install the free-threaded 3.13 (no GIL)
  appenv.python.python_runtime:
    version: "3.13"
    variant: freethreaded
    dest: /opt/app/python3.13t

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
error:
  description: The titled error of a failure (C(code), C(title), C(cause), C(fault), numbered C(fixes)); docs/troubleshooting.md.
  returned: failure
  type: dict
action:
  description: Deprecated (removed in 0.3.0), the same as RV(layer_action); Ansible's JSON callbacks overwrite it.
  returned: success
  type: str
layer_action:
  description: What the run did - C(created), C(kept), C(recreated) or C(restored) (from O(layer_cache)).
  returned: success
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
  description: Path of the interpreter (C(bin/python3.13t) for the free-threaded build).
  returned: success
  type: str
  sample: /opt/appenv/python/bin/python3.12
variant:
  description: The build, C(default) or C(freethreaded).
  returned: success
  type: str
  sample: default
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
dest:
  description:
    - The runtime's directory (O(dest)).
    - Ansible adds the directory's C(owner), C(group), C(mode), C(uid), C(gid), C(state) and C(size) beside it, as
      for any module that returns a C(dest).
  returned: success
  type: str
  sample: /opt/appenv/python
layer:
  description: The layer's directory (the one its fingerprint is kept for).
  returned: success
  type: str
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

from ansible_collections.appenv.python.plugins.module_utils._modules import run, spec


def main():
    run("python_runtime", AnsibleModule(**spec("python_runtime")))


if __name__ == "__main__":
    main()
