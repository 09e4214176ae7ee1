"""Records every fault scenario's outcome for docs/reliability.md (see reliability.py for the convention)."""

import pytest

from tests.integration.faults import reliability


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


def pytest_configure(config):
    reliability.register(config)
