"""The engine's payload kept on the controller between runs (_payload_cache): put back byte for byte into the next
run's directory, a new key for any changed source, and only ever read from a private directory of the controller
user."""

import os
import shutil

import pytest
from ansible import constants as C

from ansible_collections.appenv.python.plugins.plugin_utils import _payload_cache
from tests.collection_path import REPO_ROOT

NAME = "ansible_collections.appenv.python.plugins.modules.engine-ZIP_DEFLATED-none"
PAYLOAD = b"the payload Ansible built\x00\x01"


@pytest.fixture
def run(tmp_path, monkeypatch):
    """A run's private temporary directory (Ansible's) and the store, both below tmp_path (0755 like /tmp's own)."""
    tmp_path.chmod(0o755)
    local = tmp_path / "ansible-local-1"
    local.mkdir(mode=0o700)
    monkeypatch.setattr(C, "DEFAULT_LOCAL_TMP", str(local), raising=False)
    monkeypatch.setenv(_payload_cache.ENV, str(tmp_path / "store"))
    monkeypatch.setattr(_payload_cache, "_KEYS", {})
    return local / "ansiballz_cache", tmp_path / "store"


def built(run_dir, data=PAYLOAD, name=NAME):
    run_dir.mkdir(exist_ok=True)
    (run_dir / name).write_bytes(data)
    (run_dir / (name + ".lock")).write_bytes(b"")


def next_run(run_dir):
    shutil.rmtree(str(run_dir))


def test_a_payload_built_by_one_run_is_put_back_byte_for_byte_into_the_next_runs_directory(run):
    run_dir, store = run
    assert not _payload_cache.seed()  # nothing kept yet: Ansible builds it
    built(run_dir)
    assert _payload_cache.keep()
    assert not _payload_cache.keep()  # kept once
    assert oct(store.stat().st_mode & 0o777) == "0o700"
    kept = list(store.iterdir())
    assert [oct(path.stat().st_mode & 0o777) for path in kept] == ["0o600"]
    assert kept[0].name.endswith("-" + NAME)  # Ansible's lock file is not kept
    next_run(run_dir)
    assert _payload_cache.seed()
    assert sorted(path.name for path in run_dir.iterdir()) == [NAME]
    assert (run_dir / NAME).read_bytes() == PAYLOAD


def test_a_run_that_has_its_payload_already_is_left_alone(run):
    run_dir, _store = run
    built(run_dir)
    _payload_cache.keep()
    (run_dir / NAME).write_bytes(b"this run's own")
    assert not _payload_cache.seed()
    assert (run_dir / NAME).read_bytes() == b"this run's own"


def collection(root, util=b"X = 1\n"):
    (root / "plugins" / "modules").mkdir(parents=True)
    (root / "plugins" / "module_utils" / "_installers").mkdir(parents=True)
    (root / "plugins" / "modules" / "engine.py").write_bytes(b"# engine\n")
    (root / "plugins" / "module_utils" / "_a.py").write_bytes(util)
    (root / "plugins" / "module_utils" / "_installers" / "_b.py").write_bytes(b"Y = 2\n")
    return root


def test_the_key_changes_with_any_source_of_the_payload_and_with_the_collections_path(tmp_path):
    first = collection(tmp_path / "one")
    key = _payload_cache._payload_key(str(first))
    assert key == _payload_cache._payload_key(str(first))
    (first / "plugins" / "module_utils" / "_installers" / "_b.py").write_bytes(b"Y = 3\n")
    changed = _payload_cache._payload_key(str(first))
    (first / "plugins" / "modules" / "engine.py").write_bytes(b"# engine 2\n")
    engine = _payload_cache._payload_key(str(first))
    (first / "plugins" / "module_utils" / "_new.py").write_bytes(b"")
    added = _payload_cache._payload_key(str(first))
    assert len({key, changed, engine, added, _payload_cache._payload_key(str(collection(tmp_path / "two")))}) == 5
    # The key of this checkout covers its real module_utils (a file of each kind of directory).
    assert len(_payload_cache._payload_key(str(REPO_ROOT))) == 64


def test_a_changed_source_is_a_new_payload_built_by_ansible(run, monkeypatch):
    run_dir, _store = run
    built(run_dir)
    _payload_cache.keep()
    next_run(run_dir)
    monkeypatch.setattr(_payload_cache, "_KEYS", {_payload_cache._COLLECTION_ROOT: "0" * 64})
    assert not _payload_cache.seed()
    assert not run_dir.exists()


@pytest.mark.parametrize("unsafe", ["store group-writable", "store readable by others", "store is a link",
                                    "parent writable by others", "entry readable by others", "entry is a link",
                                    "entry damaged", "turned off"])
def test_a_payload_is_never_read_from_where_another_user_could_have_put_it(run, monkeypatch, tmp_path, unsafe):
    run_dir, store = run
    built(run_dir)
    assert _payload_cache.keep()
    next_run(run_dir)
    entry = next(store.iterdir())
    if unsafe == "store group-writable":
        store.chmod(0o770)
    elif unsafe == "store readable by others":
        store.chmod(0o755)
    elif unsafe == "store is a link":
        store.rename(tmp_path / "real")
        (tmp_path / "store").symlink_to(tmp_path / "real")
    elif unsafe == "parent writable by others":
        tmp_path.chmod(0o777)
    elif unsafe == "entry readable by others":
        entry.chmod(0o644)
    elif unsafe == "entry is a link":
        (tmp_path / "elsewhere").write_bytes(PAYLOAD)
        (tmp_path / "elsewhere").chmod(0o600)
        entry.unlink()
        entry.symlink_to(tmp_path / "elsewhere")
    elif unsafe == "entry damaged":
        entry.write_bytes(entry.read_bytes()[:-1] + b"X")
    else:
        monkeypatch.setenv(_payload_cache.ENV, "off")
    assert not _payload_cache.seed()
    assert not run_dir.exists() or not list(run_dir.iterdir())
    if unsafe.startswith("entry"):  # the store itself is sound: the run that builds the payload keeps it again
        built(run_dir)
        assert _payload_cache.keep()
        next_run(run_dir)
        assert _payload_cache.seed()
        assert (run_dir / NAME).read_bytes() == PAYLOAD


def test_outside_a_run_nothing_is_seeded_or_kept(monkeypatch, tmp_path):
    monkeypatch.setattr(C, "DEFAULT_LOCAL_TMP", str(tmp_path / "gone"), raising=False)
    monkeypatch.setenv(_payload_cache.ENV, str(tmp_path / "store"))
    assert not _payload_cache.seed() and not _payload_cache.keep()
    assert not (tmp_path / "store").exists()


def test_seeing_nothing_kept_makes_no_directory(run):
    _run_dir, store = run
    assert not _payload_cache.seed()
    assert not store.exists()


def test_keeping_a_new_key_removes_other_keys_entries_unused_for_a_week(run):
    run_dir, store = run
    store.mkdir(mode=0o700)
    old, recent = store / ("a" * 32 + "-" + NAME), store / ("b" * 32 + "-" + NAME)
    for path in (old, recent):
        path.write_bytes(b"other")
        path.chmod(0o600)
    os.utime(str(old), (1, 1))
    built(run_dir)
    assert _payload_cache.keep()
    assert not old.exists() and recent.exists()
    assert len(list(store.iterdir())) == 2
