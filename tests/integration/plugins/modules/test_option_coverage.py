"""Options no other test ran: python_runtime's archive (pushed from the controller) and src (already on the
host); pyc_compile's exclude and remove_orphans. Each run is a check-mode run then a real one
(harness.check_then_real_task): the prediction must match, and the second real run must keep."""

import pytest

from tests.integration import harness
from tests.integration.hosts import DEFAULT_DEST, start_host
from tests.testbed import runtimes

pytestmark = pytest.mark.integration

VERSION = runtimes.exact_version("3.11")
PROBE = "import sys; print(sys.version.split()[0], sys.prefix)"


@pytest.fixture(scope="module")
def host(amd64_image):
    started = start_host(amd64_image, "x86_64", network="host")
    yield started
    started.container.remove()


def twice(host, module, args):
    """check mode then real (predicted), then again (kept, nothing started); the first real result."""
    first = harness.assert_ok(harness.check_then_real_task(host, module, args))
    again = harness.assert_ok(harness.check_then_real_task(host, module, args))
    assert (again["layer_action"], again["commands"]) == ("kept", []), again
    return first


def test_python_runtime_from_an_archive_pushed_from_the_controller_or_one_on_the_host(host, runtime_mirror):
    facts = runtime_mirror.ensure(VERSION, "x86_64")
    # archive: a file on the controller, its sha256 from the SHA256SUMS beside it.
    pushed = twice(host, "appenv.python.python_runtime", {"archive": facts["path"], "dest": DEFAULT_DEST})
    assert (pushed["layer_action"], pushed["python_version"]) == ("created", VERSION), pushed
    assert host.exec([DEFAULT_DEST + "/bin/python3", "-c", PROBE]).stdout.split() == [VERSION, DEFAULT_DEST]
    # The archive crossed the connection into a temporary directory, which is gone again.
    assert not host.exists("/root/.ansible/tmp") or host.sh("ls -A /root/.ansible/tmp").stdout.strip() == ""

    # src: an archive already on the host, with its sha256 and exact version.
    host.container.copy_in(facts["path"], "/tmp/runtime.tar.gz")
    local = twice(host, "appenv.python.python_runtime", {"src": "/tmp/runtime.tar.gz", "sha256": facts["sha256"],
                                                         "version": VERSION, "dest": "/opt/appenv/python-src"})
    assert (local["layer_action"], local["python_version"]) == ("created", VERSION), local
    out = host.exec(["/opt/appenv/python-src/bin/python3", "-c", PROBE]).stdout.split()
    assert out == [VERSION, "/opt/appenv/python-src"]


def pycs(host):
    return sorted(host.sh("cd /srv/app && find . -name '*.pyc' | sort").stdout.split())


def test_pyc_compile_exclude_and_remove_orphans(host, runtime_mirror):
    runtime_mirror.ensure(VERSION, "x86_64")
    harness.assert_ok(harness.run_task(host, "appenv.python.python_runtime", {
        "version": "3.11", "mirror": runtime_mirror.base_url, "release": runtime_mirror.tag}))
    host.sh("rm -rf /srv/app /var/lib/appenv/pyc && mkdir -p /srv/app/pkg /srv/app/tests && "
            "echo 'A = 1' > /srv/app/pkg/a.py && echo 'B = 1' > /srv/app/pkg/b.py && "
            "echo 'T = 1' > /srv/app/tests/test_a.py")
    args = {"paths": ["/srv/app"], "interpreter": DEFAULT_DEST + "/bin/python3", "exclude": ["/tests/"]}
    first = twice(host, "appenv.python.pyc_compile", args)
    assert (first["layer_action"], first["sources"], first["compiled"]) == ("created", 2, 2), first
    assert pycs(host) == ["./pkg/__pycache__/a.cpython-311.pyc", "./pkg/__pycache__/b.cpython-311.pyc"]

    # An orphan: b.py is gone, its pyc stays. remove_orphans: false leaves it where a change recompiles.
    host.sh("rm /srv/app/pkg/b.py && echo 'A = 2' > /srv/app/pkg/a.py")
    kept_orphan = twice(host, "appenv.python.pyc_compile", dict(args, remove_orphans=False))
    assert kept_orphan["layer_action"] in ("updated", "recreated") and kept_orphan["removed"] == 0, kept_orphan
    assert "./pkg/__pycache__/b.cpython-311.pyc" in pycs(host)
    # remove_orphans: true (the default) removes it with the next change.
    host.sh("echo 'A = 3' > /srv/app/pkg/a.py")
    removed = twice(host, "appenv.python.pyc_compile", args)
    assert removed["removed"] >= 1, removed
    assert pycs(host) == ["./pkg/__pycache__/a.cpython-311.pyc"]
