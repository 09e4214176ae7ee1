"""The garbage collector is off inside the block; after it, as it was (an error included), except in a task's worker
process, where it stays off until the worker ends."""

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
