"""app_dependencies with location: system: a failed install rolls back the runtime's site-packages and bin/."""

import pytest

from tests.integration import harness
from tests.integration.hosts import DEFAULT_DEST, install_deps, install_runtime_and_tooling
from tests.integration.plugins.modules.test_app_dependencies import write_files

pytestmark = pytest.mark.integration


def test_a_failed_system_install_puts_back_the_old_console_scripts(amd64_host, runtime_mirror, package_index):
    install_runtime_and_tooling(amd64_host, runtime_mirror, package_index)
    write_files(amd64_host, {"requirements.txt": "demo-alpha==1.0\n"})
    predicted = install_deps(amd64_host, package_index, location="system", check=True)
    first = harness.assert_ok(install_deps(amd64_host, package_index, location="system"))
    assert (predicted["layer_action"], predicted["reasons"]) == (first["layer_action"], first["reasons"])
    again = harness.assert_ok(install_deps(amd64_host, package_index, location="system"))
    assert (again["layer_action"], again["changed"]) == ("kept", False)
    script = DEFAULT_DEST + "/bin/demo-alpha"
    before = amd64_host.exec(["cat", script]).stdout
    assert "demo_alpha" in before

    # The next deploy removes demo-alpha (and its script), then its install fails: both come back.
    write_files(amd64_host, {"requirements.txt": "demo-gamma==1.0\ndemo-nowhere==9\n"})
    failed = install_deps(amd64_host, package_index, location="system")
    assert harness.error_of(failed)["title"] == "A dependency is not on the package index"
    assert amd64_host.exec(["cat", script]).stdout == before
    out = amd64_host.sh("ls %s/bin %s/.appenv-deps-scripts 2>&1 || true" % (DEFAULT_DEST, DEFAULT_DEST)).stdout
    assert "No such file" in out and "demo-gamma" not in out, out
    # The old layer is whole: the same inputs again are a no-op.
    write_files(amd64_host, {"requirements.txt": "demo-alpha==1.0\n"})
    kept = harness.assert_ok(install_deps(amd64_host, package_index, location="system"))
    assert (kept["layer_action"], kept["changed"]) == ("kept", False), kept
    assert amd64_host.exec(["test", "-x", script], check=False).returncode == 0
