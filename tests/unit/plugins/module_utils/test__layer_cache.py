"""The layer cache: restore by key, verified; atomic, concurrent-safe writes; LRU eviction."""

import errno
import json
import os
import shutil
import tarfile
import threading

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _fingerprint, _layer, _layer_cache
from ansible_collections.appenv.python.plugins.module_utils._layer_cache import DirectoryCache
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
    """A cache filled by an older release (gzip, no compression recorded) still restores; new entries are plain tar."""
    root = str(tmp_path / "cache")
    spec = ToyLayer(tmp_path / "h" / "layer", "1")
    assert converge(spec, DirectoryCache(root, compression="gzip")).action == "created"
    key = _layer.make_record(spec, {})["key"]
    meta_path = DirectoryCache(root)._paths(key)[2]
    meta = json.loads(open(meta_path).read())
    assert meta["compression"] == "gzip"
    del meta["compression"]  # as written before the option existed
    _fingerprint.write_json_atomic(meta_path, meta)

    _layer.remove_tree(str(tmp_path / "h"))
    assert converge(ToyLayer(tmp_path / "h" / "layer", "1"), DirectoryCache(root)).action == "restored"
    assert payload(tmp_path / "h" / "layer") == "1"

    other = ToyLayer(tmp_path / "h" / "other", "2")
    assert converge(other, DirectoryCache(root)).action == "created"  # auto: plain tar in a directory
    other_key = _layer.make_record(other, {})["key"]
    assert os.path.isfile(os.path.join(root, other_key[:2], other_key + ".tar"))
    assert dict((entry["key"], entry.get("compression")) for entry in DirectoryCache(root).entries()) == {
        key: None, other_key: "none"}


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
