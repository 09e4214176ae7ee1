"""The molecule scenarios (extensions/molecule/<name>/), each on its real Debian host: the way users test the roles.

Each scenario's test sequence runs in one `molecule test` (molecule_env.run_test); each step is timed by the
controller's clock from molecule's own step lines, so the wall time of the first converge and of the second
(no-op) converge are reported (pytest -s prints them; the issue's closing note quotes them).
"""

import pytest

from tests.integration import molecule_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STEPS = ("destroy", "create", "converge", "idempotence", "verify", "destroy")
# Check mode is predicted for the whole role on a new host in tests/integration/roles; molecule's own
# check step (the converge playbook with --check, on the fresh host before converge) runs in the default scenario
# only, to keep CI short.
CHECK_STEPS = ("destroy", "create", "check", "converge", "idempotence", "verify", "destroy")


@pytest.mark.parametrize("scenario", [
    "default",
    "trixie",
    "ssh",
    pytest.param("aarch64", marks=pytest.mark.arm64),
])
def test_molecule_scenario(scenario, docker_ready):
    steps = CHECK_STEPS if scenario == "default" else STEPS
    assert tuple(molecule_env.test_sequence(scenario)) == steps
    results = molecule_env.run_test(scenario)
    timings = ", ".join("%s %.1fs" % (step, seconds) for step, _rc, seconds, _out in results)
    print("\nmolecule %s: %s" % (scenario, timings))
    for step, rc, _seconds, output in results:
        assert rc == 0, "molecule %s -s %s failed:\n%s" % (step, scenario, output[-6000:])
    assert [step for step, _rc, _s, _o in results] == list(steps)
