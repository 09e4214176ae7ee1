"""uv: uv.lock or requirement files, exported --locked (a stale lock refused), installed by uv pip at the runtime's interpreter."""

import pytest

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._installers import uv

UV = uv.Uv("/opt/appenv/tools")
EXE = "/opt/appenv/tools/uv/bin/uv"


def test_the_lock_and_who_installs_it():
    assert (UV.lock_file, UV.project_file, UV.installs_with) == ("uv.lock", "pyproject.toml", "uv")
    assert UV.reads_requirements


@pytest.mark.parametrize("groups, extras, tail", [
    ([], [], ["--no-dev"]),
    (["dev"], [], []),
    (["docs"], ["fast"], ["--no-dev", "--group", "docs", "--extra", "fast"]),
    (["dev", "docs"], [], ["--group", "docs"]),
])
def test_the_export_is_locked_and_names_groups_and_extras(runner, groups, extras, tail):
    UV.export(runner, "/srv/app", "/w/out.txt", groups, extras, {})
    assert runner.calls[0]["argv"] == [EXE, "export", "--locked", "--format", "requirements.txt",
                                       "--no-emit-project", "--no-progress", "--output-file", "/w/out.txt"] + tail


STALE = ("Resolved 3 packages in 2ms\nerror: The lockfile at `uv.lock` needs to be updated, but `--locked` was "
         "provided. To update the lockfile, run `uv lock`.")


def test_a_stale_lock_is_a_titled_error_naming_the_fix(runner, result):
    runner.result = result(rc=2, stderr=STALE)
    with pytest.raises(AppenvError) as caught:
        UV.export(runner, "/srv/app", "/w/out.txt", [], [], {})
    assert caught.value.code == "deps_lock_stale"
    assert caught.value.title == "/srv/app/uv.lock no longer matches /srv/app/pyproject.toml"
    assert "Run uv lock in the app's directory" in caught.value.fixes[0]


def test_another_export_failure_is_not_called_stale(runner, result):
    runner.result = result(rc=2, stderr="error: Failed to parse `uv.lock`")
    with pytest.raises(AppenvError) as caught:
        UV.export(runner, "/srv/app", "/w/out.txt", [], [], {})
    assert caught.value.code == "command_failed" and "Failed to parse" in caught.value.cause


def test_the_install_command_per_location(runtime):
    head = [EXE, "pip", "install"]
    assert UV.install_argv(runtime, "user", "/d", 2) == head + ["--python", runtime.python, "--prefix", "/d"]
    assert UV.install_argv(runtime, "target", "/d", 2) == head + ["--python", runtime.python, "--target", "/d"]
    assert UV.install_argv(runtime, "venv", "/d", 2) == head + ["--python", "/d/bin/python"]
    assert UV.install_argv(runtime, "system", "/d", 2) == head + ["--python", runtime.python, "--system",
                                                                  "--break-system-packages"]


@pytest.mark.parametrize("output, code", [
    ("error: Failed to fetch: `http://127.0.0.1:9/simple/demo/`\n  Caused by: Request failed after 3 retries\n"
     "  Caused by: error sending request for url (http://127.0.0.1:9/simple/demo/)", "deps_index_unreachable"),
    ("error: Failed to fetch: `http://h/simple/demo/`\n  Caused by: HTTP status server error (502 Bad Gateway)",
     "deps_index_unreachable"),
    ("  × No solution found when resolving dependencies:\n  ╰─▶ Because nope was not found in the package "
     "registry and you require nope, we can conclude that your requirements are unsatisfiable.", "deps_not_found"),
    ("  × Failed to build `demo @ file:///srv/app/demo`\n  ├─▶ The build backend returned an error",
     "deps_build_failed"),
    ("error: Failed to prepare distributions\n  Caused by: Build backend failed to build wheel", "deps_build_failed"),
])
def test_failures_are_classified(output, code):
    assert UV.classify(output) == code


def test_it_never_downloads_a_python():
    env = uv.Uv.environment("/var/cache/appenv", "/srv/app")
    assert env == {"UV_CACHE_DIR": "/var/cache/appenv/uv", "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}


def test_check_mode_runs_the_locked_export_alone_to_stdout(runner, result):
    UV.check_lock(runner, "/srv/app", {"UV_CACHE_DIR": "/tmp/x"})
    assert runner.calls == []  # a real run: the export itself checks the lock
    UV.check_lock(runner, "/srv/app", {"UV_CACHE_DIR": "/tmp/x"}, read_only=True)
    assert runner.calls[0]["argv"] == [EXE, "export", "--locked", "--format", "requirements.txt",
                                       "--no-emit-project", "--no-progress"]
    assert (runner.calls[0]["cwd"], runner.calls[0]["env"]) == ("/srv/app", {"UV_CACHE_DIR": "/tmp/x"})
    runner.result = result(rc=2, stderr=STALE)
    with pytest.raises(AppenvError) as caught:
        UV.check_lock(runner, "/srv/app", {}, read_only=True)
    assert caught.value.code == "deps_lock_stale"
