"""Bring your own Python (issue 19, section 2): the distro python3 of bookworm and trixie under the layers.

One container per Debian release (an image variant with python3-venv and python3-pip, as Debian users have it),
fat plays: app_dependencies (location venv) and pyc_compile with interpreter /usr/bin/python3 run in check mode,
for real, and again (kept, no command started); location user and pip's own packages into the externally managed
interpreter are refused with their titled errors; the tools' venvs work; an interpreter replaced by the package
manager (simulated: the binary replaced by a copy with other bytes) recreates every layer with the reason, and
pyc_compile switching between two 3.11-or-whatever interpreters of the same X.Y is no longer kept.
"""

import shlex

import pytest

from tests.integration import harness
from tests.integration.harness import error_of, programs_started
from tests.integration.hosts import start_host
from tests.testbed import docker_host

pytestmark = pytest.mark.integration

APP = "/srv/app"
VENV = "/opt/appenv/venv"
PYTHON = "/usr/bin/python3"
OTHER = "/opt/other/bin"


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def distro_host(request, docker_ready):
    image = docker_host.ensure_image(request.param, "amd64", variant="venv", include=docker_host.VENV_PACKAGES)
    host = start_host(image, "x86_64", network="host")
    yield host
    host.container.remove()


def layers(index, interpreter=PYTHON, location="venv"):
    deps = {"project_dir": APP, "location": location, "dest": VENV if location == "venv" else "/opt/appenv/deps",
            "interpreter": interpreter, "index_url": index.simple_url}
    return [("appenv.python.app_dependencies", deps),
            ("appenv.python.pyc_compile", {"paths": [APP], "interpreter": interpreter})]


def run(host, tasks, check=False):
    return [dict(result, commands=result.get("commands", [])) for result in harness.run_tasks(host, tasks, check=check)]


def actions(results):
    return [(result["layer_action"], result["reasons"]) for result in results]


def test_distro_python_carries_venv_and_bytecode_layers(distro_host, package_index):
    host = distro_host
    real = host.exec(["readlink", "-f", PYTHON]).stdout.strip()
    version = host.exec([PYTHON, "-c", "import platform; print(platform.python_version())"]).stdout.strip()
    host.sh("mkdir -p %s && printf 'demo-alpha==1.0\\n' > %s/requirements.txt && printf 'X = 1\\n' > %s/main.py"
            % (APP, APP, APP))

    predicted = run(host, layers(package_index), check=True)
    assert [harness.assert_ok(result)["layer_action"] for result in predicted] == ["created", "created"]
    assert host.exec(["test", "-e", VENV], check=False).returncode != 0, "check mode made the venv"
    first = run(host, layers(package_index))
    assert actions(first) == actions(predicted)
    deps, pyc = first
    assert deps["interpreter"] == VENV + "/bin/python"
    assert host.exec([deps["interpreter"], "-c", "import demo_alpha; print(demo_alpha.__version__)"]).stdout.strip() == "1.0"
    assert pyc["compiled"] == 1

    again_check = run(host, layers(package_index), check=True)
    again = run(host, layers(package_index))
    for result in again_check + again:
        assert (harness.assert_ok(result)["changed"], result["layer_action"]) == (False, "kept"), result["reasons"]
    assert [programs_started(result) for result in again] == [[], []], "a no-op started a process"

    # Debian's python3 is externally managed: its user site and its own packages are refused, titled.
    user, tooling = harness.run_tasks(host, [
        layers(package_index, location="user")[0],
        ("appenv.python.pip_tooling", {"interpreter": PYTHON, "index_url": package_index.simple_url}),
    ])
    for result, what in ((user, "location: user"), (tooling, "installing pip, setuptools, wheel into it")):
        error = error_of(result)
        assert error["code"] == "interpreter_externally_managed"
        assert error["title"] == "%s is externally managed (PEP 668): %s is refused" % (PYTHON, what)
        assert "EXTERNALLY-MANAGED" in error["cause"]
    assert host.exec(["test", "-e", "/opt/appenv/deps"], check=False).returncode != 0

    # The tools' venvs work on it (pip, setuptools and wheel left as the distribution has them).
    uv = {"interpreter": PYTHON, "index_url": package_index.simple_url, "pip": "", "setuptools": "", "wheel": "",
          "tools": [{"name": "uv"}]}
    uv_first, uv_again = harness.run_tasks(host, [("appenv.python.pip_tooling", uv)] * 2)
    assert harness.assert_ok(uv_first)["layer_action"] == "created"
    assert (harness.assert_ok(uv_again)["layer_action"], programs_started(uv_again)) == ("kept", [])
    assert host.exec([uv_first["tools"]["uv"]["executable"], "--version"]).returncode == 0

    # The package manager replaces the interpreter (same version, other bytes): every layer on it is recreated.
    host.sh("cp -p {0} {0}.new && printf '\\0' >> {0}.new && mv {0}.new {0}".format(shlex.quote(real)))
    reason = "the interpreter %s (Python %s) changed: its binary changed" % (PYTHON, version)
    upgrade_check = run(host, layers(package_index) + [("appenv.python.pip_tooling", uv)], check=True)
    upgrade = run(host, layers(package_index) + [("appenv.python.pip_tooling", uv)])
    assert actions(upgrade) == actions(upgrade_check)
    assert [result["layer_action"] for result in upgrade] == ["recreated"] * 3
    assert upgrade[0]["reasons"] == [reason] and upgrade[1]["reasons"] == [reason]
    assert upgrade[2]["reasons"] == ["uv: " + reason]
    settled = run(host, layers(package_index))
    assert [(result["layer_action"], programs_started(result)) for result in settled] == [("kept", []), ("kept", [])]

    # A second interpreter of the same X.Y (a copy elsewhere): pyc_compile no longer keeps the old bytecode.
    other = "%s/%s" % (OTHER, real.rsplit("/", 1)[1])
    host.sh("mkdir -p %s && cp -p %s %s && printf '\\0\\0' >> %s" % (OTHER, real, other, other))
    switch = [("appenv.python.pyc_compile", {"paths": [APP], "interpreter": other})]
    switched_check, = run(host, switch, check=True)
    switched, = run(host, switch)
    assert (switched["layer_action"], switched["reasons"]) == (switched_check["layer_action"], switched_check["reasons"])
    assert switched["layer_action"] == "recreated"
    assert switched["reasons"] == ["the interpreter changed from %s (Python %s) to %s (Python %s)" % (
        real, version, other, version)]
    back, = run(host, layers(package_index)[1:])
    assert back["layer_action"] == "recreated" and back["reasons"][0].startswith("the interpreter changed from %s" % other)
