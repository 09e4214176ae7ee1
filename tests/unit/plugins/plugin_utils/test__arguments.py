"""An action plugin checks its task's arguments with its module's own spec: a typo, a wrong type or exclusive
options fail before any controller work, with the message the module itself gives for them."""

import gc
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.appenv.python.plugins.action.app_dependencies import ActionModule as DepsAction
from ansible_collections.appenv.python.plugins.action.pip_tooling import ActionModule as PipToolingAction
from ansible_collections.appenv.python.plugins.action.pyc_compile import ActionModule as PycCompileAction
from ansible_collections.appenv.python.plugins.action.python_runtime import ActionModule as RuntimeAction
from ansible_collections.appenv.python.plugins.module_utils._modules import spec
from ansible_collections.appenv.python.plugins.modules import app_dependencies, python_runtime
from ansible_collections.appenv.python.plugins.plugin_utils._arguments import invalid_arguments
from tests.collection_path import COLLECTIONS_DIR
from tests.unit.plugins.action.conftest import make_action  # noqa: F401 pylint: disable=unused-import

X86 = {"ansible_facts": {"architecture": "x86_64"}}
BAD = [
    # (module, action plugin, arguments, what the message says)
    (python_runtime, RuntimeAction, {"version": "3.12", "destt": "/opt/py"}, "Unsupported parameters"),
    (python_runtime, RuntimeAction, {"version": "3.12", "bytecode_workers": "many"}, "bytecode_workers"),
    (python_runtime, RuntimeAction, {"url": "https://mirror.invalid/a.tar.gz", "src": "/srv/a.tar.gz",
                                     "sha256": "ab" * 32, "version": "3.12.7"}, "mutually exclusive: url|src"),
    (python_runtime, RuntimeAction, {"archive": "a.tar.gz", "url": "https://mirror.invalid/a.tar.gz"},
     "mutually exclusive: url|src|archive"),
    (python_runtime, RuntimeAction, {"layer_cache": {"path": "/c", "url": "https://cache.invalid/"}},
     "mutually exclusive: path|controller_path|url"),
    (app_dependencies, DepsAction, {"project_dir": "/srv/app", "instaler": "pip"}, "Unsupported parameters"),
    (app_dependencies, DepsAction, {"location": "venv"}, "missing required arguments: project_dir"),
    (app_dependencies, DepsAction, {"project_dir": "/srv/app", "location": "somewhere"}, "location"),
]


def _module_says(module, args, name, tmp_path):
    """What the module itself answers for args: the module file run as Ansible's debugging entry point runs it."""
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_module_name=name)}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(COLLECTIONS_DIR)] + sys.path))
    proc = subprocess.run([sys.executable, module.__file__, str(args_file)], capture_output=True, text=True,
                          env=env, check=False, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("module, action_class, args, says", BAD)
def test_bad_arguments_fail_in_the_action_plugin_as_in_the_module(make_action, tmp_path, module, action_class,
                                                                  args, says):
    name = "appenv.python." + module.__name__.rsplit(".", 1)[-1]
    action, recorder = make_action(action_class, args)
    action._task.action = name
    result = action.run(task_vars=dict(X86))
    assert result["failed"] is True and result["changed"] is False
    assert says in result["msg"], result["msg"]
    assert recorder.calls == []  # nothing ran on the host, nothing was resolved or pushed first
    assert result["msg"] == _module_says(module, args, name, tmp_path)["msg"]


def test_good_arguments_pass():
    assert invalid_arguments("appenv.python.app_dependencies", spec("app_dependencies"),
                             {"project_dir": "/srv/app", "layer_cache": {"path": "/var/cache/appenv"}}) is None
    assert invalid_arguments("appenv.python.python_runtime", spec("python_runtime"), {"version": "3.12"}) is None


@pytest.mark.parametrize("module, old, new, value", [
    (app_dependencies, "bytecode", "invalidation_mode", "none"),
])
def test_an_old_option_name_is_an_alias_of_the_new_one(module, old, new, value):
    """Renamed for one name per concept across the modules: the old name still sets the option (and warns)."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    spec_ = spec(module.__name__.rsplit(".", 1)[-1])
    assert old in spec_["argument_spec"][new]["aliases"]
    assert [alias["name"] for alias in spec_["argument_spec"][new]["deprecated_aliases"]] == [old]
    validated = ArgumentSpecValidator(spec_["argument_spec"]).validate({"project_dir": "/srv/app", old: value})
    assert not validated.errors.errors and validated.validated_parameters[new] == value


@pytest.mark.parametrize("action_class, args", [(PipToolingAction, {"index_url": "http://127.0.0.1:1/simple"}),
                                                (PycCompileAction, {"paths": ["/srv/app"]})])
@pytest.mark.parametrize("check_mode", [False, True])
def test_a_module_run_action_runs_the_task_as_ansible_does_with_the_collector_off(make_action, action_class, args,
                                                                                  check_mode):
    """pip_tooling's and pyc_compile's action plugins: Ansible's own run of the task's module and arguments."""
    answer = {"changed": False, "layer_action": "kept", "reasons": []}
    action, recorder = make_action(action_class, args, answers=[answer], check_mode=check_mode)
    assert gc.isenabled()
    result = action.run(task_vars={})
    assert recorder.calls == [(None, None)]  # no module name, no arguments: the task's own
    assert recorder.collector == [False] and gc.isenabled()
    assert (result["changed"], result["layer_action"]) == (False, "kept")


@pytest.mark.parametrize("action_class, args, says", [
    (PipToolingAction, {"tools": [{"name": "uv"}], "tool_dir": "/opt/tools"},
     "Unsupported parameters for (appenv.python.pip_tooling) module: tool_dir"),
    (PycCompileAction, {"paths": ["/srv/app"], "optimize": [3]}, "optimize"),
    (PycCompileAction, {}, "missing required arguments: paths"),
])
def test_a_module_run_action_checks_the_arguments_before_the_module_runs(make_action, action_class, args, says):
    """The engine's own check would name the engine; the plugin's names the task's module, as the module would."""
    action, recorder = make_action(action_class, args)
    action._task.action = "appenv.python." + action.NAME
    result = action.run(task_vars={})
    assert result["failed"] is True and says in result["msg"], result["msg"]
    assert recorder.calls == []
