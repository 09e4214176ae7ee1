"""The engine's payload kept on the controller between ansible-playbook runs (plugin_utils/_payload_cache.py), with
real plays against a real Debian host: kept by the first run, put back by the next, never read from a directory
another user could write."""

import os
import stat

import pytest

from tests.integration import harness

pytestmark = pytest.mark.integration

MODULE = "appenv.python.app_code"
DEST = "/srv/payload-cache-app"


def _entries(store):
    return sorted(store.iterdir()) if store.exists() else []


def test_the_engines_payload_is_kept_by_one_run_and_put_back_by_the_next_only_from_a_private_directory(
        amd64_host, tmp_path):
    src = tmp_path / "app"
    src.mkdir()
    (src / "main.py").write_text("print('hello')\n")
    store = tmp_path / "controller-home" / "payloads"
    env = {"APPENV_PAYLOAD_CACHE": str(store)}
    args = {"src": str(src), "dest": DEST}

    first = harness.assert_ok(harness.run_task(amd64_host, MODULE, args, env=env))
    assert first["layer_action"] == "created"
    entries = _entries(store)
    assert len(entries) == 1
    assert entries[0].name.split("-", 1)[1].startswith("ansible_collections.appenv.python.plugins.modules.engine-")
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    assert stat.S_IMODE(entries[0].stat().st_mode) == 0o600 and entries[0].stat().st_uid == os.geteuid()
    assert entries[0].read_bytes().startswith(b"appenv-payload-1 ")
    os.utime(str(entries[0]), (1, 1))

    # The next run puts it back (the entry is marked used) and keeps nothing new; the task is the same no-op.
    again = harness.assert_ok(harness.run_task(amd64_host, MODULE, args, env=env))
    assert (again["layer_action"], again["changed"]) == ("kept", False)
    assert _entries(store) == entries and entries[0].stat().st_mtime > 1

    # A store other users can read or write is never read, nor written: the run builds its payload, as without it.
    store.chmod(0o755)
    os.utime(str(entries[0]), (1, 1))
    before = entries[0].read_bytes()
    third = harness.assert_ok(harness.run_task(amd64_host, MODULE, args, env=env))
    assert (third["layer_action"], third["changed"]) == ("kept", False)
    assert entries[0].stat().st_mtime == 1 and entries[0].read_bytes() == before and _entries(store) == entries

    # Turned off: nothing is kept anywhere.
    store.chmod(0o700)
    off = tmp_path / "off"
    env_off = {"APPENV_PAYLOAD_CACHE": "off", "XDG_CACHE_HOME": str(off)}
    harness.assert_ok(harness.run_task(amd64_host, MODULE, args, env=env_off))
    assert not off.exists()
