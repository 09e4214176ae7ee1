"""An action plugin checks its task's arguments with its module's own spec: a typo, a wrong type or exclusive
options fail before any controller work, with the message the module itself gives for them."""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.appenv.python.plugins.action.app_dependencies import ActionModule as DepsAction
from ansible_collections.appenv.python.plugins.action.python_runtime import ActionModule as RuntimeAction
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
    assert invalid_arguments("appenv.python.app_dependencies", app_dependencies.module_spec(),
                             {"project_dir": "/srv/app", "layer_cache": {"path": "/var/cache/appenv"}}) is None
    assert invalid_arguments("appenv.python.python_runtime", python_runtime.module_spec(), {"version": "3.12"}) is None


@pytest.mark.parametrize("module, old, new, value", [
    (app_dependencies, "bytecode", "invalidation_mode", "none"),
])
def test_an_old_option_name_is_an_alias_of_the_new_one(module, old, new, value):
    """Renamed for one name per concept across the modules: the old name still sets the option (and warns)."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    spec = module.module_spec()
    assert old in spec["argument_spec"][new]["aliases"]
    assert [alias["name"] for alias in spec["argument_spec"][new]["deprecated_aliases"]] == [old]
    validated = ArgumentSpecValidator(spec["argument_spec"]).validate({"project_dir": "/srv/app", old: value})
    assert not validated.errors.errors and validated.validated_parameters[new] == value
