"""app_dependencies on real Debian hosts: every installer x every location, invalidation, drift, bad input."""

import json
import shlex

import pytest

from tests.integration import harness
from tests.integration.conftest import DEFAULT_DEST, install_deps, install_runtime, install_tooling
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
        script.append("mkdir -p %s && printf '%%s' %s > %s" % (shlex.quote(path.rsplit("/", 1)[0]),
                                                                   shlex.quote(text), shlex.quote(path)))
    host.sh("\n".join(script))


def run_app(host, result, code=IMPORTS, user=None):
    """Run code the way the app would: with the interpreter and environment the module returned."""
    env = " ".join("%s=%s" % (key, shlex.quote(value)) for key, value in result["environment"].items())
    return host.sh("env %s %s -c %s" % (env, result["python"], shlex.quote(code)), user=user).stdout.strip()


def pyc_flags(host, site, module="demo_alpha"):
    script = ("import glob, sys; p = glob.glob(sys.argv[1] + '/%s/__pycache__/__init__.*.pyc')[0];"
              " print(int.from_bytes(open(p, 'rb').read(8)[4:8], 'little'))" % module)
    return int(host.exec([DEFAULT_DEST + "/bin/python3", "-c", script, site]).stdout)


def prepare(host, runtime_mirror, index, tools=(), version="3.11"):
    harness.assert_ok(install_runtime(host, runtime_mirror, version))
    harness.assert_ok(install_tooling(host, index, tools=[{"name": name} for name in tools]))


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
        return {"Pipfile": (
            "[[source]]\nname = \"local\"\nurl = \"%s/\"\nverify_ssl = false\n\n[packages]\n%s\n"
            "[requires]\npython_version = \"3.11\"\n" % (index.simple_url,
                                                          "".join("%s = \"*\"\n" % dep for dep in deps)))}
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
        assert (first["changed"], first["action"]) == (True, "created"), (location, first["reasons"])
        assert (predicted["changed"], predicted["action"], predicted["reasons"]) == (True, "created", first["reasons"])
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
        assert (check["changed"], check["action"]) == (False, "kept"), check["reasons"]
        assert (again["changed"], again["action"]) == (False, "kept"), again["reasons"]
        assert again["commands"] == [], "a no-op run started a process: %s" % again["commands"]
