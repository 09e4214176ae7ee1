"""The action plugins run their module's host side as appenv.python.engine, named by the module's name: one payload a
run for every module of the collection, each run named (its messages, its syslog name) after the task's module."""

import pytest
from ansible.plugins.action import ActionBase

from ansible_collections.appenv.python.plugins.action.app_code import ActionModule as CodeAction
from ansible_collections.appenv.python.plugins.action.pip_tooling import ActionModule as PipToolingAction
from ansible_collections.appenv.python.plugins.module_utils._modules import ENGINE, NAMES, SELECTOR
from ansible_collections.appenv.python.plugins.plugin_utils._engine import engine_call
from tests.unit.plugins.action.conftest import make_action  # noqa: F401 pylint: disable=unused-import


@pytest.mark.parametrize("name", NAMES)
def test_each_module_of_the_collection_runs_as_the_engine_with_its_name(name):
    args = {"force": True}
    assert engine_call("appenv.python." + name, args) == (ENGINE, {"force": True, SELECTOR: name})
    assert args == {"force": True}  # the task's arguments are not changed


@pytest.mark.parametrize("module", ["ansible.builtin.command", "appenv.python.layer_cache_info", "pip_tooling",
                                    "other.collection.pip_tooling"])
def test_any_other_module_runs_as_itself(module):
    assert engine_call(module, {"a": 1}) == (module, {"a": 1})


@pytest.fixture
def base_calls(monkeypatch):
    """ActionBase._execute_module (what reaches the host) recorded."""
    calls = []
    monkeypatch.setattr(ActionBase, "_execute_module", lambda self, module_name=None, module_args=None, *a, **k:
                        calls.append((module_name, module_args)) or {"changed": False})
    return calls


def test_the_tasks_own_module_and_a_named_one_both_run_as_the_engine(make_action, base_calls):
    action, _recorder = make_action(PipToolingAction, {"tools": [{"name": "uv"}]})
    del action._execute_module  # the plugin's own, not the fixture's recorder
    action._execute_module(task_vars={})  # as ansible.builtin.normal calls it: the task's module and arguments
    action._execute_module(module_name="appenv.python.app_code", module_args={"src": "/a"}, task_vars={})
    action._execute_module(module_name="ansible.builtin.stat", module_args={"path": "/a"}, task_vars={})
    assert base_calls == [(ENGINE, {"tools": [{"name": "uv"}], SELECTOR: "pip_tooling"}),
                          (ENGINE, {"src": "/a", SELECTOR: "app_code"}),
                          ("ansible.builtin.stat", {"path": "/a"})]


def test_the_engine_calls_itself_after_the_tasks_module(make_action):
    action, _recorder = make_action(CodeAction, {})
    args = {"src": "/a", SELECTOR: "app_code"}
    action._update_module_args(ENGINE, args, {})
    assert args["_ansible_module_name"] == "appenv.python.app_code"
    other = {"path": "/a"}
    action._update_module_args("ansible.builtin.stat", other, {})
    assert other["_ansible_module_name"] == "ansible.builtin.stat"
