"""The installers' interface: which installer the app's files call for, how failures are told apart, the registry."""

import os
import subprocess
import sys

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _installers
from ansible_collections.appenv.python.plugins.module_utils._errors import CATALOGUE, AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner
from tests.collection_path import COLLECTIONS_DIR


def touch(root, *names):
    for name in names:
        (root / name).write_text("x\n")


def test_installer_from_the_apps_files(tmp_path):
    touch(tmp_path, "requirements.txt")
    assert _installers.choose(str(tmp_path), "auto", None) == ("pip", "requirements")
    for lock, installer in (("poetry.lock", "poetry"), ("Pipfile.lock", "pipenv"), ("uv.lock", "uv")):
        other = tmp_path / installer
        other.mkdir()
        touch(other, lock, "pyproject.toml", "Pipfile")
        assert _installers.choose(str(other), "auto", None) == (installer, lock)


def test_two_package_managers_are_a_titled_error(tmp_path):
    touch(tmp_path, "requirements.txt", "poetry.lock", "uv.lock")
    with pytest.raises(AppenvError) as caught:
        _installers.choose(str(tmp_path), "auto", None)
    assert caught.value.code == "installer_conflict"
    assert "requirements.txt and poetry.lock and uv.lock" in caught.value.cause
    # Choosing explicitly resolves it.
    assert _installers.choose(str(tmp_path), "pip", None) == ("pip", "requirements")


def test_missing_files_say_what_is_needed(tmp_path):
    touch(tmp_path, "Pipfile")
    with pytest.raises(AppenvError) as caught:
        _installers.choose(str(tmp_path), "auto", None)
    assert "Pipfile has no Pipfile.lock" in caught.value.cause
    with pytest.raises(AppenvError) as caught:
        _installers.choose(str(tmp_path), "poetry", None)
    assert caught.value.code == "installer_files_missing"


def test_uv_uses_the_lock_unless_requirements_are_named(tmp_path):
    touch(tmp_path, "uv.lock", "pyproject.toml", "requirements.txt")
    assert _installers.choose(str(tmp_path), "uv", None) == ("uv", "uv.lock")
    assert _installers.choose(str(tmp_path), "uv", ["requirements.txt"]) == ("uv", "requirements")
    os.unlink(str(tmp_path / "uv.lock"))
    assert _installers.choose(str(tmp_path), "uv", None) == ("uv", "requirements")


def test_the_registry_is_the_order_the_apps_files_are_looked_at():
    assert list(_installers.INSTALLERS) == ["pip", "poetry", "pipenv", "uv"]
    for name, installer in _installers.INSTALLERS.items():
        assert installer.name == name and issubclass(installer, _installers.Installer)
        # Every installer either reads requirement files or has a lock beside a project file.
        assert installer.reads_requirements or (installer.lock_file and installer.project_file), name
        # What installs its list is a registered installer that installs itself.
        assert _installers.INSTALLERS[installer.installs_with].installs_with == installer.installs_with, name
        assert installer.lock_file == _installers.lock_file_of(name), name


@pytest.mark.parametrize("files, installer, loaded", [
    (["requirements.txt"], "auto", ["pip"]),
    (["pyproject.toml", "uv.lock"], "auto", ["uv"]),
    (["pyproject.toml", "poetry.lock"], "poetry", ["pip", "poetry"]),  # pip installs poetry's export
])
def test_a_run_loads_only_the_installers_it_uses(tmp_path, files, installer, loaded):
    """AnsiballZ compiles every module_util a module imports, on every run: a no-op imports no other installer."""
    touch(tmp_path, *files)
    program = (
        "import sys\n"
        "from ansible_collections.appenv.python.plugins.module_utils import _installers\n"
        "name, mode = _installers.choose(sys.argv[1], sys.argv[2], None)\n"
        "chosen = _installers.get(name, '/opt/appenv/tools')\n"
        "_installers.get(chosen.installs_with, '/opt/appenv/tools')\n"
        "prefix = _installers.__name__ + '.'\n"
        "print(sorted(name[len(prefix):] for name in sys.modules if name.startswith(prefix)))\n")
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS_DIR))
    out = subprocess.run([sys.executable, "-c", program, str(tmp_path), installer], env=env, check=True,
                         stdout=subprocess.PIPE, universal_newlines=True).stdout.splitlines()
    assert out == [repr(loaded)]


