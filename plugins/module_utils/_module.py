# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue shared by every appenv.python module: run a backend, report honestly."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import traceback

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._site import url_secrets


def _url_passwords(value):
    """Passwords (as written and decoded) in the user info of every URL among the parameters."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [secret for item in value for secret in _url_passwords(item)]
    return url_secrets(value) if isinstance(value, str) and "://" in value else []


# Bits no file or directory appenv.python creates may have, whatever the host's umask: a layer
# writable by other users would let any of them change the code the app runs.
FORBIDDEN_MODE_BITS = 0o022


def restrict_umask():
    """Add FORBIDDEN_MODE_BITS to the process umask (kept stricter if it already is); returns the new umask."""
    current = os.umask(FORBIDDEN_MODE_BITS)
    os.umask(current | FORBIDDEN_MODE_BITS)
    return current | FORBIDDEN_MODE_BITS


def run_module(module, backend, runner=None):
    """Call backend(module.params) -> result dict; exit_json or fail_json with a titled error.

    runner: the CommandRunner the backend uses; its history goes into the
    failed result as ``commands`` so -v shows what ran before the failure.

    A foreseeable failure (AppenvError) gives its catalogue text and no
    traceback; anything else is a bug and is reported as such, with the
    traceback kept for -vvv.

    A password in a URL among the parameters (index_url, layer_cache.url...) is
    masked in every output, the invocation included, whatever happens next.

    The umask is restricted first, for the module and every program it starts (installers write files with
    the modes the umask allows: a host umask of 000 would make the layers world-writable).
    """
    restrict_umask()
    for secret in _url_passwords(module.params):
        module.no_log_values.add(secret)
    try:
        result = backend(module.params)
    except AppenvError as error:
        payload = error.as_result()
        if runner is not None:
            payload["commands"] = runner.history
        module.fail_json(**payload)
    except Exception as exc:  # pylint: disable=broad-except
        error = AppenvError("internal_error", detail="%s: %s" % (type(exc).__name__, exc))
        payload = error.as_result()
        payload["exception"] = traceback.format_exc()
        if runner is not None:
            payload["commands"] = runner.history
        module.fail_json(**payload)
    module.exit_json(**result)
