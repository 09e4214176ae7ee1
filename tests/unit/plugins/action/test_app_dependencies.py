"""The controller half of app_dependencies: the task's arguments go to the module unchanged unless the layer cache
lives on the controller, in which case the module is asked first what it would do."""

import gc

from ansible_collections.appenv.python.plugins.action.app_dependencies import ActionModule

MODULE = "appenv.python.app_dependencies"
ARGS = {"project_dir": "/srv/app", "runtime": "/opt/appenv/python", "dest": "/srv/app/.deps",
        "installer": "pip", "index_password": "s3cret"}


def test_without_a_controller_cache_the_module_runs_once_with_the_tasks_arguments(make_action):
    answer = {"changed": True, "layer_action": "created", "reasons": ["no app_dependencies layer at /srv/app/.deps yet"]}
    action, recorder = make_action(ActionModule, ARGS, answers=[answer])
    result = action.run(task_vars={})
    assert recorder.calls == [(MODULE, ARGS)]
    assert (result["changed"], result["layer_action"], result["reasons"]) == (True, "created", answer["reasons"])


def test_a_cache_on_the_host_is_the_modules_business(make_action):
    args = dict(ARGS, layer_cache={"path": "/var/cache/appenv", "max_size_mb": 100})
    action, recorder = make_action(ActionModule, args)
    action.run(task_vars={})
    assert recorder.calls == [(MODULE, args)]


def test_a_controller_cache_asks_the_module_first_and_a_kept_layer_costs_nothing_more(make_action, tmp_path):
    args = dict(ARGS, layer_cache={"controller_path": str(tmp_path / "cache"), "hmac_key": "k"})
    action, recorder = make_action(ActionModule, args, answers=[{"changed": False, "layer_action": "kept"}])
    result = action.run(task_vars={})
    assert recorder.args == [dict(args, _decide_only=True), args]
    assert (result["changed"], result["layer_action"]) == (False, "kept")


def test_a_failed_decision_is_the_result(make_action, tmp_path):
    failure = {"failed": True, "msg": "Runtime not found", "error": {"code": "runtime_missing"}}
    args = dict(ARGS, layer_cache={"controller_path": str(tmp_path / "cache"), "hmac_key": "k"})
    action, recorder = make_action(ActionModule, args, answers=[failure])
    result = action.run(task_vars={})
    assert recorder.args == [dict(args, _decide_only=True)]
    assert result["failed"] is True and result["error"] == {"code": "runtime_missing"}


def test_check_mode_with_an_empty_controller_cache_predicts_a_build(make_action, tmp_path):
    args = dict(ARGS, layer_cache={"controller_path": str(tmp_path / "cache"), "hmac_key": "k"})
    decision = {"changed": False, "layer_action": "created", "key": "ab" * 32, "reasons": ["no layer yet"]}
    predicted = {"changed": True, "layer_action": "created", "reasons": ["no layer yet"]}
    action, recorder = make_action(ActionModule, args, answers=[decision, predicted], check_mode=True)
    result = action.run(task_vars={})
    assert recorder.args == [dict(args, _decide_only=True), args]
    assert (result["layer_action"], result["reasons"]) == ("created", ["no layer yet"])
    assert not (tmp_path / "cache").exists()  # check mode leaves the controller as it was too


def test_the_module_runs_with_the_garbage_collector_paused_and_resumed_after(make_action, tmp_path):
    """Ansible builds the module's payload inside the module run (plugin_utils/_worker_gc.py)."""
    args = dict(ARGS, layer_cache={"controller_path": str(tmp_path / "cache"), "hmac_key": "k"})
    action, recorder = make_action(ActionModule, args)
    assert gc.isenabled()
    action.run(task_vars={})
    assert recorder.collector == [False, False] and gc.isenabled()
