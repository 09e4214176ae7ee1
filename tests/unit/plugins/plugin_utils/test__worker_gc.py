"""The garbage collector is off inside the block and as it was after it (an error included); in a task's worker process
what exists when the first block ends is frozen, never walked again by the collector."""

import gc
import multiprocessing

import pytest

from ansible_collections.appenv.python.plugins.plugin_utils._worker_gc import collector_paused, in_worker_process


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


def _collector_after_blocks(queue):
    gc.enable()
    states = []
    for _item in range(2):  # a loop's items: the first block freezes, the second finds it done
        with collector_paused():
            states.append(gc.isenabled())
        states.append((gc.isenabled(), gc.get_freeze_count() > 0))
    queue.put(states)


def test_in_a_worker_process_what_exists_after_the_first_block_is_frozen_and_the_collector_back_on():
    """Ansible's workers are forked multiprocessing children that end with their task."""
    assert not in_worker_process() and gc.get_freeze_count() == 0
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    worker = context.Process(target=_collector_after_blocks, args=(queue,))
    worker.start()
    try:
        assert queue.get(timeout=30) == [False, (True, True), False, (True, True)]
    finally:
        worker.join(30)
    assert worker.exitcode == 0
    assert gc.get_freeze_count() == 0  # nothing frozen outside a worker