def test_each_installer_keeps_its_cache_under_the_one_root(tmp_path):
    for name, installer in _installers.INSTALLERS.items():
        env = installer.environment("/var/cache/appenv", "/srv/app")
        assert env[installer.cache_variable] == "/var/cache/appenv/" + name


def test_the_tool_venv_installers_say_where_they_looked(runtime, tmp_path):
    for name in ("poetry", "pipenv", "uv"):
        with pytest.raises(AppenvError) as caught:
            _installers.get(name, str(tmp_path / "tools")).version(runtime)
        assert caught.value.code == "tool_missing"
        assert "%s/tools/%s/bin/%s" % (tmp_path, name, name) in caught.value.cause


def test_a_tool_in_its_venv_gives_its_version(runtime, tmp_path, distribution):
    tools = tmp_path / "tools"
    poetry = _installers.get("poetry", str(tools))
    distribution(runtime.user_site(poetry.venv()), "poetry", "2.5.1")
    os.makedirs(os.path.dirname(poetry.executable()))
    with open(poetry.executable(), "w") as handle:
        handle.write("#!/bin/sh\n")
    os.chmod(poetry.executable(), 0o755)
    assert poetry.version(runtime) == "2.5.1"


@pytest.mark.parametrize("output, code", [
    ("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device", "layer_no_space"),
    ("tcp connect error: Connection refused (os error 111)", "deps_index_unreachable"),
    ("Temporary failure in name resolution", "deps_index_unreachable"),
    ("error in setup command: 'install_requires' must be a string", "deps_build_failed"),
    ("something else went wrong", "deps_install_failed"),
])
def test_what_any_installer_says_is_classified_alike(output, code):
    for name in _installers.INSTALLERS:
        assert _installers.get(name, "/opt/appenv/tools").classify(output) == code, name


def test_every_classified_failure_is_a_catalogue_entry_with_the_fields_given():
    fields = dict(installer="pip", dest="/d", command="pip install", rc=1, output="out", kind="app_dependencies",
                  path="/d", detail="out")
    for name in _installers.INSTALLERS:
        installer = _installers.get(name, "/opt/appenv/tools")
        for output in ("No space left on device", "timed out", "Failed to build", "No matching distribution",
                       "No solution found when resolving dependencies", "?"):
            error = AppenvError(installer.classify(output), **fields)
            assert error.code in CATALOGUE and "<" not in error.message, error.message


@pytest.mark.parametrize("name, mode, groups, extras, refused", [
    ("uv", "uv.lock", ["dev", "docs"], ["fast"], None),
    ("poetry", "poetry.lock", ["dev"], ["fast"], None),
    ("pipenv", "Pipfile.lock", ["dev"], [], None),
    ("pipenv", "Pipfile.lock", [], ["fast"], "extras"),
    ("pip", "requirements", [], ["fast"], "extras"),
    ("pip", "requirements", ["dev"], [], "groups"),
    ("uv", "requirements", ["dev"], [], "groups"),
    ("pip", "requirements", [], [], None),
])
def test_groups_and_extras_the_files_cannot_honour_are_refused(name, mode, groups, extras, refused):
    installer = _installers.get(name, "/opt/appenv/tools")
    if refused is None:
        _installers.refuse_unsupported_options(installer, mode, groups, extras)
        return
    with pytest.raises(AppenvError) as caught:
        _installers.refuse_unsupported_options(installer, mode, groups, extras)
    assert caught.value.code == "bad_argument" and caught.value.title == "Invalid value for %s" % refused
    assert "not supported" in caught.value.cause


