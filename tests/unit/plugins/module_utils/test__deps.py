"""app_dependencies' pure decisions: which installer, durations, how a failure is classified."""

import os

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _deps
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError


def touch(root, *names):
    for name in names:
        (root / name).write_text("x\n")


def test_installer_from_the_apps_files(tmp_path):
    touch(tmp_path, "requirements.txt")
    assert _deps.choose_installer(str(tmp_path), "auto", None) == ("pip", "requirements")
    for lock, installer in (("poetry.lock", "poetry"), ("Pipfile.lock", "pipenv"), ("uv.lock", "uv")):
        other = tmp_path / installer
        other.mkdir()
        touch(other, lock, "pyproject.toml", "Pipfile")
        assert _deps.choose_installer(str(other), "auto", None) == (installer, lock)


def test_two_package_managers_are_a_titled_error(tmp_path):
    touch(tmp_path, "requirements.txt", "poetry.lock", "uv.lock")
    with pytest.raises(AppenvError) as caught:
        _deps.choose_installer(str(tmp_path), "auto", None)
    assert caught.value.code == "installer_conflict"
    assert "requirements.txt and poetry.lock and uv.lock" in caught.value.cause
    # Choosing explicitly resolves it.
    assert _deps.choose_installer(str(tmp_path), "pip", None) == ("pip", "requirements")


def test_missing_files_say_what_is_needed(tmp_path):
    touch(tmp_path, "Pipfile")
    with pytest.raises(AppenvError) as caught:
        _deps.choose_installer(str(tmp_path), "auto", None)
    assert "Pipfile has no Pipfile.lock" in caught.value.cause
    with pytest.raises(AppenvError) as caught:
        _deps.choose_installer(str(tmp_path), "poetry", None)
    assert caught.value.code == "installer_files_missing"


def test_uv_uses_the_lock_unless_requirements_are_named(tmp_path):
    touch(tmp_path, "uv.lock", "pyproject.toml", "requirements.txt")
    assert _deps.choose_installer(str(tmp_path), "uv", None) == ("uv", "uv.lock")
    assert _deps.choose_installer(str(tmp_path), "uv", ["requirements.txt"]) == ("uv", "requirements")
    os.unlink(str(tmp_path / "uv.lock"))
    assert _deps.choose_installer(str(tmp_path), "uv", None) == ("uv", "requirements")


@pytest.mark.parametrize("text, seconds", [("90", 90), ("30m", 1800), ("12h", 43200), ("7d", 604800),
                                           ("2w", 1209600), ("1.5h", 5400), (None, None), ("", None)])
def test_durations(text, seconds):
    assert _deps.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "7 days", "-1d", "1y"])
def test_bad_durations(text):
    with pytest.raises(AppenvError) as caught:
        _deps.parse_duration(text)
    assert caught.value.code == "bad_argument"


@pytest.mark.parametrize("output, code", [
    ("WARNING: Retrying ... NewConnectionError: Failed to establish a new connection\nERROR: No matching "
     "distribution found for x", "deps_index_unreachable"),
    ("ERROR: Could not find a version that satisfies the requirement nope", "deps_not_found"),
    ("error: subprocess-exited-with-error\n× Getting requirements to build wheel did not run successfully.",
     "deps_build_failed"),
    ("ERROR: Invalid requirement: 'x >=< 1'", "deps_install_failed"),
])
def test_failures_are_classified(output, code):
    assert _deps.classify_failure(output) == code
