"""poetry: poetry.lock beside pyproject.toml, exported with its groups and extras, installed by pip."""

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