# What each installer's installing program prints when the index is briefly out of reach.
NETWORK_MESSAGES = {
    "pip": "WARNING: Retrying after connection broken by 'NewConnectionError: Failed to establish a new connection'",
    "poetry": "ERROR: Could not install packages due to an OSError: Max retries exceeded with url: /simple/a/",
    "pipenv": "ERROR: 503 Server Error: Service Unavailable for url: http://127.0.0.1/simple/a/",
    "uv": "error: Failed to fetch: `http://127.0.0.1/simple/a/` HTTP status server error (503 Service Unavailable)",
}


@pytest.mark.parametrize("name", sorted(_installers.INSTALLERS))
def test_every_installer_retries_its_install_after_a_network_failure(tmp_path, name):
    from tests.unit.plugins.module_utils.test__runner import flaky_program

    installer = _installers.get(_installers.INSTALLERS[name].installs_with, str(tmp_path / "tools"))
    sleeps = []
    runner = CommandRunner(sleep=sleeps.append)
    _argv, result, _output = installer.install(runner, flaky_program(tmp_path, 2, NETWORK_MESSAGES[name]),
                                               str(tmp_path), {}, 60, retries=3)
    assert result.rc == 0 and sleeps == [1.0, 2.0] and len(runner.history) == 3


@pytest.mark.parametrize("name", sorted(_installers.INSTALLERS))
def test_no_installer_retries_a_failure_that_is_not_the_network(tmp_path, name):
    from tests.unit.plugins.module_utils.test__runner import flaky_program

    installer = _installers.get(_installers.INSTALLERS[name].installs_with, str(tmp_path / "tools"))
    runner = CommandRunner(sleep=lambda seconds: None)
    _argv, result, output = installer.install(runner, flaky_program(tmp_path, 2, "No matching distribution found"),
                                              str(tmp_path), {}, 60, retries=3)
    assert result.rc == 1 and len(runner.history) == 1
    assert installer.classify(output) != "deps_index_unreachable"


PIP = _installers.get("pip", "/opt/appenv/tools")


def test_extra_args_are_split_as_a_shell_would():
    assert _installers.extra_args(None, PIP) == [] and _installers.extra_args("", PIP) == []
    assert _installers.extra_args("--only-binary :all: --no-binary 'demo beta' --pre", PIP) == [
        "--only-binary", ":all:", "--no-binary", "demo beta", "--pre"]
    with pytest.raises(AppenvError) as caught:
        _installers.extra_args("--no-binary 'demo", PIP)
    assert caught.value.code == "bad_argument" and "extra_args" in caught.value.title


@pytest.mark.parametrize("text, option, decides", [
    ("--pre --target /srv/elsewhere", "--target", "where the packages go"),
    ("--target=/srv/elsewhere", "--target", "where the packages go"),
    ("-t/srv/elsewhere", "-t", "where the packages go"),
    ("--user", "--user", "where the packages go"),
    ("--python /usr/bin/python3", "--python", "where the packages go"),
    ("--prefix /x", "--prefix", "where the packages go"),
    ("-r more.txt", "-r", "which requirement files are read"),
    ("--constraint=c.txt", "--constraint", "which requirement files are read"),
    ("-e ./src", "-e", "which requirement files are read"),
])
def test_extra_args_the_module_sets_itself_are_refused(text, option, decides):
    for name, installer in (("pip", "pip install"), ("uv", "uv pip install")):
        with pytest.raises(AppenvError) as caught:
            _installers.extra_args(text, _installers.get(name, "/opt/appenv/tools"))
        error = caught.value
        assert error.code == "deps_extra_args_refused"
        assert error.title == "extra_args holds %s, which app_dependencies sets itself" % option
        assert decides in error.cause and text in error.cause
        assert installer in error.fixes[3]


def test_extra_args_options_with_a_value_that_looks_alike_pass():
    # The installer's other options pass as they are, with their values.
    assert _installers.extra_args("--trusted-host index.internal --progress-bar off", PIP) == [
        "--trusted-host", "index.internal", "--progress-bar", "off"]
