"""The identity of a foreign interpreter: probed once, read back from the fingerprint, compared in sentences."""

import json
import os
import platform
import shutil
import sys

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _interpreter, _site
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner

PYTHON = os.path.realpath(sys.executable)


def test_identify_runs_the_interpreter_once_and_names_it():
    runner = CommandRunner()
    identity = _interpreter.identify(sys.executable, runner, "app_dependencies")
    assert len(runner.history) == 1
    assert identity["path"] == PYTHON
    assert identity["version"] == platform.python_version()
    assert identity["implementation"] == "CPython"
    assert identity["prefix"] == sys.base_prefix or identity["prefix"] == sys.prefix
    assert identity["sha256"] == _interpreter.sha256_file(PYTHON)
    assert identity["cache_tag"] == sys.implementation.cache_tag
    assert identity["abi"].startswith("%d.%d" % sys.version_info[:2])


def test_a_recorded_identity_with_the_same_hashes_starts_no_process(tmp_path):
    first = _interpreter.identify(sys.executable, CommandRunner(), "pyc_compile")
    fingerprint = tmp_path / ".appenv-fingerprint.json"
    fingerprint.write_text(json.dumps({"inputs": {"interpreter": first}}))
    recorded = _interpreter.recorded_identity(str(tmp_path / "missing.json"), str(fingerprint))
    runner = CommandRunner()
    assert _interpreter.identify(sys.executable, runner, "pyc_compile", recorded) == first
    assert runner.history == []
    # Another binary at the recorded path (its sha256 differs): probed again.
    stale = dict(first, sha256="0" * 64)
    runner = CommandRunner()
    assert _interpreter.identify(sys.executable, runner, "pyc_compile", stale)["sha256"] == first["sha256"]
    assert len(runner.history) == 1


def test_recorded_identity_ignores_damaged_or_foreign_files(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    (tmp_path / "b.json").write_text(json.dumps({"inputs": {"runtime": "k"}}))
    assert _interpreter.recorded_identity(str(tmp_path / "a.json"), str(tmp_path / "b.json")) is None


def test_a_changed_binary_keeps_running_and_is_a_new_identity(tmp_path):
    copy = tmp_path / "bin" / os.path.basename(PYTHON)
    copy.parent.mkdir()
    shutil.copy2(PYTHON, str(copy))
    before = _interpreter.identify(str(copy), CommandRunner(), "pyc_compile")
    with open(str(copy), "ab") as handle:
        handle.write(b"\0")  # trailing bytes: an ELF still runs, its sha256 differs
    after = _interpreter.identify(str(copy), CommandRunner(), "pyc_compile", before)
    assert after["sha256"] != before["sha256"]
    assert _interpreter.describe_change(before, after, "/usr/bin/python3") == [
        "the interpreter /usr/bin/python3 (Python %s) changed: its binary changed" % after["version"]]


def test_describe_change_names_both_versions():
    old = {"path": "/usr/bin/python3.11", "version": "3.11.2", "sha256": "a", "implementation": "CPython",
           "prefix": "/usr", "libpython": None, "libpython_sha256": None}
    new = dict(old, version="3.11.9", sha256="b")
    assert _interpreter.describe_change(old, new, "/usr/bin/python3") == [
        "the interpreter /usr/bin/python3 changed from 3.11.2 to 3.11.9"]
    assert _interpreter.describe_change(old, dict(old, stdlib="/elsewhere")) == []
    assert _interpreter.describe_change(old, dict(old, path="/opt/py/bin/python3.11")) == [
        "the interpreter changed from /usr/bin/python3.11 (Python 3.11.2) to /opt/py/bin/python3.11 (Python 3.11.2)"]
    assert _interpreter.describe_change(None, new, "/usr/bin/python3") == [
        "the interpreter is now /usr/bin/python3 (Python 3.11.9) instead of a python_runtime runtime"]
    assert _interpreter.describe_change(old, dict(old, libpython_sha256="c"))[0].endswith("its libpython changed")
    assert _interpreter.describe_change(None, None) == []


def test_something_not_a_cpython_3_8_is_refused_with_a_titled_error(tmp_path):
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho '%s'\n" % json.dumps({"implementation": "PyPy", "version": "3.10.14",
                                                           "version_info": [3, 10]}))
    fake.chmod(0o755)
    with pytest.raises(AppenvError) as error:
        _interpreter.identify(str(fake), CommandRunner(), "pip_tooling")
    assert error.value.code == "interpreter_unusable" and "PyPy 3.10.14" in error.value.cause
    old = tmp_path / "python2"
    old.write_text("#!/bin/sh\necho '%s'\n" % json.dumps({"implementation": "CPython", "version": "3.7.17",
                                                          "version_info": [3, 7]}))
    old.chmod(0o755)
    with pytest.raises(AppenvError) as error:
        _interpreter.identify(str(old), CommandRunner(), "pip_tooling")
    assert "3.8 or later" in error.value.cause
    with pytest.raises(AppenvError) as error:
        _interpreter.identify(str(tmp_path / "absent"), CommandRunner(), "pip_tooling")
    assert error.value.code == "interpreter_unusable" and "not an executable file" in error.value.cause


