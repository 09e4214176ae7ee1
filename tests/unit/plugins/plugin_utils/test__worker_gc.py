"""The garbage collector is off inside the block; after it, as it was (an error included), except in a task's worker
process, where it stays off until the worker ends."""

import gc
import multiprocessing

import pytest

from ansible_collections.appenv.python.plugins.action.pip_tooling import ActionModule as PipToolingAction
from ansible_collections.appenv.python.plugins.action.pyc_compile import ActionModule as PycCompileAction
from ansible_collections.appenv.python.plugins.plugin_utils._worker_gc import collector_paused, in_worker_process
from tests.unit.plugins.action.conftest import make_action  # noqa: F401 pylint: disable=unused-import


@pytest.fixture
def collector_state():
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_paused_inside_and_resumed_after(collector_state):
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_resumed_after_an_error(collector_state):
    gc.enable()
    with pytest.raises(RuntimeError):
        with collector_paused():
            raise RuntimeError("the module run failed")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(collector_state):
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_nested_blocks_resume_only_at_the_outermost(collector_state):
    gc.enable()
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def _collector_after_block(queue):
    gc.enable()
    with collector_paused():
        pass
    queue.put(gc.isenabled())


def test_in_a_worker_process_it_stays_off_until_the_worker_ends():
    """Ansible's workers are forked multiprocessing children that end with their task."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    worker = context.Process(target=_collector_after_block, args=(queue,))
    worker.start()
    try:
        assert queue.get(timeout=30) is False
    finally:
        worker.join(30)
    assert worker.exitcode == 0
    assert not in_worker_process()


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
