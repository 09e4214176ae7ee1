"""app_dependencies and the lock files of real projects (issue 18): stale locks refused, a Python range that
excludes the runtime refused before installing, dev groups left out unless asked, a new installer version alone
keeps the layer. One container for the file; each scenario is a task of a few fat plays."""

import json

import pytest

from tests.integration import harness
from tests.integration.harness import error_of
from tests.integration.hosts import DEFAULT_DEST, install_runtime_and_tooling, make_package_index, start_host
from tests.integration.plugins.modules.test_app_dependencies import write_files

pytestmark = pytest.mark.integration

TOOLS = "/opt/appenv/tools"
BASE = {"alpha": {"demo-alpha": "1.0", "demo-beta": "1.0"}}
DEV = {"demo-delta": "1.0", "demo-gamma": "1.0"}


@pytest.fixture(scope="module")
def index(index_server):
    root, base_url = index_server
    return make_package_index(root, base_url, ["x86_64"])


@pytest.fixture(scope="module")
def host(amd64_image, runtime_mirror, index):
    """One bookworm container for the file: a 3.11 runtime with uv, poetry and pipenv."""
    host = start_host(amd64_image, "x86_64", network="host")
    try:
        install_runtime_and_tooling(host, runtime_mirror, index, "3.11", ("uv", "poetry", "pipenv"))
        yield host
    finally:
        host.container.remove()


def projects(index, main=("demo-alpha",)):
    """{installer: {file: text}}: the app needs main, its dev group demo-delta (which needs demo-gamma)."""
    deps = ", ".join(json.dumps(dep) for dep in main)
    uv = ("[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = [%s]\n\n"
          "[dependency-groups]\ndev = [\"demo-delta\"]\n\n[tool.uv]\npackage = false\n\n"
          "[[tool.uv.index]]\nname = \"local\"\nurl = \"%s/\"\ndefault = true\n" % (deps, index.simple_url))
    poetry = ("[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = [%s]\n\n"
              "[tool.poetry]\npackage-mode = false\n\n[tool.poetry.group.dev.dependencies]\ndemo-delta = \"*\"\n\n"
              "[[tool.poetry.source]]\nname = \"local\"\nurl = \"%s/\"\npriority = \"primary\"\n"
              % (deps, index.simple_url))
    pipenv = ("[[source]]\nname = \"local\"\nurl = \"%s/\"\nverify_ssl = false\n\n[packages]\n%s\n"
              "[dev-packages]\ndemo-delta = \"*\"\n\n[requires]\npython_version = \"3.11\"\n"
              % (index.simple_url, "".join("%s = \"*\"\n" % dep for dep in main)))
    return {"uv": {"pyproject.toml": uv}, "poetry": {"pyproject.toml": poetry}, "pipenv": {"Pipfile": pipenv}}


def lock(host, name, app):
    python = DEFAULT_DEST + "/bin/python3"
    command = {
        "uv": "UV_CACHE_DIR=/tmp/uc UV_PYTHON_DOWNLOADS=never %s/uv/bin/uv lock --python %s" % (TOOLS, python),
        "poetry": "POETRY_CACHE_DIR=/tmp/pc %s/poetry/bin/poetry lock --no-interaction" % TOOLS,
        "pipenv": "PIPENV_VENV_IN_PROJECT=1 PIPENV_CACHE_DIR=/tmp/pc PIPENV_PYTHON=%s %s/pipenv/bin/pipenv lock"
                  % (python, TOOLS),
    }[name]
    host.sh("cd %s && %s" % (app, command))


def deps_task(index, app, dest, **extra):
    args = {"project_dir": app, "index_url": index.simple_url, "location": "venv", "dest": dest}
    args.update(extra)
    return "appenv.python.app_dependencies", args


def run_twice_and_check(host, tasks):
    """check mode, the real run, the real run again, check mode again: the results of each, in task order."""
    return [harness.run_tasks(host, tasks, check=check) for check in (True, False, False, True)]


