"""poetry: poetry.lock beside pyproject.toml, exported with its groups and extras, installed by pip."""

import pytest

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._installers import poetry

POETRY = poetry.Poetry("/opt/appenv/tools")


def test_the_lock_and_who_installs_it():
    assert (POETRY.lock_file, POETRY.project_file, POETRY.installs_with) == ("poetry.lock", "pyproject.toml", "pip")
    assert not POETRY.reads_requirements


def test_the_export_names_groups_and_extras(runner):
    POETRY.export(runner, "/srv/app", "/w/requirements.lock.txt", ["dev", "docs"], ["fast"], {"A": "1"})
    call, = runner.calls
    assert call["argv"] == ["/opt/appenv/tools/poetry/bin/poetry", "export", "--format", "requirements.txt",
                            "--output", "/w/requirements.lock.txt", "--no-interaction", "--no-ansi",
                            "--with", "dev", "--with", "docs", "--extras", "fast"]
    assert call["cwd"] == "/srv/app" and call["env"] == {"A": "1"} and call["fault"] == "deps_install_failed"


def test_it_never_asks_a_question():
    env = poetry.Poetry.environment("/var/cache/appenv", "/srv/app")
    assert env == {"POETRY_CACHE_DIR": "/var/cache/appenv/poetry", "POETRY_NO_INTERACTION": "1"}


def test_the_lock_is_checked_against_the_project_file(runner):
    POETRY.check_lock(runner, "/srv/app", {"A": "1"})
    assert runner.calls[0]["argv"] == ["/opt/appenv/tools/poetry/bin/poetry"] + ["check", "--lock", "--no-interaction", "--no-ansi"]
    assert runner.calls[0]["cwd"] == "/srv/app" and runner.calls[0]["check"] is False


def test_a_stale_lock_is_a_titled_error_naming_the_fix(runner, result):
    runner.result = result(rc=1, stderr='pyproject.toml changed significantly since poetry.lock was last generated. Run `poetry lock` to fix the lock file.')
    with pytest.raises(AppenvError) as caught:
        POETRY.check_lock(runner, "/srv/app", {})
    assert caught.value.code == "deps_lock_stale"
    assert caught.value.title == "/srv/app/%s no longer matches /srv/app/%s" % (POETRY.lock_file, POETRY.project_file)
    assert caught.value.fixes[0].startswith("Run poetry lock in the app's directory")
