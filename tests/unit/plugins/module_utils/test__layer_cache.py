"""The layer cache: restore by key, verified; atomic, concurrent-safe writes; LRU eviction."""

import errno
import fcntl
import io
import json
import os
import shutil
import tarfile
import threading

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _fingerprint, _layer, _layer_cache
from ansible_collections.appenv.python.plugins.module_utils._signing import Trust
from tests.unit.plugins.module_utils.signed_caches import TEST_TRUST, DirectoryCache
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner

from tests.unit.plugins.module_utils.test__layer import ToyLayer, payload


def converge(spec, cache, **kwargs):
    return _layer.converge(spec, CommandRunner(), cache=cache, **kwargs)


def test_fresh_host_restores_instead_of_building(tmp_path):
    cache = DirectoryCache(str(tmp_path / "cache"))
    first_host = ToyLayer(tmp_path / "host1" / "layer", "1")
    assert converge(first_host, cache).action == "created"
    assert len(cache.entries()) == 1

    # A "fresh host": same destination path on a new root is simulated by deleting the layer.
    _layer.remove_tree(str(tmp_path / "host1"))
    fresh = ToyLayer(tmp_path / "host1" / "layer", "1")
    predicted = converge(fresh, cache, check_mode=True)
    restored = converge(ToyLayer(tmp_path / "host1" / "layer", "1"), cache)
    assert restored.action == predicted.action == "restored"
    assert restored.reasons == predicted.reasons
    assert "restored from the layer cache" in restored.reasons[-1]
    assert payload(tmp_path / "host1" / "layer") == "1"
    assert converge(ToyLayer(tmp_path / "host1" / "layer", "1"), cache).action == "kept"
    assert cache.entries()[0]["hits"] == 1


def test_other_inputs_or_other_path_never_share_an_entry(tmp_path):
    cache = DirectoryCache(str(tmp_path / "cache"))
    converge(ToyLayer(tmp_path / "a" / "layer", "1"), cache)
    assert converge(ToyLayer(tmp_path / "a" / "layer", "2"), cache).action == "recreated"
    assert converge(ToyLayer(tmp_path / "b" / "layer", "1"), cache).action == "created"
    assert len(cache.entries()) == 3


