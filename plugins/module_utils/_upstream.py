# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A chain of tasks in check mode: what the task a layer sits on would leave behind.

In check mode the tasks of a play change nothing, so a task that sits on an
earlier one (pip_tooling and app_dependencies on python_runtime, pyc_compile on
app_dependencies) would read the state that earlier task is about to replace.
Its ``upstream`` option takes the earlier task's registered result instead,
and this module reads the prediction out of it:

- the runtime: python_runtime's own result (``dest``, ``fingerprint``,
  ``python_version``, ``arch``, ``variant``, ``layer_action``), or the ``runtime`` entry that
  pip_tooling and app_dependencies copy into theirs (``runtime_entry``);
- the tool versions pip_tooling installs (its ``packages`` and ``tools``).

Only a change is a prediction: an upstream that keeps the runtime (or was
skipped, or names another runtime) predicts nothing and the disk is read.
Outside check mode the option is ignored: the earlier task has run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.appenv.python.plugins.module_utils._layer_decide import action_keys as _action_keys
from ansible_collections.appenv.python.plugins.module_utils._layer_decide import action_of as _action_of

_CHANGES = ("created", "recreated", "restored", "updated")


def _described_runtime(upstream):
    if not isinstance(upstream, dict) or upstream.get("skipped") or upstream.get("failed"):
        return None
    described = upstream.get("runtime")
    return described if isinstance(described, dict) else upstream


def predicted_runtime(upstream, root=None):
    """(record, action) the upstream result predicts for the runtime at root (None: whichever it names): a
    runtime fingerprint record (key, inputs with python_version and arch, no facts: nothing is built yet) and
    the upstream's action; (None, None) when it predicts no change there."""
    described = _described_runtime(upstream)
    action = _action_of(described) if described is not None else None
    if action not in _CHANGES:
        return None, None
    if root is not None and os.path.abspath(str(described.get("dest") or "")) != os.path.abspath(root):
        return None, None
    key, version = described.get("fingerprint"), described.get("python_version")
    if not (isinstance(key, str) and key and isinstance(version, str) and version):
        return None, None
    inputs = {"python_version": version, "arch": described.get("arch"), "variant": described.get("variant")}
    return {"key": key, "inputs": inputs, "facts": {}}, action


def predicted_versions(upstream):
    """{distribution or tool name: version} pip_tooling's result says it leaves installed ({} without one)."""
    if not isinstance(upstream, dict) or upstream.get("skipped") or upstream.get("failed"):
        return {}
    versions = {}
    for name, version in (upstream.get("packages") or {}).items():
        if isinstance(version, str):
            versions[name] = version
    for name, tool in (upstream.get("tools") or {}).items():
        if isinstance(tool, dict) and isinstance(tool.get("version"), str):
            versions[name] = tool["version"]
    return versions


def runtime_entry(runtime):
    """The ``runtime`` entry of a downstream result: the runtime it sits on (read, or predicted in check mode),
    in python_runtime's words, so the next task of the chain can take this result as its upstream."""
    return {"dest": runtime.root, "fingerprint": runtime.key, "python_version": runtime.version,
            "arch": runtime.arch, "variant": runtime.variant, **_action_keys(runtime.action)}
