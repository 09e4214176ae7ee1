"""Shared pytest set-up: the collection is importable and Ansible finds it."""

from tests.collection_path import ensure_collection_path
from tests.timing import TimingPlugin

ensure_collection_path()


def pytest_configure(config):
    for marker, text in (
        ("integration", "drives real ansible-playbook runs against real Debian containers (needs Docker)"),
        ("arm64", "runs on an emulated aarch64 host (slow)"),
        ("faults", "fault injection against real hosts"),
        ("online", "uses the real package registry; skip offline with -m 'not online'"),
        ("slow", "takes more than a minute"),
    ):
        config.addinivalue_line("markers", "%s: %s" % (marker, text))
    if not hasattr(config, "workerinput"):  # the controlling process (xdist workers send it their reports)
        config.pluginmanager.register(TimingPlugin(config), "appenv-timing")


# Longest first: with several workers (make test runs pytest-xdist) the emulated aarch64 and molecule runs
# start at once instead of being left for the end, where one worker would run them while the others idle.
_ORDER = ("arm64", "slow", "faults", "integration")


def _rank(item):
    for rank, marker in enumerate(_ORDER):
        if item.get_closest_marker(marker) is not None:
            return rank
    return len(_ORDER)


def pytest_collection_modifyitems(items):
    items.sort(key=_rank)
