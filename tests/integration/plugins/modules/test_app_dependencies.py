"""app_dependencies on real Debian hosts: every installer x every location, invalidation, drift, bad input."""

import hashlib
import json
import shlex

import pytest

from tests.integration import harness
from tests.integration.hosts import (DEFAULT_DEST, install_deps, install_runtime, install_runtime_and_tooling,
                                     install_tooling)
from tests.integration.harness import error_of
from tests.testbed.package_index import OLD_PIP

pytestmark = pytest.mark.integration

APP = "/srv/app"
LOCATIONS = {"user": "/opt/appenv/deps", "venv": "/opt/appenv/venv", "target": "/opt/appenv/site",
             "system": None}
IMPORTS = "import demo_alpha, demo_beta, demo_delta, demo_gamma; print(demo_alpha.__version__)"


def write_files(host, files, root=APP):
    """Write {relative path: text} under root on the host."""
    script = ["set -e"]
    for rel, text in files.items():
        path = "%s/%s" % (root, rel)
        parent = shlex.quote(path.rsplit("/", 1)[0])
        script.append("mkdir -p %s && printf '%%s' %s > %s" % (parent, shlex.quote(text), shlex.quote(path)))
    host.sh("\n".join(script))


def run_app(host, result, code=IMPORTS, user=None):
    """Run code the way the app would: with the interpreter and environment the module returned."""
    env = " ".join("%s=%s" % (key, shlex.quote(value)) for key, value in result["environment"].items())
    return host.sh("env %s %s -c %s" % (env, result["interpreter"], shlex.quote(code)), user=user).stdout.strip()


def pyc_flags(host, site, module="demo_alpha"):
    script = ("import glob, sys; p = glob.glob(sys.argv[1] + '/%s/__pycache__/__init__.*.pyc')[0];"
              " print(int.from_bytes(open(p, 'rb').read(8)[4:8], 'little'))" % module)
    return int(host.exec([DEFAULT_DEST + "/bin/python3", "-c", script, site]).stdout)


def prepare(host, runtime_mirror, index, tools=(), version="3.11"):
    """The runtime and the tools, in one play (one ansible-playbook start)."""
    install_runtime_and_tooling(host, runtime_mirror, index, version, tools)


def project_files(kind, index):
    """The app's dependency files for one installer (lock files are made on the host by the tool itself)."""
    deps = ["demo-alpha", "demo-delta"]
    if kind == "requirements":
        return {"requirements.txt": "demo-alpha==1.0\ndemo-delta\n"}
    if kind == "poetry":
        return {"pyproject.toml": (
            "[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\n"
            "dependencies = [%s]\n\n[tool.poetry]\npackage-mode = false\n\n"
            "[[tool.poetry.source]]\nname = \"local\"\nurl = \"%s/\"\npriority = \"primary\"\n"
            % (", ".join(json.dumps(dep) for dep in deps), index.simple_url))}
    if kind == "pipenv":
        packages = "".join("%s = \"*\"\n" % dep for dep in deps)
        return {"Pipfile": (
            "[[source]]\nname = \"local\"\nurl = \"%s/\"\nverify_ssl = false\n\n[packages]\n%s\n"
            "[requires]\npython_version = \"3.11\"\n" % (index.simple_url, packages))}
    if kind == "uv":
        return {"pyproject.toml": (
            "[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\n"
            "dependencies = [%s]\n\n[tool.uv]\npackage = false\n\n"
            "[[tool.uv.index]]\nname = \"local\"\nurl = \"%s/\"\ndefault = true\n"
            % (", ".join(json.dumps(dep) for dep in deps), index.simple_url))}
    raise ValueError(kind)