@pytest.mark.parametrize("compression", ["none", "gzip"])
@pytest.mark.parametrize("damage", ["truncate", "flip", "meta-garbage"])
def test_corrupt_entries_are_discarded_and_rebuilt(tmp_path, damage, compression):
    cache = DirectoryCache(str(tmp_path / "cache"), compression=compression)
    spec = ToyLayer(tmp_path / "h" / "layer", "1")
    converge(spec, cache)
    key = _layer.make_record(spec, {})["key"]
    _shard, archive, meta = cache._paths(key)
    assert archive.endswith(".tar" if compression == "none" else ".tar.gz") and os.path.isfile(archive)
    if damage == "truncate":
        with open(archive, "r+b") as handle:
            handle.truncate(10)
    elif damage == "flip":
        data = bytearray(open(archive, "rb").read())
        data[len(data) // 2] ^= 0xFF
        open(archive, "wb").write(bytes(data))
    else:
        open(meta, "w").write("{garbage")
    _layer.remove_tree(str(tmp_path / "h"))
    result = converge(ToyLayer(tmp_path / "h" / "layer", "1"), cache)
    assert result.action == "created"
    assert payload(tmp_path / "h" / "layer") == "1"
    # The rebuilt layer was stored again, whole.
    fresh = DirectoryCache(str(tmp_path / "cache"))
    assert fresh.lookup(key) is not None


def test_read_only_cache_warns_and_the_build_succeeds(tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    cache = DirectoryCache(str(root))
    # A file where the shard directory should be makes every write fail, as a read-only mount would.
    spec = ToyLayer(tmp_path / "h" / "layer", "1")
    key = _layer.make_record(spec, {})["key"]
    (root / key[:2]).write_text("not a directory")
    result = converge(spec, cache)
    assert result.action == "created"
    assert result.warnings and "could not be stored in the layer cache" in result.warnings[0]


def test_concurrent_writers_leave_one_whole_entry(tmp_path):
    """Several builds of the same layer storing the same entry at once."""
    cache_root = str(tmp_path / "cache")
    errors = []

    def build(index):
        try:
            cache = DirectoryCache(cache_root)
            spec = ToyLayer(tmp_path / ("h%d" % index) / "layer", "1")
            spec.path = str(tmp_path / "h0" / "layer") if index == 0 else spec.path
            record = _layer.make_record(ToyLayer(tmp_path / "shared" / "layer", "1"), {"i": index})
            os.makedirs(spec.path, exist_ok=True)
            with open(os.path.join(spec.path, "payload"), "w") as handle:
                handle.write(str(index))
            cache.store(record["key"], spec.path, record)
            errors.extend(cache.warnings)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    entries = DirectoryCache(cache_root).entries()
    assert len(entries) == 1
    leftovers = [name for _d, _s, files in os.walk(cache_root) for name in files if ".tmp-" in name]
    assert leftovers == []
    # The entry that won is whole: it restores.
    restored = DirectoryCache(cache_root).restore(entries[0]["key"], str(tmp_path / "restored"))
    assert restored is not None and (tmp_path / "restored" / "payload").read_text() in "0123"


def test_lru_eviction_by_size_and_age(tmp_path):
    cache = DirectoryCache(str(tmp_path / "cache"))
    for version in ("1", "2", "3"):
        converge(ToyLayer(tmp_path / "h" / "layer", version), cache)
    metas = sorted(cache.entries(), key=lambda meta: meta["last_used"])
    assert len(metas) == 3
    for age, meta in zip((300, 200, 100), metas):
        meta["last_used"] -= age
        _fingerprint.write_json_atomic(cache._paths(meta["key"])[2], meta)
    newest_two = metas[1]["size"] + metas[2]["size"]
    removed = DirectoryCache(str(tmp_path / "cache"), max_bytes=newest_two).evict()
    assert removed == [metas[0]["key"]]
    removed = DirectoryCache(str(tmp_path / "cache"), max_age_days=150 / 86400.0).evict()
    assert removed == [metas[1]["key"]]


def aged_entries(tmp_path, ages):
    """Three entries, last used ages seconds ago (oldest first)."""
    cache = DirectoryCache(str(tmp_path / "cache"))
    for version in ("1", "2", "3"):
        converge(ToyLayer(tmp_path / "h" / "layer", version), cache)
    metas = sorted(cache.entries(), key=lambda meta: meta["last_used"])
    for age, meta in zip(ages, metas):
        meta["last_used"] -= age
        _fingerprint.write_json_atomic(cache._paths(meta["key"])[2], meta)
    return cache, metas


def test_eviction_leaves_an_entry_another_process_holds_and_its_lock_file(tmp_path):
    cache, metas = aged_entries(tmp_path, (300, 200, 100))
    oldest, second = metas[0]["key"], metas[1]["key"]
    # Another process restoring the oldest entry holds its lock (flock: one open file description each).
    held = open(cache._lock_path(oldest), "a")
    fcntl.flock(held.fileno(), fcntl.LOCK_SH)
    try:
        removed = DirectoryCache(str(tmp_path / "cache"), max_bytes=metas[2]["size"] + metas[0]["size"]).evict()
        # The held entry stays whole (archive, metadata and the very lock file the reader holds); the next least
        # recently used one goes instead, lock file and all.
        assert removed == [second]
        assert cache.lookup(oldest) is not None
        assert os.fstat(held.fileno()).st_ino == os.stat(cache._lock_path(oldest)).st_ino
        assert not os.path.exists(cache._lock_path(second))
    finally:
        held.close()
    assert DirectoryCache(str(tmp_path / "cache"), max_bytes=metas[2]["size"]).evict() == [oldest]


def test_a_lock_taken_on_a_lock_file_evicted_meanwhile_is_taken_again(tmp_path, monkeypatch):
    cache, metas = aged_entries(tmp_path, (300, 200, 100))
    key = metas[2]["key"]
    path = cache._lock_path(key)
    real_flock = _layer_cache.fcntl.flock
    calls = []

    def flock_after_an_eviction(fd, operation):
        # Between this process's open() and its flock(), an eviction unlinked the file (and a store made a new
        # one): the lock taken on the old file would guard nothing.
        if not calls:
            os.unlink(path)
            open(path, "a").close()
        calls.append(fd)
        return real_flock(fd, operation)

    monkeypatch.setattr(_layer_cache.fcntl, "flock", flock_after_an_eviction)
    handle = cache._entry_lock(key, exclusive=True)
    try:
        assert len(calls) == 2
        assert os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    finally:
        handle.close()


def test_a_layer_larger_than_the_entry_limits_is_never_stored_and_never_restored(tmp_path):
    cache = DirectoryCache(str(tmp_path / "cache"))
    cache.max_entry_members = 1  # the toy layer has two members (its payload and its fingerprint)
    built = converge(ToyLayer(tmp_path / "h" / "layer", "1"), cache)
    assert built.action == "created" and cache.entries() == []
    assert any("not stored" in w and "more than the limit of 1" in w and "max_entry_members" in w
               for w in cache.warnings), cache.warnings
    # An entry stored by a host with higher limits is refused by one with lower limits, and the layer is built.
    roomy = DirectoryCache(str(tmp_path / "cache"))
    converge(ToyLayer(tmp_path / "h2" / "layer", "2"), roomy)
    (meta,) = roomy.entries()
    strict = DirectoryCache(str(tmp_path / "cache"))
    strict.max_entry_bytes = 1
    assert strict.restore(meta["key"], str(tmp_path / "restored")) is None
    assert not (tmp_path / "restored").exists()


def test_absolute_symlinks_of_a_venv_survive_a_restore(tmp_path):
    """venvs link bin/python to their interpreter by absolute path; the cache must restore that."""

    class VenvLike(ToyLayer):
        def build(self, target, runner):
            facts = super(VenvLike, self).build(target, runner)
            os.symlink("/usr/bin/python3", os.path.join(target, "python"))
            return facts

    cache = DirectoryCache(str(tmp_path / "cache"))
    converge(VenvLike(tmp_path / "h" / "venv"), cache)
    _layer.remove_tree(str(tmp_path / "h"))
    result = converge(VenvLike(tmp_path / "h" / "venv"), cache)
    assert result.action == "restored"
    assert os.readlink(str(tmp_path / "h" / "venv" / "python")) == "/usr/bin/python3"


def test_entries_of_either_compression_restore(tmp_path):
    """A cache filled by an older release (gzip, no compression recorded, no signature) still restores where unsigned
    entries are trusted (and is refused, then replaced, where they are not); new entries are plain tar."""
    root = str(tmp_path / "cache")
    spec = ToyLayer(tmp_path / "h" / "layer", "1")
    assert converge(spec, DirectoryCache(root, compression="gzip")).action == "created"
    key = _layer.make_record(spec, {})["key"]
    meta_path = DirectoryCache(root)._paths(key)[2]
    meta = json.loads(open(meta_path).read())
    assert meta["compression"] == "gzip"
    del meta["compression"]  # as written before the option existed
    del meta["signatures"]  # and before entries were signed
    _fingerprint.write_json_atomic(meta_path, meta)

    _layer.remove_tree(str(tmp_path / "h"))
    unsigned = DirectoryCache(root, trust=Trust(trust="unsigned"), store=False)
    assert converge(ToyLayer(tmp_path / "h" / "layer", "1"), unsigned).action == "restored"
    assert payload(tmp_path / "h" / "layer") == "1"
    _layer.remove_tree(str(tmp_path / "h"))
    refused = converge(ToyLayer(tmp_path / "h" / "layer", "1"), DirectoryCache(root))
    assert refused.action == "created" and "HMAC is missing" in refused.warnings[0], refused.warnings

    other = ToyLayer(tmp_path / "h" / "other", "2")
    assert converge(other, DirectoryCache(root)).action == "created"  # auto: plain tar in a directory
    other_key = _layer.make_record(other, {})["key"]
    assert os.path.isfile(os.path.join(root, other_key[:2], other_key + ".tar"))
    assert dict((entry["key"], entry.get("compression")) for entry in DirectoryCache(root).entries()) == {
        key: "none", other_key: "none"}  # the refused entry was stored again, signed, as plain tar


def test_a_restore_that_cannot_write_keeps_the_entry(tmp_path, monkeypatch):
    """The disk, not the entry, is at fault: a warning, the layer is built, and the entry stays for the next host."""
    cache = DirectoryCache(str(tmp_path / "cache"))
    spec = ToyLayer(tmp_path / "h" / "layer", "1")
    converge(spec, cache)
    key = _layer.make_record(spec, {})["key"]

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_layer_cache._archive, "safe_extract", no_space)
    assert cache.restore(key, str(tmp_path / "target")) is None
    assert not os.path.exists(str(tmp_path / "target"))
    assert "could not be extracted here" in cache.warnings[-1] and "No space" in cache.warnings[-1]
    assert DirectoryCache(str(tmp_path / "cache")).lookup(key) is not None


def test_entries_hold_one_header_per_member(tmp_path):
    """Whole-second mtimes: no pax header per member (they double what a restore must read)."""
    layer = tmp_path / "layer"
    (layer / "pkg").mkdir(parents=True)
    for index in range(5):
        (layer / "pkg" / ("m%d.py" % index)).write_text("x = %d\n" % index)
        os.utime(str(layer / "pkg" / ("m%d.py" % index)), (1700000000.75, 1700000000.75))
    cache = DirectoryCache(str(tmp_path / "cache"))
    meta = cache.store("ab" * 32, str(layer), {"kind": "toy"})
    with tarfile.open(cache._paths(meta["key"], meta)[1]) as tar:
        members = tar.getmembers()
    assert all(not member.pax_headers for member in members)
    assert [member.mtime for member in members if member.name.endswith(".py")] == [1700000000] * 5
    # One 512-byte header per member and one data block per file, the end marker and tar's padding: nothing else.
    assert os.path.getsize(cache._paths(meta["key"], meta)[1]) <= (len(members) * 2 + 2) * 512 + 10240


def test_an_entry_packed_elsewhere_is_adopted_whole(tmp_path):
    """The public interface the controller's cache uses: entry_files, read_meta, adopt, count_hit."""
    spec = ToyLayer(tmp_path / "h" / "layer", "1")
    converge(spec, DirectoryCache(str(tmp_path / "host"), compression="gzip"))
    key = _layer.make_record(spec, {})["key"]
    host = DirectoryCache(str(tmp_path / "host"))
    archive, meta_path = host.entry_files(key, host.lookup(key))
    assert archive.endswith(key + ".tar.gz") and meta_path.endswith(key + ".json")
    meta = _layer_cache.read_meta(meta_path)
    assert meta == host.lookup(key) and _layer_cache.read_meta(str(tmp_path / "nowhere.json")) is None

    local = DirectoryCache(str(tmp_path / "local"))
    _layer.remove_tree(str(tmp_path / "h"))
    assert converge(ToyLayer(tmp_path / "h" / "layer", "1"), local).action == "created"  # plain tar: replaced
    local.count_hit(key, local.lookup(key))
    staged = str(tmp_path / "local" / key[:2] / "incoming")
    shutil.copyfile(archive, staged)
    local.adopt(key, staged, meta)
    assert [(entry["key"], entry["hits"], entry["compression"]) for entry in local.entries()] == [(key, 0, "gzip")]
    assert sorted(os.listdir(str(tmp_path / "local" / key[:2]))) == [key + ".json", key + ".lock", key + ".tar.gz"]
    _layer.remove_tree(str(tmp_path / "h"))
    assert converge(ToyLayer(tmp_path / "h" / "layer", "1"), local).action == "restored"
    local.count_hit(key, local.lookup(key))
    assert local.entries()[0]["hits"] == 2


# -- who wrote an entry, and for what (issue 16) ------------------------------------------------------------------

def _stored(tmp_path, version="1"):
    """A cache holding the signed entry of the toy layer at tmp_path/h/layer, built on a host whose tree is then
    removed (the next host is a fresh one); (cache root, key, metadata path, archive path)."""
    root = str(tmp_path / "cache")
    spec = ToyLayer(tmp_path / "h" / "layer", version)
    assert converge(spec, DirectoryCache(root)).action == "created"
    _layer.remove_tree(str(tmp_path / "h"))
    key = _layer.layer_key(spec)
    _directory, archive, meta_path = DirectoryCache(root)._paths(key)
    return root, key, meta_path, archive


def _rewrite(meta_path, archive, members, change=None, sign=False):
    """Whoever can write the cache rewrites an entry: new archive, metadata that matches it (sha256, size)."""
    with tarfile.open(archive, "w") as tar:
        for name, text in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text.encode()))
    meta = json.loads(open(meta_path).read())
    meta.update(sha256=_layer.file_sha256(archive), size=os.path.getsize(archive))
    if change:
        change(meta)
    if sign:  # a writer that holds the key (a compromised build host)
        meta = TEST_TRUST.sign(meta)
    _fingerprint.write_json_atomic(meta_path, meta)


