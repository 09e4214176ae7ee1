"""The host's cache of this collection's compiled module_utils (_pycache): used only from an AnsiballZ-like zip,
only in a private directory of the running user, and any doubt compiles the source as without it."""

import json
import os
import subprocess
import sys
import zipfile

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _pycache
from tests.collection_path import REPO_ROOT

PACKAGE = "ansible_collections/appenv/python/plugins/module_utils/"
# Runs in a fresh interpreter with the zip first on sys.path, as AnsiballZ does: installs the cache in the given
# directory, imports a module_util of the zip, counts the compiles Python made of it, prints what it saw.
_RUN = r"""
import builtins, json, sys
compiled = []
real = builtins.compile
def counting(source, filename, *args, **kwargs):
    if "_sample" in str(filename):
        compiled.append(str(filename))
    return real(source, filename, *args, **kwargs)
builtins.compile = counting
from ansible_collections.appenv.python.plugins.module_utils import _pycache
_pycache.ROOT_DIR = _pycache.USER_DIR = sys.argv[1]
_pycache.cache_dir = lambda: sys.argv[1]
used = _pycache.install(store=sys.argv[2] == "store")
from ansible_collections.appenv.python.plugins.module_utils import _sample
try:
    _sample.fail()
except ValueError as exc:
    where = exc.__traceback__.tb_next.tb_frame.f_code.co_filename
print(json.dumps({"used": used, "compiled": len(compiled), "value": _sample.VALUE, "where": where,
                  "file": _sample.__file__}))
"""


def _zip(tmp_path, name="payload.zip", value=1):
    """A zip laid out as an AnsiballZ payload: the collection's _pycache and a module_util _sample."""
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        for package in ("ansible_collections/", "ansible_collections/appenv/", "ansible_collections/appenv/python/",
                        "ansible_collections/appenv/python/plugins/", PACKAGE):
            archive.writestr(package + "__init__.py", "")
        archive.write(REPO_ROOT / "plugins" / "module_utils" / "_pycache.py", PACKAGE + "_pycache.py")
        archive.writestr(PACKAGE + "_sample.py", "VALUE = %d\n\ndef fail():\n    raise ValueError('x')\n" % value)
    return path


def _run(payload, cache, store=True):
    env = dict(os.environ, PYTHONPATH=str(payload))
    proc = subprocess.run([sys.executable, "-c", _RUN, str(cache), "store" if store else "read"], capture_output=True, text=True, env=env,
                          check=False, timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def cache(tmp_path):
    os.chmod(tmp_path, 0o755)
    return tmp_path / "pycache" / "magic"


def test_the_second_run_imports_the_compiled_code_and_names_its_own_zip(tmp_path, cache):
    first = _run(_zip(tmp_path), cache)
    assert first["used"] == str(cache) and first["compiled"] == 1 and first["value"] == 1
    assert oct(os.stat(cache).st_mode & 0o777) == "0o700"
    entries = os.listdir(cache)
    assert len(entries) == 1 and oct(os.stat(cache / entries[0]).st_mode & 0o777) == "0o600"
    other = tmp_path / "other"
    other.mkdir()
    second = _run(_zip(other, "payload2.zip"), cache)  # the next run's zip is elsewhere
    assert second["compiled"] == 0 and second["value"] == 1
    assert second["where"] == second["file"] and "payload2.zip" in second["where"]  # its tracebacks: this run's


def test_check_mode_reads_entries_and_writes_nothing(tmp_path, cache):
    """Check mode writes nothing on the host: no directory made, no entry written; what is there is used."""
    fresh = _run(_zip(tmp_path), cache, store=False)
    assert fresh["used"] is None and fresh["compiled"] == 1 and not os.path.lexists(cache.parent)
    _run(_zip(tmp_path), cache)
    entries = sorted(os.listdir(cache))
    assert _run(_zip(tmp_path), cache, store=False)["compiled"] == 0
    assert _run(_zip(tmp_path, value=2), cache, store=False)["compiled"] == 1
    assert sorted(os.listdir(cache)) == entries


def test_a_changed_source_is_compiled_again_beside_the_old_entry(tmp_path, cache):
    _run(_zip(tmp_path), cache)
    changed = _run(_zip(tmp_path, value=2), cache)
    assert changed["compiled"] == 1 and changed["value"] == 2 and len(os.listdir(cache)) == 2


def test_a_damaged_or_foreign_entry_is_never_loaded(tmp_path, cache):
    _run(_zip(tmp_path), cache)
    entry = cache / os.listdir(cache)[0]
    data = entry.read_bytes()
    entry.write_bytes(data[:-5])  # truncated
    assert _run(_zip(tmp_path), cache)["compiled"] == 1  # compiled, and written again whole
    assert entry.read_bytes() == data
    os.chmod(entry, 0o644)  # readable (and so replaceable in spirit) by others: not the user's private file
    assert _run(_zip(tmp_path), cache)["compiled"] == 1
    os.chmod(entry, 0o600)
    os.chown(entry, 65534, 65534)  # another user's file
    assert _run(_zip(tmp_path), cache)["compiled"] == 1


@pytest.mark.parametrize("unsafe", ["group-writable parent", "link on the way", "cache owned by another user",
                                    "cache readable by others"])
def test_a_directory_others_could_write_is_never_used(tmp_path, cache, unsafe):
    if unsafe == "group-writable parent":
        cache.parent.mkdir(mode=0o775)
        os.chmod(cache.parent, 0o775)
    elif unsafe == "link on the way":
        (tmp_path / "elsewhere").mkdir()
        os.symlink(tmp_path / "elsewhere", cache.parent)
    elif unsafe == "cache owned by another user":
        cache.mkdir(parents=True, mode=0o700)
        os.chown(cache, 65534, 65534)
    else:
        cache.mkdir(parents=True)
        os.chmod(cache, 0o755)
    result = _run(_zip(tmp_path), cache)
    assert result["used"] is None and result["compiled"] == 1 and result["value"] == 1
    assert not os.path.isdir(cache) or not os.listdir(cache)


def test_outside_a_zip_nothing_is_installed():
    assert _pycache.install() is None  # imported from the source tree, as the controller and the tests do


def test_each_user_keeps_its_own(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert _pycache.cache_dir().startswith(_pycache.ROOT_DIR + "/")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("HOME", "/home/app")
    assert _pycache.cache_dir().startswith("/home/app/.cache/appenv/pycache/")
    monkeypatch.setenv("HOME", "relative")
    assert _pycache.cache_dir() is None