LOCK_COMMANDS = {
    "poetry": "cd %s && POETRY_CACHE_DIR=/tmp/pc /opt/appenv/tools/poetry/bin/poetry lock --no-interaction" % APP,
    "pipenv": ("cd %s && PIPENV_VENV_IN_PROJECT=1 PIPENV_CACHE_DIR=/tmp/pc PIPENV_PYTHON=%s/bin/python3 "
               "/opt/appenv/tools/pipenv/bin/pipenv lock" % (APP, DEFAULT_DEST)),
    "uv": "cd %s && UV_CACHE_DIR=/tmp/uc UV_PYTHON_DOWNLOADS=never /opt/appenv/tools/uv/bin/uv lock --python %s/bin/python3"
          % (APP, DEFAULT_DEST),
}

# (installer option, project kind, tools needed)
MATRIX = {
    "pip": ("auto", "requirements", ()),
    "uv-pip": ("uv", "requirements", ("uv",)),
    "uv-lock": ("auto", "uv", ("uv",)),
    "poetry": ("auto", "poetry", ("poetry",)),
    "pipenv": ("auto", "pipenv", ("pipenv",)),
}


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_each_installer_in_each_location(case, amd64_host, runtime_mirror, package_index):
    installer, kind, tools = MATRIX[case]
    prepare(amd64_host, runtime_mirror, package_index, tools)
    write_files(amd64_host, project_files(kind, package_index))
    if kind in LOCK_COMMANDS:
        amd64_host.sh(LOCK_COMMANDS[kind])
    expected_installer = installer if installer != "auto" else {"requirements": "pip"}.get(kind, kind)
    for location, dest in sorted(LOCATIONS.items()):
        args = {"installer": installer, "location": location}
        if dest:
            args["dest"] = dest
        predicted = harness.assert_ok(install_deps(amd64_host, package_index, check=True, **args))
        first = harness.assert_ok(install_deps(amd64_host, package_index, **args))
        assert (first["changed"], first["layer_action"]) == (True, "created"), (location, first["reasons"])
        assert (predicted["changed"], predicted["layer_action"], predicted["reasons"]) == (True, "created", first["reasons"])
        assert first["installer"] == expected_installer
        assert first["packages"] == {"demo-alpha": "1.0", "demo-beta": "1.0", "demo-delta": "1.0",
                                     "demo-gamma": "1.0"}, (location, first["packages"])
        assert run_app(amd64_host, first) == "1.0"
        # --no-compile, then checked-hash pycs (flags 3) compiled by the runtime.
        assert pyc_flags(amd64_host, first["site_packages"]) == 3
        # The console script works with the returned environment.
        env = " ".join("%s=%s" % item for item in first["environment"].items())
        assert amd64_host.sh("env %s demo-alpha" % env).stdout.strip() == "demo-alpha 1.0"

        check = harness.assert_ok(install_deps(amd64_host, package_index, check=True, **args))
        again = harness.assert_ok(install_deps(amd64_host, package_index, **args))
        assert (check["changed"], check["layer_action"]) == (False, "kept"), check["reasons"]
        assert (again["changed"], again["layer_action"]) == (False, "kept"), again["reasons"]
        assert again["commands"] == [], "a no-op run started a process: %s" % again["commands"]


def site_has(host, result, module):
    return host.exec(["test", "-e", "%s/%s" % (result["site_packages"], module)], check=False).returncode == 0


