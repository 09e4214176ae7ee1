"""Records every fault scenario's outcome for docs/reliability.md (see reliability.py for the convention), and the
host states the scenarios start from (prepared.py)."""

import pytest

from tests.integration import harness
from tests.integration.faults import prepared, reliability
from tests.integration.hosts import make_package_index, runtime_args
from tests.integration.plugins.modules.test_app_dependencies import APP, project_files, run_app, write_files

# How the states are made, whichever test first asks for one: modules run from files, as in the fault suite.
NOT_PIPED = {"ANSIBLE_PIPELINING": "False"}


@pytest.fixture(autouse=True)
def _modules_run_from_files(monkeypatch):
    """Without pipelining each module runs as `python3 …/AnsiballZ_engine.py` (injection.ansiballz_file): the kills
    and the checks for leftover module processes find it by that name (piped modules are anonymous python3
    processes)."""
    monkeypatch.setenv("APPENV_TEST_PIPELINING", "False")


@pytest.fixture
def pipelined(monkeypatch):
    """For scenarios that kill nothing: modules piped to the host's Python, as the roles and molecule run them
    (one `docker exec` a run instead of five): the 200-run series took 162 s instead of 298 s."""
    monkeypatch.setenv("APPENV_TEST_PIPELINING", "True")


@pytest.fixture(scope="session")
def package_index(index_server):
    """One package index for the fault suite (no scenario changes an index): the prepared states' fingerprints
    name its URL, so a test's next run against it keeps what the state holds."""
    return make_package_index(*index_server, ["x86_64"])


@pytest.fixture(scope="session")
def states(amd64_image, tmp_path_factory):
    return prepared.States(amd64_image, "x86_64", tmp_path_factory.mktemp("fault-states"))


@pytest.fixture(scope="session")
def runtime_state(states, runtime_mirror):
    """A host where python_runtime installed CPython 3.11 at the default dest (created)."""
    def build(host):
        result = harness.assert_ok(harness.run_task(host, "appenv.python.python_runtime",
                                                    runtime_args(host, runtime_mirror, "3.11"), env=NOT_PIPED))
        assert result["layer_action"] == "created", result

    return states.get("runtime", build)


@pytest.fixture(scope="session")
def tools_state(states, runtime_state, package_index):
    """runtime_state, then pip_tooling with the default tools from package_index (tests/integration/plugins/
    modules/test_app_dependencies.prepare)."""
    def build(host):
        harness.assert_ok(harness.run_task(host, "appenv.python.pip_tooling", {
            "index_url": package_index.simple_url, "tools": []}, env=NOT_PIPED))

    return states.get("tools", build, base=runtime_state)


@pytest.fixture(scope="session")
def app_state(states, tools_state, package_index):
    """tools_state, then the app's requirements and a working dependency layer (created, the app imports 1.0); its
    payload is app_dependencies' result."""
    def build(host):
        write_files(host, project_files("requirements", package_index))
        good = harness.assert_ok(harness.run_task(host, "appenv.python.app_dependencies", {
            "project_dir": APP, "index_url": package_index.simple_url}, env=NOT_PIPED))
        assert good["layer_action"] == "created" and run_app(host, good) == "1.0"
        return good

    return states.get("app", build, base=tools_state)


def pytest_configure(config):
    reliability.register(config)