def test_a_poisoned_entry_without_a_valid_signature_is_refused_and_replaced(tmp_path):
    root, key, meta_path, archive = _stored(tmp_path)
    _rewrite(meta_path, archive, {"payload": "1", "poison.pth": "import os; os.system('id')\n"})
    fresh = ToyLayer(tmp_path / "h" / "layer", "1")
    predicted = converge(fresh, DirectoryCache(root), check_mode=True)
    result = converge(ToyLayer(tmp_path / "h" / "layer", "1"), DirectoryCache(root))
    assert predicted.action == result.action == "created"
    assert "not signed by a key this host trusts (its HMAC is wrong)" in result.warnings[0], result.warnings
    assert not os.path.exists(str(tmp_path / "h" / "layer" / "poison.pth"))
    # The rebuilt layer replaced the entry, signed: the next fresh host restores it.
    _layer.remove_tree(str(tmp_path / "h"))
    again = converge(ToyLayer(tmp_path / "h" / "layer", "1"), DirectoryCache(root))
    assert again.action == "restored" and again.warnings == [] and payload(tmp_path / "h" / "layer") == "1"


def test_a_signed_entry_renamed_to_another_key_is_refused(tmp_path):
    root, key_one, meta_one, archive_one = _stored(tmp_path, "1")
    _root, key_two, meta_two, archive_two = _stored(tmp_path, "2")
    shutil.copyfile(meta_one, meta_two)
    shutil.copyfile(archive_one, archive_two)
    result = converge(ToyLayer(tmp_path / "h" / "layer", "2"), DirectoryCache(root))
    assert result.action == "created" and payload(tmp_path / "h" / "layer") == "2"
    assert "renamed into place" in result.warnings[0], result.warnings


