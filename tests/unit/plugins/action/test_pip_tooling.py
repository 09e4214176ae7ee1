"""The controller half of pip_tooling: Ansible's own module run of the task, with the garbage collector paused while it
runs (Ansible builds the module's payload then: plugin_utils/_worker_gc.py)."""

import gc

from ansible_collections.appenv.python.plugins.action.pip_tooling import ActionModule


def test_the_module_runs_once_as_the_task_names_it_with_the_collector_paused(make_action):
    answer = {"changed": False, "layer_action": "kept", "reasons": []}
    action, recorder = make_action(ActionModule, {"index_url": "http://127.0.0.1:1/simple"}, answers=[answer])
    assert gc.isenabled()
    result = action.run(task_vars={})
    assert recorder.calls == [(None, None)]  # Ansible's own run: the task's module and arguments
    assert recorder.collector == [False] and gc.isenabled()
    assert (result["changed"], result["layer_action"]) == (False, "kept")


def test_check_mode_reaches_the_module(make_action):
    action, recorder = make_action(ActionModule, {}, check_mode=True)
    action.run(task_vars={})
    assert len(recorder.calls) == 1
