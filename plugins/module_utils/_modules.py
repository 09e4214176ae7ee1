# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's modules by name: each one's arguments (AnsibleModule's keyword arguments) and its run.

One payload for every module. Ansible builds a module's AnsiballZ payload on the first task of that module in a
run, parsing every module_util the module can import (0.17-0.24 s of the worker's CPU for ours, 0.09 s for
``ansible.builtin.command``), on the task's way. So the action plugins hand their module's task to one module,
``appenv.python.engine`` (``ENGINE``), with the module's name in ``_module`` (``SELECTOR``): a play of the runtime,
the tools and the dependencies builds one payload instead of three (docs/performance.md, issue 16). The modules'
own files keep their documentation and a ``main()`` that runs the same: ``AnsibleModule(**spec(name))``,
then ``run(name, module)``.

A module process imports only its own module's backend: each function below imports it when called, so the
host compiles what one module needs (AnsiballZ sends sources, compiled on every run), whatever the payload holds.
The action plugins validate a task's arguments with the same ``spec(name)`` before any controller work
(plugin_utils/_arguments.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.appenv.python.plugins.module_utils._options import (
    LOCK_OPTIONS, layer_argument_spec, run_layer_module)

ENGINE = "appenv.python.engine"
# The parameter the action plugins name the module with when they run the engine (internal, undocumented).
SELECTOR = "_module"
# Internal options of a module's spec, set by its action plugin only (undocumented, as core hides _raw_params).
_DECIDE_ONLY = {"_decide_only": dict(type="bool")}


def _python_runtime():
    return dict(argument_spec=layer_argument_spec(dict(
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
        variant=dict(type="str", choices=["default", "freethreaded"]),
        # Internal: how the version was chosen, the request resolved for each arch (the module takes its host's).
        _resolution=dict(type="dict"),
        _candidates=dict(type="dict"),
        max_download_mb=dict(type="int", default=2048),
        max_archive_mb=dict(type="int", default=4096),
        max_archive_members=dict(type="int", default=200000),
        **_DECIDE_ONLY
    )), mutually_exclusive=[["url", "src", "archive"]], supports_check_mode=True)


def _run_python_runtime(module):
    from ansible_collections.appenv.python.plugins.module_utils._runtime import run_python_runtime

    run_layer_module(module, run_python_runtime, "python_runtime", controller_cache=True)


def _pip_tooling():
    from ansible_collections.appenv.python.plugins.module_utils._tooling import DEFAULT_VERSIONS, TOOLS

    return dict(argument_spec=layer_argument_spec(dict(
        runtime=dict(type="path", default="/opt/appenv/python"),
        interpreter=dict(type="path"),
        pip=dict(type="str", default=DEFAULT_VERSIONS["pip"]),
        setuptools=dict(type="str", default=DEFAULT_VERSIONS["setuptools"]),
        wheel=dict(type="str", default=DEFAULT_VERSIONS["wheel"]),
        tools=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True, choices=list(TOOLS)),
            version=dict(type="str"),
            **{"with": dict(type="list", elements="str")}
        )),
        tools_dir=dict(type="path", default="/opt/appenv/tools"),
        compile_bytecode=dict(type="bool", default=True),
        bytecode_workers=dict(type="int", default=0),
    ), index=True, upstream=True, switch=True), supports_check_mode=True)


def _run_pip_tooling(module):
    from ansible_collections.appenv.python.plugins.module_utils._tooling import run_pip_tooling

    run_layer_module(module, run_pip_tooling, "pip_tooling", index=True)


def _app_dependencies():
    from ansible_collections.appenv.python.plugins.module_utils._deps import LOCATIONS
    from ansible_collections.appenv.python.plugins.module_utils._installers import INSTALLERS

    return dict(argument_spec=layer_argument_spec(dict(
        project_dir=dict(type="path", required=True),
        installer=dict(type="str", default="auto", choices=["auto"] + list(INSTALLERS)),
        requirements=dict(type="list", elements="str"),
        location=dict(type="str", default="user", choices=list(LOCATIONS)),
        dest=dict(type="path"),
        runtime=dict(type="path", default="/opt/appenv/python"),
        interpreter=dict(type="path"),
        tools_dir=dict(type="path", default="/opt/appenv/tools"),
        extras=dict(type="list", elements="str", default=[]),
        groups=dict(type="list", elements="str", default=[]),
        max_age=dict(type="str"),
        cache_dir=dict(type="path"),
        invalidation_mode=dict(type="str", default="checked-hash", choices=["checked-hash", "unchecked-hash", "timestamp", "none"],
                               aliases=["bytecode"], deprecated_aliases=[
                                   dict(name="bytecode", version="0.3.0", collection_name="appenv.python")]),
        bytecode_workers=dict(type="int", default=0),
        pip_check=dict(type="bool", default=True),
        source_date_epoch=dict(type="int"),
        extra_args=dict(type="str"),
        **_DECIDE_ONLY
    ), index=True, upstream=True, state=True, switch=True), supports_check_mode=True)