def test_a_signed_entry_that_does_not_verify_or_has_other_inputs_puts_the_previous_layer_back(tmp_path):
    """verify() runs after every restore, not only overlays; the restored inputs must be this layer's."""
    root, key, meta_path, archive = _stored(tmp_path)
    _rewrite(meta_path, archive, {"other": "x"}, sign=True)
    spec = ToyLayer(tmp_path / "h" / "layer", "0")
    converge(spec, DirectoryCache(root))
    spec = ToyLayer(tmp_path / "h" / "layer", "1")
    result = converge(spec, DirectoryCache(root))
    assert result.action == "recreated" and spec.builds == 1 and payload(tmp_path / "h" / "layer") == "1"
    assert any("does not check out (payload is missing)" in warning for warning in result.warnings), result.warnings
    assert not os.path.exists(str(tmp_path / "h" / "layer" / "other"))

    root, key, meta_path, archive = _stored(tmp_path / "again")
    _rewrite(meta_path, archive, {"payload": "2"}, sign=True,
             change=lambda meta: meta["record"].update(inputs={"version": "2"}))
    result = converge(ToyLayer(tmp_path / "again" / "h" / "layer", "1"), DirectoryCache(root))
    assert result.action == "created" and payload(tmp_path / "again" / "h" / "layer") == "1"
    assert any("inputs are not this layer's (version)" in warning for warning in result.warnings), result.warnings


