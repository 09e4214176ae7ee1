"""The hostile-user suite is part of the fault suite: its scenarios are rows of docs/reliability.md
(see tests/integration/faults/reliability.py for the convention)."""

from tests.integration.faults import reliability


def pytest_configure(config):
    reliability.register(config)