def test_inputs_that_change_rebuild_with_the_right_reason(amd64_host, runtime_mirror, package_index):
    prepare(amd64_host, runtime_mirror, package_index)
    write_files(amd64_host, {
        "requirements.txt": "-r requirements/common.txt\ndemo-delta\n",
        "requirements/common.txt": "# shared by every deployment\n-c constraints.txt\ndemo-alpha\n",
        "requirements/constraints.txt": "demo-beta<2\n",
    })
    first = harness.assert_ok(install_deps(amd64_host, package_index))
    assert first["layer_action"] == "created"
    assert first["inputs"] == ["requirements.txt", "requirements/common.txt", "requirements/constraints.txt"]
    assert site_has(amd64_host, first, "demo_gamma")

    # An included file changes: named, with the file that includes it.
    write_files(amd64_host, {"requirements/common.txt": "-c constraints.txt\ndemo-alpha==1.0\n"})
    edited = harness.assert_ok(install_deps(amd64_host, package_index, check=True))
    assert edited["reasons"] == ["requirements/common.txt (included from requirements.txt) changed"]
    edited = harness.assert_ok(install_deps(amd64_host, package_index))
    assert edited["reasons"] == ["requirements/common.txt (included from requirements.txt) changed"]

    # A package removed: it and its dropped transitive dependency are really gone.
    write_files(amd64_host, {"requirements.txt": "-r requirements/common.txt\n"})
    removed = harness.assert_ok(install_deps(amd64_host, package_index))
    assert removed["layer_action"] == "recreated" and "requirements.txt changed" in removed["reasons"]
    assert sorted(removed["packages"]) == ["demo-alpha", "demo-beta"]
    assert not site_has(amd64_host, removed, "demo_delta") and not site_has(amd64_host, removed, "demo_gamma")

    # A new upstream release of an unpinned dependency: kept until max_age has elapsed.
    package_index.publish("demo-beta", "1.5")
    young = harness.assert_ok(install_deps(amd64_host, package_index, max_age="1h"))
    assert young["layer_action"] == "kept"
    amd64_host.sh("sleep 2")
    old = harness.assert_ok(install_deps(amd64_host, package_index, max_age="1s"))
    assert old["layer_action"] == "recreated"
    assert "longer than max_age 1s" in old["reasons"][0], old["reasons"]
    assert old["packages"]["demo-beta"] == "1.5"

    # Another installer version alone (pip_tooling pins an older pip) is no reason: the same pins give the same
    # packages (issue 18, the design notes). Kept with a warning naming both; the next rebuild names it too.
    harness.assert_ok(install_tooling(amd64_host, package_index, pip=OLD_PIP))
    tool = harness.assert_ok(install_deps(amd64_host, package_index))
    assert (tool["changed"], tool["layer_action"], tool["reasons"], tool["commands"]) == (False, "kept", [], [])
    said = "pip was 26.3 when the layer was built and is %s now" % OLD_PIP
    assert tool["warnings"] == [said + "; the layer is kept: a new installer version alone does not change what "
                                "the lock or the requirements pin (any other change rebuilds with it)"], tool

    # Another Python version: the runtime is replaced, the dependencies follow.
    harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.13"))
    harness.assert_ok(install_tooling(amd64_host, package_index, pip=OLD_PIP))
    python = harness.assert_ok(install_deps(amd64_host, package_index))
    assert "Python version changed from 3.11.2 to 3.13.5" in python["reasons"], python["reasons"]
    assert python["reasons"][-1] == said, python["reasons"]
    assert python["site_packages"].endswith("/lib/python3.13/site-packages")
    assert run_app(amd64_host, python, "import demo_alpha, sys; print(sys.version_info[:2])") == "(3, 13)"
    assert harness.assert_ok(install_deps(amd64_host, package_index))["layer_action"] == "kept"


