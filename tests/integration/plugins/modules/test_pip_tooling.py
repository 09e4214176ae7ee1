"""pip_tooling on real Debian hosts: packaging tools in the runtime, uv/poetry/pipenv in their own venvs."""

import json

import pytest

from tests.integration import harness
from tests.integration.hosts import DEFAULT_DEST, install_runtime, install_tooling
from tests.integration.harness import error_of
from tests.testbed.package_index import OLD_PIP, TOOL_VERSIONS

pytestmark = pytest.mark.integration


def pip_version(host, dest=DEFAULT_DEST):
    return host.exec([dest + "/bin/python3", "-m", "pip", "--version"]).stdout.split()[1]


def test_tools_install_once_and_no_op_starts_nothing(amd64_host, runtime_mirror, package_index):
    harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
    tools = [{"name": "uv"}, {"name": "poetry"}, {"name": "pipenv"}]
    predicted = harness.assert_ok(install_tooling(amd64_host, package_index, check=True, tools=tools))
    assert predicted["changed"] and predicted["layer_action"] == "created"
    first = harness.assert_ok(install_tooling(amd64_host, package_index, tools=tools))
    assert first["layer_action"] == "created" and first["reasons"] == predicted["reasons"]
    assert first["packages"] == {"pip": TOOL_VERSIONS["pip"], "setuptools": TOOL_VERSIONS["setuptools"],
                                 "wheel": TOOL_VERSIONS["wheel"]}
    assert pip_version(amd64_host) == TOOL_VERSIONS["pip"]
    for name in ("uv", "poetry", "pipenv"):
        info = first["tools"][name]
        assert info["version"] == TOOL_VERSIONS[name]
        out = amd64_host.exec([info["executable"], "--version"]).stdout
        assert TOOL_VERSIONS[name] in out, out
    # Installed with --no-compile, then compiled unchecked-hash (flags word 1) by the runtime.
    script = ("import glob, sys; p = glob.glob(sys.argv[1] + '/lib/python3.11/site-packages/pip/__pycache__/"
              "__init__.cpython-311.pyc')[0]; print(int.from_bytes(open(p, 'rb').read(8)[4:8], 'little'))")
    assert amd64_host.exec([DEFAULT_DEST + "/bin/python3", "-c", script, DEFAULT_DEST]).stdout.strip() == "1"
    # The poetry venv has its export plugin (app_dependencies reads poetry.lock through it).
    out = amd64_host.exec([first["tools"]["poetry"]["executable"], "export", "--help"]).stdout
    assert "requirements.txt" in out

    check = harness.assert_ok(install_tooling(amd64_host, package_index, check=True, tools=tools))
    again = harness.assert_ok(install_tooling(amd64_host, package_index, tools=tools))
    assert (check["changed"], check["layer_action"]) == (False, "kept")
    assert (again["changed"], again["layer_action"]) == (False, "kept")
    assert again["commands"] == [], "a no-op run started a process"

    # The runtime itself stays "kept": pip's upgraded scripts belong to pip_tooling, not to the runtime layer.
    runtime_again = harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
    assert runtime_again["layer_action"] == "kept", runtime_again["reasons"]


def test_version_change_hand_damage_and_new_runtime(amd64_host, runtime_mirror, package_index):
    harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
    harness.assert_ok(install_tooling(amd64_host, package_index, tools=[{"name": "uv"}]))

    older = harness.assert_ok(install_tooling(amd64_host, package_index, pip=OLD_PIP, tools=[{"name": "uv"}]))
    assert older["layer_action"] == "recreated"
    assert any("Packaging tools" in reason and OLD_PIP in reason for reason in older["reasons"]), older["reasons"]
    assert pip_version(amd64_host) == OLD_PIP
    layers = dict((layer["name"], layer["layer_action"]) for layer in older["layers"])
    assert layers == {"packaging": "recreated", "uv": "kept"}, "only the changed part is reinstalled"

    # Deleted by hand: the uv executable and a file of setuptools.
    amd64_host.sh("rm /opt/appenv/tools/uv/bin/uv; rm -r %s/lib/python3.11/site-packages/setuptools/command"
                  % DEFAULT_DEST)
    repaired = harness.assert_ok(install_tooling(amd64_host, package_index, pip=OLD_PIP, tools=[{"name": "uv"}]))
    assert repaired["layer_action"] == "recreated"
    text = " ".join(repaired["reasons"])
    assert "setuptools" in text and "/opt/appenv/tools/uv/bin/uv is missing" in text, repaired["reasons"]
    amd64_host.exec(["/opt/appenv/tools/uv/bin/uv", "--version"])
    amd64_host.exec([DEFAULT_DEST + "/bin/python3", "-c", "import setuptools.command.build_py"])

    # A new runtime (another Python) reinstalls everything on top of it.
    harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.13"))
    moved = harness.assert_ok(install_tooling(amd64_host, package_index, pip=OLD_PIP, tools=[{"name": "uv"}]))
    layers = dict((layer["name"], layer) for layer in moved["layers"])
    # The new runtime came without pip_tooling's record (it lives in the runtime), so that part is created.
    assert layers["packaging"]["layer_action"] == "created"
    assert layers["uv"]["layer_action"] == "recreated"
    assert "Python version changed from 3.11.2 to 3.13.5" in layers["uv"]["reasons"], layers["uv"]["reasons"]
    assert moved["interpreter"].endswith("python3.13")
    amd64_host.exec(["/opt/appenv/tools/uv/bin/python", "-c", "import sys; assert sys.version_info[:2] == (3, 13)"])


def test_bad_input_is_a_titled_error(amd64_host, runtime_mirror, package_index):
    missing = install_tooling(amd64_host, package_index)
    assert error_of(missing)["title"] == "No Python runtime at /opt/appenv/python"

    harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
    harness.assert_ok(install_tooling(amd64_host, package_index, tools=[{"name": "uv"}]))
    unknown = install_tooling(amd64_host, package_index, tools=[{"name": "uv", "version": "0.0.0.1"}])
    error = error_of(unknown)
    assert error["title"] == "Installing uv 0.0.0.1 failed", error
    # The previous uv venv is intact.
    assert "0.13.9" in amd64_host.exec(["/opt/appenv/tools/uv/bin/uv", "--version"]).stdout
    assert json.dumps(unknown).count("Traceback") == 0