def _run_app_dependencies(module):
    from ansible_collections.appenv.python.plugins.module_utils._deps import run_app_dependencies

    run_layer_module(module, run_app_dependencies, "app_dependencies", index=True, controller_cache=True)


def _pyc_compile():
    return dict(argument_spec=layer_argument_spec(dict(
        paths=dict(type="list", elements="path", required=True),
        interpreter=dict(type="path", default="/opt/appenv/python/bin/python3"),
        invalidation_mode=dict(type="str", default="checked-hash",
                               choices=["checked-hash", "unchecked-hash", "timestamp"]),
        optimize=dict(type="list", elements="int", default=[0], choices=[0, 1, 2]),
        bytecode_workers=dict(type="int", default=0, aliases=["workers"], deprecated_aliases=[
            dict(name="workers", version="0.3.0", collection_name="appenv.python")]),
        exclude=dict(type="list", elements="str", default=[]),
        remove_orphans=dict(type="bool", default=True),
        source_date_epoch=dict(type="int"),
        state_dir=dict(type="path", default="/var/lib/appenv/pyc"),
    ), network=False, upstream=True), supports_check_mode=True)


def _run_pyc_compile(module):
    from ansible_collections.appenv.python.plugins.module_utils._pyc_layer import reproducible_env, run_pyc_compile

    run_layer_module(module, run_pyc_compile, "pyc_compile", env=reproducible_env(module.params["source_date_epoch"]))


def _app_code():
    options = dict(
        src=dict(type="path", required=True),
        dest=dict(type="path", required=True),
        owner=dict(type="str"),
        group=dict(type="str"),
        mode=dict(type="str", default="0644"),
        directory_mode=dict(type="str", default="0755"),
        state_dir=dict(type="path", default="/var/lib/appenv/code"),
        # Internal: the digest of the controller's listing, the listing itself (check and diff mode, and with the
        # tree), the tree sent to the host.
        _files_digest=dict(type="str"),
        _listing=dict(type="dict"),
        _archive=dict(type="path"),
    )
    options.update(LOCK_OPTIONS)
    return dict(argument_spec=options, supports_check_mode=True)


def _run_app_code(module):
    from ansible_collections.appenv.python.plugins.module_utils._code import run_app_code
    from ansible_collections.appenv.python.plugins.module_utils._module import run_module
    from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner

    if not module.params["_files_digest"]:
        module.fail_json(msg="app_code runs through its action plugin, which lists src on the controller; "
                             "the module cannot be run on its own")
    runner = CommandRunner()
    run_module(module, lambda params: dict(run_app_code(params, runner, check_mode=module.check_mode,
                                                        diff=module._diff), commands=runner.history), runner)


# name: (its AnsibleModule keyword arguments, its run with the AnsibleModule made of them)
_MODULES = {
    "python_runtime": (_python_runtime, _run_python_runtime),
    "pip_tooling": (_pip_tooling, _run_pip_tooling),
    "app_dependencies": (_app_dependencies, _run_app_dependencies),
    "pyc_compile": (_pyc_compile, _run_pyc_compile),
    "app_code": (_app_code, _run_app_code),
}
NAMES = tuple(_MODULES)


def spec(name):
    """Module name's AnsibleModule keyword arguments (argument_spec, the constraints, supports_check_mode)."""
    return _MODULES[name][0]()


def engine_spec(name):
    """The engine's AnsibleModule keyword arguments when it runs module name: the module's, and SELECTOR."""
    kwargs = spec(name)
    kwargs["argument_spec"] = dict(kwargs["argument_spec"], **{SELECTOR: dict(type="str", choices=[name])})
    return kwargs


def run(name, module):
    """Run module name's backend with module (an AnsibleModule made of its spec, or of engine_spec); exits."""
    module.params.pop(SELECTOR, None)  # not one of the module's options: left out of the result's invocation
    _MODULES[name][1](module)