def test_a_reader_restores_and_writes_nothing(tmp_path):
    root, key, meta_path, archive = _stored(tmp_path)
    before = sorted(os.listdir(os.path.dirname(meta_path)))
    reader = DirectoryCache(root, store=False)
    result = converge(ToyLayer(tmp_path / "h" / "layer", "1"), reader)
    assert result.action == "restored" and result.warnings == []
    missed = converge(ToyLayer(tmp_path / "h" / "other", "2"), DirectoryCache(root, store=False))
    assert missed.action == "created" and missed.warnings == []
    assert sorted(os.listdir(os.path.dirname(meta_path))) == before  # no hits, no lock, no entry
    assert len(DirectoryCache(root).entries()) == 1


def test_a_host_that_cannot_sign_does_not_store(tmp_path):
    reader = DirectoryCache(str(tmp_path / "cache"), trust=Trust(allowed_signers=str(tmp_path / "allowed")))
    result = converge(ToyLayer(tmp_path / "h" / "layer", "1"), reader)
    assert result.action == "created" and "no key to sign entries with" in result.warnings[0]
    assert DirectoryCache(str(tmp_path / "cache")).entries() == []


def test_entries_in_a_shard_other_users_can_write_are_refused(tmp_path):
    root, key, meta_path, archive = _stored(tmp_path)
    os.chmod(os.path.dirname(meta_path), 0o777)
    result = converge(ToyLayer(tmp_path / "h" / "layer", "1"), DirectoryCache(root, store=False))
    assert result.action == "created" and "can be written by other users" in result.warnings[0], result.warnings
    _layer.remove_tree(str(tmp_path / "h"))
    allowed = DirectoryCache(root, store=False, allow_shared_writable=True)
    assert converge(ToyLayer(tmp_path / "h" / "layer", "1"), allowed).action == "restored"


def test_a_reader_discards_a_corrupt_entry_without_deleting_it(tmp_path):
    root, key, meta_path, archive = _stored(tmp_path)
    with open(archive, "r+b") as handle:
        handle.seek(600)
        handle.write(b"X")  # same size: only the sha256 tells
    result = converge(ToyLayer(tmp_path / "h" / "layer", "1"), DirectoryCache(root, store=False))
    assert result.action == "created" and "was discarded" in result.warnings[0]
    assert os.path.exists(meta_path) and os.path.exists(archive)  # the reader may not write the cache
