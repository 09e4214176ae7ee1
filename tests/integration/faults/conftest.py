"""Records every fault scenario's outcome for docs/reliability.md (see reliability.py for the convention)."""

import pytest

from tests.integration.faults import reliability

_RECORDER = reliability.Recorder()


@pytest.fixture(autouse=True)
def _modules_run_from_files(monkeypatch):
    """Without pipelining each module runs as `python3 …/AnsiballZ_<module>.py`: the kills and the checks for
    leftover module processes find it by that name (piped modules are anonymous python3 processes)."""
    monkeypatch.setenv("APPENV_TEST_PIPELINING", "False")


@pytest.fixture
def pipelined(monkeypatch):
    """For scenarios that kill nothing: modules piped to the host's Python, as the roles and molecule run them
    (one `docker exec` a run instead of five): the 200-run series took 162 s instead of 298 s."""
    monkeypatch.setenv("APPENV_TEST_PIPELINING", "True")


def pytest_deselected(items):
    _RECORDER.deselect(items)


def pytest_collection_finish(session):
    _RECORDER.collected(session.items)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _RECORDER.report(outcome.get_result())


def pytest_sessionfinish(session, exitstatus):
    if session.config.option.collectonly:
        return
    if hasattr(session.config, "workerinput"):
        # A pytest-xdist worker sees only its share of the scenarios: the record comes from a run of the
        # fault suite in one process (make reliability).
        return
    path = _RECORDER.write(session.config.args, exitstatus == pytest.ExitCode.INTERRUPTED or session.shouldstop)
    if path is not None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("reliability record: %s" % path.relative_to(reliability.REPO_ROOT))