def test_hand_damage_is_repaired(amd64_host, runtime_mirror, package_index):
    prepare(amd64_host, runtime_mirror, package_index)
    write_files(amd64_host, project_files("requirements", package_index))
    first = harness.assert_ok(install_deps(amd64_host, package_index))

    amd64_host.sh("rm -r %s/demo_gamma" % first["site_packages"])
    repaired = harness.assert_ok(install_deps(amd64_host, package_index))
    assert repaired["layer_action"] == "recreated"
    assert "demo-gamma 1.0 is missing" in repaired["reasons"][0], repaired["reasons"]
    assert run_app(amd64_host, repaired) == "1.0"

    # Replaced by hand with another version.
    amd64_host.sh("PYTHONUSERBASE=/opt/appenv/deps %s/bin/python3 -m pip install -q --user --no-deps "
                  "--index-url %s demo-beta==0.9 || true" % (DEFAULT_DEST, package_index.simple_url))
    package_index.publish("demo-beta", "0.9")
    amd64_host.sh("PYTHONUSERBASE=/opt/appenv/deps %s/bin/python3 -m pip install -q --user --no-deps "
                  "--index-url %s demo-beta==0.9" % (DEFAULT_DEST, package_index.simple_url))
    replaced = harness.assert_ok(install_deps(amd64_host, package_index))
    assert "demo-beta was replaced: 0.9 is installed instead of 1.0" in replaced["reasons"][0], replaced["reasons"]

    # A corrupt fingerprint file: rebuilt, with the reason, never a traceback.
    amd64_host.sh("printf '{\"format\": ' > /opt/appenv/deps/.appenv-fingerprint.json")
    corrupt = harness.assert_ok(install_deps(amd64_host, package_index))
    assert corrupt["layer_action"] == "recreated" and "not valid JSON" in corrupt["reasons"][0], corrupt["reasons"]
    assert harness.assert_ok(install_deps(amd64_host, package_index))["layer_action"] == "kept"


BAD_INPUTS = {
    "missing requirements file": ({"requirements.txt": "-r missing.txt\ndemo-alpha\n"},
                                  "Requirements file not found: missing.txt"),
    "syntax error": ({"requirements.txt": "demo-alpha >=< 1.0\n"}, "Installing the app's dependencies failed"),
    "include cycle": ({"requirements.txt": "-r a.txt\n", "a.txt": "-r b.txt\n", "b.txt": "-r a.txt\n"},
                      "Requirements files include each other in a cycle"),
    "unknown package": ({"requirements.txt": "demo-alpha\nno-such-package-anywhere\n"},
                        "A dependency is not on the package index"),
    "two package managers": ({"requirements.txt": "demo-alpha\n", "Pipfile.lock": "{}\n"},
                             "The app's files name more than one package manager"),
    "broken sdist": ({"requirements.txt": "demo-broken\n"}, "A dependency failed to build from source"),
}


def test_bad_input_is_a_titled_error_and_loses_nothing(amd64_host, runtime_mirror, package_index):
    prepare(amd64_host, runtime_mirror, package_index)
    package_index.publish("demo-broken", "1.0", sdist=True, broken=True)
    write_files(amd64_host, project_files("requirements", package_index))
    good = harness.assert_ok(install_deps(amd64_host, package_index))
    seen = {}
    for name, (files, title) in sorted(BAD_INPUTS.items()):
        amd64_host.sh("rm -rf %s.bad && cp -a %s %s.bad" % (APP, APP, APP))
        write_files(amd64_host, files, root=APP + ".bad")
        result = install_deps(amd64_host, package_index, project_dir=APP + ".bad")
        error = error_of(result)
        seen[name] = error["title"]
        # The previous environment is still there and importable.
        assert run_app(amd64_host, good) == "1.0", name
    assert seen == dict((name, title) for name, (files, title) in BAD_INPUTS.items())

    unreachable = install_deps(amd64_host, package_index, index_url="http://127.0.0.1:9/simple", retries=1,
                               requirements=["requirements.txt"], max_age="1s")
    assert error_of(unreachable)["title"] == "The package index cannot be reached"
    assert run_app(amd64_host, good) == "1.0"
    assert harness.assert_ok(install_deps(amd64_host, package_index))["layer_action"] == "kept"


