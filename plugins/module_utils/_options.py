# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options the layer modules share, declared once, and what they turn into.

Their documentation is one doc fragment each: ``appenv.python.layer``
(``lock_timeout``, ``force``), ``appenv.python.layer.state`` (``state``),
``appenv.python.layer.network`` (``timeout``,
``retries``), ``appenv.python.layer_cache`` (``layer_cache``) and
``appenv.python.index`` (the package index options). ``run_layer_module``
turns them into what every backend takes - the runner (masking the index
credentials), the layer cache, the index options - so a module's ``main()`` is
its argument spec and one call.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.appenv.python.plugins.module_utils import _layer_cache_options as _layer_cache
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._module import run_module
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner
from ansible_collections.appenv.python.plugins.module_utils._urls import url_secrets

# Every layer module: the lock, and force (_layer.converge(force=...): rebuilt once, the reason "forced").
LOCK_OPTIONS = {"lock_timeout": dict(type="int", default=600), "force": dict(type="bool", default=False)}
# Where a layer cache is: one of them (they are mutually exclusive in its spec).
CACHE_LOCATIONS = ("path", "controller_path", "url")
# Modules whose layer can be removed (_layer.remove).
STATE_OPTIONS = {"state": dict(type="str", default="present", choices=["present", "absent"])}
# Passthrough options whose URLs may carry credentials, masked like the index options' (module.no_log_values, runner).
PASSTHROUGH_OPTIONS = ("extra_args",)
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"]+")
# Switched layers (_layer_switch): how many versions that were live stay beside the live one.
SWITCH_OPTIONS = {"keep_previous": dict(type="int", default=1)}
NETWORK_OPTIONS = {"timeout": dict(type="int", default=900), "retries": dict(type="int", default=3)}


def layer_argument_spec(options, network=True, index=False, upstream=False, state=False, switch=False):
    """A layer module's argument spec: its own options, then the shared ones it takes.

    network: timeout and retries (steps that download or install); index: the package index options;
    upstream: the module sits on an earlier task of a chain (the upstream option, read in check mode by _upstream);
    state: the layer can be removed (state: absent); switch: it has switched layers (keep_previous).
    """
    spec = dict(options)
    spec.update(LOCK_OPTIONS)
    if state:
        spec.update(STATE_OPTIONS)
    if upstream:
        spec["upstream"] = dict(type="dict")
    if switch:
        spec.update(SWITCH_OPTIONS)
    if network:
        spec.update(NETWORK_OPTIONS)
    spec["layer_cache"] = _layer_cache.argument_spec()
    if index:
        from ansible_collections.appenv.python.plugins.module_utils._index import index_argument_spec

        spec.update(index_argument_spec())
    return spec


def layer_cache(params, module, controller=False, runner=None):
    """The layer cache the module reaches from the host (None without one).

    controller: the module has an action plugin that handles layer_cache.controller_path; other modules refuse it.
    runner: the module's CommandRunner (the cache's ssh-keygen runs through it; it masks the HMAC key).
    """
    if params.get("keep_previous") is not None and params["keep_previous"] < 0:
        raise AppenvError("bad_argument", option="keep_previous", module=module,
                          detail="keep_previous is %d: it counts the previous versions kept, 0 or more"
                                 % params["keep_previous"])
    options = params["layer_cache"]
    if options is not None and not any(options.get(where) for where in CACHE_LOCATIONS):
        # Given, but nowhere: a typo or a variable that came out empty must not silently build without the cache.
        raise AppenvError("bad_argument", option="layer_cache", module=module,
                          detail="layer_cache is given but names no cache: it needs one of %s (an empty value "
                                 "counts as none); leave layer_cache out to build without a cache."
                                 % ", ".join(CACHE_LOCATIONS))
    options = options or {}
    if options.get("controller_path") and not controller:
        raise AppenvError("bad_argument", option="layer_cache.controller_path", module=module,
                          detail="%s reaches its layer cache from the host itself: use "
                                 "layer_cache.path (a directory or a mounted volume) or layer_cache.url." % module)
    return _layer_cache.from_options(params["layer_cache"], module, runner=runner)


def passthrough_secrets(params):
    """The passwords in the URLs of the passthrough options (extra_args), as written and decoded."""
    found = []
    for option in PASSTHROUGH_OPTIONS:
        for url in _URL.findall(params.get(option) or ""):
            for secret in url_secrets(url):
                if secret not in found:
                    found.append(secret)
    return found


def run_layer_module(module, backend, name, index=False, controller_cache=False, env=None):
    """Run backend(params, runner=, check_mode=, diff=, cache=[, index=]) for an AnsibleModule; exit with its result.

    name: the module's name (in errors); index: the module takes the package index options; controller_cache: its
    action plugin handles layer_cache.controller_path; env: variables every command of the run gets.
    """
    index_options = None
    if index:
        from ansible_collections.appenv.python.plugins.module_utils._index import index_from_params

        index_options = index_from_params(module)
    runner = CommandRunner(env=env, secrets=index_options.secrets if index_options else ())
    for secret in passthrough_secrets(module.params):
        module.no_log_values.add(secret)
        runner.add_secret(secret)

    def call(params):
        extra = {"index": index_options} if index else {}
        result = backend(params, runner=runner, check_mode=module.check_mode, diff=module._diff,
                         cache=layer_cache(params, name, controller=controller_cache, runner=runner), **extra)
        result["commands"] = runner.history
        return result

    run_module(module, call, runner)