def test_groups_stale_locks_and_the_python_range(host, index):
    names = sorted(projects(index))
    for name in names:
        write_files(host, projects(index)[name], root="/srv/" + name)
        lock(host, name, "/srv/" + name)
    # Each installer without groups (dev left out) and with groups: [dev].
    tasks = []
    for name in names:
        tasks.append(deps_task(index, "/srv/" + name, "/opt/%s-main" % name))
        tasks.append(deps_task(index, "/srv/" + name, "/opt/%s-dev" % name, groups=["dev"]))
    predicted, first, second, check_again = run_twice_and_check(host, tasks)
    for number, task in enumerate(tasks):
        what = task[1]["dest"]
        result = harness.assert_ok(first[number])
        assert (result["changed"], result["layer_action"]) == (True, "created"), what
        assert harness.assert_ok(predicted[number])["reasons"] == result["reasons"], what
        expected = dict(BASE["alpha"], **(DEV if "groups" in task[1] else {}))
        assert result["packages"] == expected, (what, result["packages"])
        assert (harness.assert_ok(second[number])["changed"], second[number]["layer_action"]) == (False, "kept"), what
        assert harness.assert_ok(check_again[number])["changed"] is False, what

    # A dependency added to the project file, the lock not made again: refused, naming the file and the command
    # to fix it; the layer built from the old lock is intact.
    for name in names:
        write_files(host, projects(index, main=("demo-alpha", "demo-gamma"))[name], root="/srv/" + name)
    stale_tasks = [deps_task(index, "/srv/" + name, "/opt/%s-main" % name) for name in names]
    # Check mode predicts the failure (the lock check only reads), and writes nothing doing so.
    watched = "find %s -printf '%%p %%T@ %%C@\\n' | sort" % " ".join(
        "/srv/%s /opt/%s-main" % (name, name) for name in names)
    before = host.sh(watched).stdout
    predicted = harness.run_tasks(host, stale_tasks, check=True)
    assert host.sh(watched).stdout == before, "check mode wrote to the app or the layer"
    stale = harness.run_tasks(host, stale_tasks)
    for name, guess, result in zip(names, predicted, stale):
        error = error_of(result)
        assert result["error"]["code"] == "deps_lock_stale", (name, result["error"])
        predicted_error = error_of(guess)  # its cause quotes the tool's output, with its timings
        assert [predicted_error[key] for key in ("code", "title", "fixes")] == [
            error[key] for key in ("code", "title", "fixes")], (name, predicted_error, error)
        lock_file = {"uv": "uv.lock", "poetry": "poetry.lock", "pipenv": "Pipfile.lock"}[name]
        assert error["title"].startswith("/srv/%s/%s no longer matches" % (name, lock_file)), error
        assert ("Run %s lock in the app's directory" % name) in error["fixes"][0], error
        out = host.sh("/opt/%s-main/bin/python -c 'import demo_alpha; print(demo_alpha.__version__)'" % name)
        assert out.stdout.strip() == "1.0"
    # Locked again: it installs, with the new dependency.
    for name in names:
        lock(host, name, "/srv/" + name)
    relocked = harness.run_tasks(host, [deps_task(index, "/srv/" + name, "/opt/%s-main" % name) for name in names])
    for name, result in zip(names, relocked):
        assert harness.assert_ok(result)["layer_action"] == "recreated", name
        assert result["packages"] == dict(BASE["alpha"], **{"demo-gamma": "1.0"}), (name, result["packages"])


def test_a_python_range_that_excludes_the_runtime_is_refused_before_installing(host, index):
    # The 3.11 runtime; projects for 3.14 and up (a lock as each tool writes it: the range is all that is read).
    write_files(host, {
        "uv/pyproject.toml": "[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.14\"\n"
                             "dependencies = [\"demo-alpha\"]\n",
        "uv/uv.lock": "version = 1\nrevision = 3\nrequires-python = \">=3.14\"\n",
        "poetry/pyproject.toml": "[tool.poetry]\nname = \"app\"\npackage-mode = false\n\n"
                                 "[tool.poetry.dependencies]\npython = \"^3.14\"\ndemo-alpha = \"*\"\n",
        "poetry/poetry.lock": "[metadata]\nlock-version = \"2.1\"\npython-versions = \"^3.14\"\n"
                              "content-hash = \"0\"\n",
        "pipenv/Pipfile": "[packages]\ndemo-alpha = \"*\"\n\n[requires]\npython_version = \"3.14\"\n",
        "pipenv/Pipfile.lock": json.dumps({"_meta": {"hash": {"sha256": "0"}, "requires": {"python_version": "3.14"},
                                                     "sources": []}, "default": {}, "develop": {}}),
    }, root="/srv/py314")
    names = ["pipenv", "poetry", "uv"]
    tasks = [deps_task(index, "/srv/py314/" + name, "/opt/py314-" + name) for name in names]
    for check in (True, False):
        results = harness.run_tasks(host, tasks, check=check)
        for name, result in zip(names, results):
            error = error_of(result)
            assert result["error"]["code"] == "deps_python_excluded", (name, check, result["error"])
            assert error["title"].startswith("The app does not accept Python 3.11."), error
            assert "3.14" in error["cause"] and "/srv/py314/%s/" % name in error["cause"], error
    # Nothing was installed: no layer, no work directory.
    out = host.sh("ls -d /opt/py314-* 2>/dev/null || true").stdout.strip()
    assert out == ""
