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
    # An index answering 500: pip only says "from versions: none"; its log (--log) says why.
    ("ERROR: Could not find a version that satisfies the requirement demo (from versions: none)\n"
     "2026-01-01T00:00:00,000 Could not fetch URL http://127.0.0.1:1/simple/demo/: connection error: "
     "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /simple/demo/ "
     "(Caused by ResponseError('too many 500 error responses')) - skipping", "deps_index_unreachable"),
    ("Could not fetch URL http://h/simple/demo/: 504 Server Error: Gateway Timeout for url: x - skipping\n"
     "ERROR: No matching distribution found for demo", "deps_index_unreachable"),
    ("Could not fetch URL http://h/simple/demo/: 404 Client Error: Not Found for url: x - skipping\n"
     "ERROR: No matching distribution found for demo", "deps_not_found"),
    # A download cut short, retried and resumed until pip gives up.
    ("WARNING: Connection interrupted while downloading.\nerror: incomplete-download\n"
     "Download failed after 6 attempts because not enough bytes were received", "deps_index_unreachable"),
    ("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device", "layer_no_space"),
])
def test_failures_are_classified(output, code):
    assert _deps.classify_failure(output) == code


def test_fetch_failures_are_the_lines_that_say_why_an_index_page_was_skipped():
    log = ("2026-01-01T00:00:00,000 Looking in indexes: http://127.0.0.1:1/simple\n"
           "2026-01-01T00:00:01,000 Could not fetch URL http://127.0.0.1:1/simple/a/: 500 Server Error - skipping\n"
           "2026-01-01T00:00:01,000 Could not fetch URL http://127.0.0.1:1/simple/a/: 500 Server Error - skipping\n"
           + "".join("2026-01-01T00:00:02,000 Could not fetch URL http://h/simple/p%d/: timed out\n" % n
                     for n in range(9)))
    lines = _deps.fetch_failures(log)
    assert len(lines) == 5 and "500 Server Error" in lines[0] and "p0" in lines[1]
    assert _deps.fetch_failures("") == []


def test_every_classified_failure_is_a_catalogue_entry_with_the_fields_given():
    from ansible_collections.appenv.python.plugins.module_utils._errors import CATALOGUE
    fields = dict(installer="pip", dest="/d", command="pip install", rc=1, output="out", kind="app_dependencies",
                  path="/d", detail="out")
    for output in ("No space left on device", "timed out", "Failed to build", "No matching distribution", "?"):
        error = AppenvError(_deps.classify_failure(output), **fields)
        assert error.code in CATALOGUE and "<" not in error.message, error.message