def test_writable_by_others_finds_the_first_unsafe_path(tmp_path):
    binary = tmp_path / "bin" / "python3"
    binary.parent.mkdir()
    binary.write_text("")
    os.chmod(str(tmp_path), 0o755)
    os.chmod(str(binary.parent), 0o755)
    os.chmod(str(binary), 0o755)
    euid = os.geteuid()
    # Owned by us (or root), not writable by group or others, up to a directory that may be anyone's.
    found = _interpreter.writable_by_others(str(binary), euid=euid)
    assert found is None or not str(found).startswith(str(tmp_path))
    os.chmod(str(binary.parent), 0o777)
    assert _interpreter.writable_by_others(str(binary), euid=euid) == str(binary.parent)
    os.chmod(str(binary.parent), 0o755)
    os.chmod(str(binary), 0o775)
    assert _interpreter.writable_by_others(str(binary), euid=euid) == str(binary)
    os.chmod(str(binary), 0o755)
    assert _interpreter.writable_by_others(str(binary), euid=euid) is None or found is not None


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_an_interpreter_owned_by_another_user_is_unsafe_for_root(tmp_path):
    binary = tmp_path / "python3"
    shutil.copy2(PYTHON, str(binary))
    os.chmod(str(tmp_path), 0o755)
    os.chown(str(binary), 12345, 12345)
    assert _interpreter.writable_by_others(str(binary), euid=0) == str(binary)
    with pytest.raises(AppenvError) as error:
        _interpreter.identify(str(binary), CommandRunner(), "app_dependencies")
    assert error.value.code == "interpreter_unsafe" and str(binary) in error.value.cause


def test_foreign_runtime_has_the_runtime_interface():
    runtime = _site.runtime_for({"interpreter": sys.executable, "runtime": "/nowhere"}, "app_dependencies",
                                CommandRunner())
    assert runtime.version == platform.python_version()
    assert runtime.python == os.path.abspath(sys.executable)
    assert runtime.minor == "%d.%d" % sys.version_info[:2]
    assert runtime.cache_tag == sys.implementation.cache_tag
    assert runtime.user_site("/srv/venv") == "/srv/venv/lib/python%s/site-packages" % runtime.abi
    assert runtime.key == _site.runtime_for({"interpreter": sys.executable}, "x", CommandRunner()).key
    with pytest.raises(AppenvError) as error:
        _site.runtime_for({"interpreter": None, "runtime": "/nowhere"}, "app_dependencies", CommandRunner())
    assert error.value.code == "runtime_missing"


def test_externally_managed_refusal_is_titled():
    runtime = _site.runtime_for({"interpreter": sys.executable}, "app_dependencies", CommandRunner())
    runtime.externally_managed = "/usr/lib/python3.11/EXTERNALLY-MANAGED"
    with pytest.raises(AppenvError) as error:
        runtime.refuse_externally_managed("app_dependencies", "location: user")
    assert error.value.code == "interpreter_externally_managed"
    assert error.value.title == "%s is externally managed (PEP 668): location: user is refused" % runtime.python
    runtime.externally_managed = None
    runtime.refuse_externally_managed("app_dependencies", "location: user")
