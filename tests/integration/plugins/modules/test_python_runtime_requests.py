"""python_runtime's version requests as apps write them, on a real Debian host (x86_64).

The loopback mirror's release holds the test bed's 3.11 and 3.13 archives; the action plugin resolves against
its SHA256SUMS. What is checked is what the user sees: the version installed and the warnings Ansible prints.
"""

import json

import pytest

from tests.integration import harness
from tests.integration.hosts import DEFAULT_DEST
from tests.testbed import runtimes

pytestmark = pytest.mark.integration


def warnings_of(result):
    """The task's warnings as one text (Ansible may hand them over as strings or as summaries)."""
    return json.dumps(result.get("warnings") or [])


def install(host, runtime_mirror, project_dir, check=False, **args):
    for version in (runtimes.PY311, runtimes.py313_version()):
        runtime_mirror.ensure(version, host.arch)
    task = {"project_dir": str(project_dir), "mirror": runtime_mirror.base_url, "release": runtime_mirror.tag,
            "dest": DEFAULT_DEST}
    task.update(args)
    return harness.run_task(host, "appenv.python.python_runtime", task, check=check)


def test_an_app_with_only_requirements_gets_the_newest_python_and_a_pin_warning(amd64_host, runtime_mirror, tmp_path):
    (tmp_path / "requirements.txt").write_text("demo-alpha==1.0\n")
    newest = runtimes.py313_version()
    predicted = harness.assert_ok(install(amd64_host, runtime_mirror, tmp_path, check=True))
    first = harness.assert_ok(install(amd64_host, runtime_mirror, tmp_path))
    assert (first["layer_action"], first["python_version"]) == ("created", newest)
    assert (predicted["layer_action"], predicted["reasons"]) == (first["layer_action"], first["reasons"])
    assert first["resolution"]["source"] == "nothing requested"
    shown = warnings_of(first)
    assert "No Python version was requested" in shown and "version: '3.13'" in shown
    again = harness.assert_ok(install(amd64_host, runtime_mirror, tmp_path))
    assert (again["changed"], again["layer_action"]) == (False, "kept")
    assert "No Python version was requested" in warnings_of(again)  # every run, until it is pinned

    # Pinned the way the warning says: the same runtime, kept, and no warning any more.
    (tmp_path / ".python-version").write_text("3.13\n")
    pinned = harness.assert_ok(install(amd64_host, runtime_mirror, tmp_path))
    assert (pinned["changed"], pinned["layer_action"]) == (False, "kept")
    assert "No Python version was requested" not in warnings_of(pinned)


def test_requires_python_as_poetry_writes_it(amd64_host, runtime_mirror, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\nrequires-python = "3.11.*"\n')
    first = harness.assert_ok(install(amd64_host, runtime_mirror, tmp_path))
    assert (first["layer_action"], first["python_version"]) == ("created", runtimes.PY311)
    shown = warnings_of(first)
    assert "not a PEP 440 specifier" in shown and "==3.11.*" in shown

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\nrequires-python = "python3.11"\n')
    refused = install(amd64_host, runtime_mirror, tmp_path)
    assert refused["failed"] and harness.error_of(refused)["code"] == "version_request_invalid"
    assert "==3.12.*" in refused["msg"]
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\nrequires-python = "==3.11.*"\n')
    fixed = harness.assert_ok(install(amd64_host, runtime_mirror, tmp_path))
    assert (fixed["changed"], fixed["layer_action"]) == (False, "kept") and "PEP 440" not in warnings_of(fixed)
