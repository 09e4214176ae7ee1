# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  lock_timeout:
    description:
      - Seconds to wait for another appenv.python run on the same layer to finish (runs on one host are
        serialised by a lock next to the layer).
    type: int
    default: 600
  force:
    description:
      - Rebuild the layer even though its fingerprint and the files on disk say it is up to date, with the
        reason V(forced) in RV(reasons) (after any other reason). Check mode predicts it.
      - The layer is built on the host, never restored from the layer cache (an entry with its key is kept).
      - A task with V(force=true) is never a no-op (it reports a change on every run), so set it for one run
        (C(-e)), not in a play that runs again.
    type: bool
    default: false
"""

    # Modules whose layer can be removed: app_dependencies.
    STATE = r"""
options:
  state:
    description:
      - V(present) builds the layer (or keeps it). V(absent) removes it cleanly, fingerprint and all, and
        installs nothing; the result's action is V(removed), or V(absent) (no change) when nothing was there.
        Check mode says what would be removed and removes nothing.
      - For app_dependencies, the layer is O(dest) (a venv, a user site or a target directory, and the
        C(.pth) file a target puts in the runtime); with O(location=system), the packages its record lists are
        uninstalled from the runtime (pip_tooling's pip, setuptools and wheel stay) and the record is removed.
        The wheel cache (O(cache_dir)) stays, and so does the lock file beside the layer
        (C(.<name>.appenv-lock)), which serialises runs.
    type: str
    default: present
    choices: [present, absent]
"""

    # Layers an app runs from, switched in beside the live one: app_dependencies (venv, target), pip_tooling's tools.
    SWITCH = r"""
options:
  keep_previous:
    description:
      - How many versions that were live before are kept beside the live one of a switched layer, newest first.
        A venv (O(appenv.python.app_dependencies#module:location=venv)), a target directory
        (O(appenv.python.app_dependencies#module:location=target)) and each tool venv of
        M(appenv.python.pip_tooling) are switched layers - the path the app uses is a symbolic link into
        C(<path>.appenv-versions/), and a rebuild goes into a new version beside the live one, switched in
        by one rename once it is complete (docs/guides/live-hosts.md).
      - A process started from a previous version keeps its files until that version is removed, after
        O(keep_previous) more rebuilds; V(0) removes it right after the switch.
    type: int
    default: 1
"""

    # Steps that download or install: python_runtime, pip_tooling, app_dependencies.
    NETWORK = r"""
options:
  timeout:
    description: Seconds a single step (a download, an installer run) may take before it is stopped.
    type: int
    default: 900
  retries:
    description:
      - Extra attempts, waiting 1, 2, 4... seconds between them, for steps that use the network.
      - A download (a runtime archive) is tried again after a connection error, a timeout or an HTTP
        (408, 429, 5xx) answer, waiting longer when it says Retry-After; never after a 404 or 403.
      - An install (the packaging tools, a tool venv, the app's dependencies with any installer) is run again
        after a timeout or a failure its output shows to be the network or the index briefly out of reach
        (connection refused or reset, name resolution, an HTTP 5xx answer); a failure that is not the network
        (a package not found, a build error, a full disk, a proxy or certificate refused) is not retried.
      - pip also gets C(--retries) for its own connection retries.
    type: int
    default: 3
"""

    # Modules that sit on an earlier task of a chain: pip_tooling, app_dependencies, pyc_compile.
    UPSTREAM = r"""
options:
  upstream:
    description:
      - The registered result of the task this one sits on, so that check mode predicts what the chain does
        rather than what the host held before the chain ran. For pip_tooling, the result of M(appenv.python.python_runtime);
        for app_dependencies, the result of M(appenv.python.pip_tooling) (or of python_runtime); for pyc_compile,
        the result of M(appenv.python.app_dependencies).
      - Read only in check mode. When that task predicts a change of the runtime (V(created), V(recreated),
        V(restored)), the runtime is the predicted one (its fingerprint key and Python version) and what lives
        inside it counts as gone; the installer versions app_dependencies fingerprints are those pip_tooling's
        result names. Outside check mode the host is read as it is (the upstream task has run).
      - The roles set it.
    type: dict
"""
