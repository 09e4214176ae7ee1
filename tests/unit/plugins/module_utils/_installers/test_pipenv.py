"""pipenv: Pipfile.lock beside Pipfile, exported by category on stdout, installed by pip."""

from ansible_collections.appenv.python.plugins.module_utils._installers import pipenv

PIPENV = pipenv.Pipenv("/opt/appenv/tools")


def test_the_lock_and_who_installs_it():
    assert (PIPENV.lock_file, PIPENV.project_file, PIPENV.installs_with) == ("Pipfile.lock", "Pipfile", "pip")


def test_the_export_is_its_stdout_with_hashes(runner, result, tmp_path):
    runner.result = result(stdout="demo==1.0 --hash=sha256:00\n")
    output = tmp_path / "requirements.lock.txt"
    PIPENV.export(runner, "/srv/app", str(output), [], [], {})
    assert runner.calls[0]["argv"] == ["/opt/appenv/tools/pipenv/bin/pipenv", "requirements", "--hash"]
    assert output.read_text() == "demo==1.0 --hash=sha256:00\n"


def test_groups_are_categories_and_dev_is_dev_packages(runner, tmp_path):
    PIPENV.export(runner, "/srv/app", str(tmp_path / "out"), ["dev", "docs"], [], {})
    assert runner.calls[0]["argv"][-2:] == ["--categories", "packages docs dev-packages"]


def test_it_reads_the_apps_pipfile_and_no_venv_it_finds_itself_in():
    env = pipenv.Pipenv.environment("/var/cache/appenv", "/srv/app")
    assert env == {"PIPENV_CACHE_DIR": "/var/cache/appenv/pipenv", "PIPENV_VERBOSITY": "-1",
                   "PIPENV_IGNORE_VIRTUALENVS": "1", "PIPENV_PIPFILE": "/srv/app/Pipfile"}