def test_credentials_never_leak(amd64_host, runtime_mirror, package_index):
    prepare(amd64_host, runtime_mirror, package_index)
    write_files(amd64_host, project_files("requirements", package_index))
    secret = "s3cr3t-Pa55word"
    url = package_index.simple_url.replace("http://", "http://builder:%s@" % secret)
    ok = harness.assert_ok(install_deps(amd64_host, package_index, index_url=url))
    bad = install_deps(amd64_host, package_index, index_url=url.replace("/simple", "/nothing"), max_age="1s")
    by_option = install_deps(amd64_host, package_index, index_username="builder", index_password=secret,
                             max_age="1s")
    # The runs under test did reach the index with the credentials: the installer ran with the masked URL.
    assert ok["layer_action"] == "created"
    assert bad.get("failed") and by_option.get("changed") is not None and not by_option.get("failed"), by_option
    for result in (ok, bad, by_option):
        text = json.dumps(result)
        installs = [command for command in result.get("commands", []) if "install" in command["argv"]]
        assert installs, "no installer ran: %s" % result.get("commands")
        assert "***" in json.dumps(installs), "the credentials never reached the installer: %s" % installs
        assert secret not in text, text[max(0, text.find(secret) - 300):text.find(secret) + 100]
    fingerprint = amd64_host.exec(["cat", "/opt/appenv/deps/.appenv-fingerprint.json"]).stdout
    assert secret not in fingerprint and "***" in fingerprint


# pip and uv from aarch64 wheels on an aarch64 host: tests/integration/test_emulated_aarch64.py (one emulated host).


def test_hash_pinned_requirements_install_with_a_wheel_cache_warning(amd64_host, runtime_mirror, package_index):
    prepare(amd64_host, runtime_mirror, package_index)
    lines = []
    for name in ("demo_alpha-1.0-py3-none-any.whl", "demo_beta-1.0-py3-none-any.whl"):
        digest = hashlib.sha256((package_index.files / name).read_bytes()).hexdigest()
        lines.append("%s==1.0 --hash=sha256:%s" % (name.split("-", maxsplit=1)[0].replace("_", "-"), digest))
    write_files(amd64_host, {"requirements.txt": "\n".join(lines) + "\n"})
    result = harness.assert_ok(install_deps(amd64_host, package_index))
    assert result["packages"] == {"demo-alpha": "1.0", "demo-beta": "1.0"}
    assert any("--hash" in warning and "wheel" in warning for warning in result.get("warnings", [])), result
    # A wrong hash is refused by pip, and nothing is lost.
    write_files(amd64_host, {"requirements.txt": lines[0][:-6] + "000000\n" + lines[1] + "\n"})
    bad = install_deps(amd64_host, package_index)
    assert error_of(bad)["title"] == "Installing the app's dependencies failed"
    assert "HASH" in bad["error"]["cause"].upper()
    assert run_app(amd64_host, result, "import demo_alpha; print(demo_alpha.__version__)") == "1.0"


def test_pip_check_fails_the_task_with_the_conflicts(amd64_host, runtime_mirror, package_index):
    """A lock that forgot a dependency (installed with --no-deps as locks are) is caught by pip check."""
    prepare(amd64_host, runtime_mirror, package_index, tools=("pipenv",))
    write_files(amd64_host, {"Pipfile": (
        "[[source]]\nname = \"local\"\nurl = \"%s/\"\nverify_ssl = false\n\n[packages]\ndemo-alpha = \"==1.0\"\n"
        % package_index.simple_url)})
    # A real lock (pipenv verify accepts its hash of the Pipfile), then the dependency it forgot: the hash in
    # _meta is the Pipfile's, so the lock still matches the Pipfile.
    amd64_host.sh(LOCK_COMMANDS["pipenv"])
    lock = json.loads(amd64_host.exec(["cat", APP + "/Pipfile.lock"]).stdout)
    assert sorted(lock["default"]) == ["demo-alpha", "demo-beta"], lock["default"]
    del lock["default"]["demo-beta"]
    write_files(amd64_host, {"Pipfile.lock": json.dumps(lock)})
    result = install_deps(amd64_host, package_index)
    error = error_of(result)
    assert error["title"] == "The installed dependencies conflict", error
    assert "demo-alpha 1.0 requires demo-beta, which is not installed" in error["cause"], error["cause"]
    assert not amd64_host.exists("/opt/appenv/deps"), "a failed layer stayed"
