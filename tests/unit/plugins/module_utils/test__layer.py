"""The layer engine's decisions, roll-back, recovery and lock, on real directories."""

import json
import os
import shutil
import threading

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _layer, _layer_decide, _layer_lock
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._fingerprint import FINGERPRINT_FORMAT
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner


class ToyLayer(_layer.LayerSpec):
    kind = "toy"
    labels = {"version": "Toy version"}

    def __init__(self, path, version="1", strategy="in_place", fail=False, state_path=None):
        self.strategy = strategy
        self.fail = fail
        self.builds = 0
        super(ToyLayer, self).__init__(str(path), {"version": version}, state_path=state_path)

    def verify(self, stored):
        if not os.path.exists(os.path.join(self.path, "payload")):
            return ["payload is missing"]
        return []

    def build(self, target, runner):
        self.builds += 1
        with open(os.path.join(target, "payload"), "w") as handle:
            handle.write(self.wanted["version"])
        if self.fail:
            raise AppenvError("internal_error", detail="build failed on purpose")
        return {"built": self.wanted["version"]}


def converge(spec, **kwargs):
    return _layer.converge(spec, CommandRunner(), **kwargs)


def payload(path):
    with open(os.path.join(str(path), "payload")) as handle:
        return handle.read()


@pytest.mark.parametrize("strategy", ["in_place", "staging"])
def test_created_then_kept_then_recreated_with_reason(tmp_path, strategy):
    layer = tmp_path / "layer"
    first = converge(ToyLayer(layer, "1", strategy))
    assert (first.action, first.changed) == ("created", True)
    spec = ToyLayer(layer, "1", strategy)
    second = converge(spec)
    assert (second.action, second.changed, second.reasons) == ("kept", False, [])
    assert spec.builds == 0
    third = converge(ToyLayer(layer, "2", strategy))
    assert third.action == "recreated"
    assert third.reasons == ["Toy version changed from 1 to 2"]
    assert payload(layer) == "2"
    assert sorted(os.listdir(str(tmp_path))) == [".layer.appenv-lock", "layer"]


def test_check_mode_predicts_and_writes_nothing(tmp_path):
    layer = tmp_path / "layer"
    predicted = converge(ToyLayer(layer, "1"), check_mode=True)
    assert predicted.action == "created" and not layer.exists()
    real = converge(ToyLayer(layer, "1"))
    assert (real.action, real.reasons) == (predicted.action, predicted.reasons)
    predicted = converge(ToyLayer(layer, "2"), check_mode=True)
    real = converge(ToyLayer(layer, "2"))
    assert (real.action, real.reasons) == (predicted.action, predicted.reasons) == (
        "recreated", ["Toy version changed from 1 to 2"])


def test_damage_on_disk_is_repaired(tmp_path):
    layer = tmp_path / "layer"
    converge(ToyLayer(layer))
    os.unlink(str(layer / "payload"))
    result = converge(ToyLayer(layer))
    assert result.action == "recreated"
    assert result.reasons == ["the layer was changed on disk: payload is missing"]
    assert payload(layer) == "1"


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON"),
    ("", "not valid JSON"),
    (json.dumps({"hello": "world"}), "not an appenv.python fingerprint"),
    (json.dumps({"format": FINGERPRINT_FORMAT, "format_version": 99, "kind": "toy", "inputs": {}}),
     "format"),
    (json.dumps([1, 2, 3]), "not an appenv.python fingerprint"),
])
def test_unusable_fingerprint_means_rebuild_never_a_crash(tmp_path, content, words):
    layer = tmp_path / "layer"
    converge(ToyLayer(layer))
    (layer / ".appenv-fingerprint.json").write_text(content)
    result = converge(ToyLayer(layer))
    assert result.action == "recreated"
    assert words in result.reasons[0]
    assert converge(ToyLayer(layer)).action == "kept"


def test_failed_build_restores_the_previous_layer(tmp_path):
    layer = tmp_path / "layer"
    converge(ToyLayer(layer, "1"))
    for strategy in ("in_place", "staging"):
        with pytest.raises(AppenvError):
            converge(ToyLayer(layer, "2", strategy, fail=True))
        assert payload(layer) == "1"
        assert converge(ToyLayer(layer, "1")).action == "kept"
        assert sorted(os.listdir(str(tmp_path))) == [".layer.appenv-lock", "layer"]


def test_run_killed_mid_build_is_recovered(tmp_path):
    layer = tmp_path / "layer"
    converge(ToyLayer(layer, "1"))
    # What a SIGKILL between "move aside" and "write fingerprint" leaves behind.
    os.rename(str(layer), str(layer) + ".appenv-old")
    os.makedirs(str(layer))
    (layer / "payload").write_text("half")
    (tmp_path / "layer.appenv-new").mkdir()
    result = converge(ToyLayer(layer, "1"))
    assert result.action == "kept"
    assert "restored" in result.reasons[-1]
    assert payload(layer) == "1"
    assert not (tmp_path / "layer.appenv-new").exists()


def test_run_killed_after_fingerprint_keeps_the_new_layer(tmp_path):
    layer = tmp_path / "layer"
    converge(ToyLayer(layer, "1"))
    os.makedirs(str(layer) + ".appenv-old")
    assert converge(ToyLayer(layer, "1")).action == "kept"
    assert not os.path.exists(str(layer) + ".appenv-old")


class SnapshotToy(ToyLayer):
    """A layer changed in place (strategy "none") with its fingerprint outside, as app_dependencies' location:
    system: with rolls_back, its build snapshots the layer where the engine's recovery looks for it, and puts it
    back when it fails."""

    def __init__(self, path, version="1", fail=False, state_path=None, rolls_back=True):
        super(SnapshotToy, self).__init__(path, version, "none", fail, state_path)
        self.rolls_back = rolls_back
        self.previous_seen = "not built"

    def build(self, target, runner):
        self.previous_seen = self.previous
        snapshot = target + ".appenv-old"
        if self.rolls_back and os.path.isdir(target):
            shutil.copytree(target, snapshot)
        os.makedirs(target, exist_ok=True)
        try:
            facts = super(SnapshotToy, self).build(target, runner)
        except BaseException:
            if os.path.isdir(snapshot):
                _layer.remove_tree(target)
                os.rename(snapshot, target)
            raise
        _layer.remove_tree(snapshot)
        return facts


def _toy(strategy, layer, version, state, fail=False):
    if strategy == "none, rolled back by its build":
        return SnapshotToy(layer, version, fail=fail, state_path=str(state))
    return ToyLayer(layer, version, strategy, fail=fail, state_path=str(state))


@pytest.mark.parametrize("strategy", ["in_place", "staging", "none, rolled back by its build"])
def test_a_failed_build_puts_back_the_fingerprint_kept_outside_with_the_old_layer(tmp_path, strategy):
    state = tmp_path / "state" / "toy.json"
    layer = tmp_path / "layer"
    converge(_toy(strategy, layer, "1", state))
    first = json.loads(state.read_text())
    failing = _toy(strategy, layer, "2", state, fail=True)
    with pytest.raises(AppenvError):
        converge(failing)
    assert failing.previous == first, "the build is handed the record of the layer it replaces"
    # The old layer is back, and so is what it was built from: the same inputs are a no-op, the new ones a rebuild.
    assert payload(layer) == "1"
    assert json.loads(state.read_text()) == first
    assert sorted(os.listdir(str(state.parent))) == ["toy.json"]
    assert converge(_toy(strategy, layer, "1", state)).action == "kept"
    assert (converge(_toy(strategy, layer, "2", state)).reasons) == ["Toy version changed from 1 to 2"]
    assert sorted(os.listdir(str(state.parent))) == ["toy.json"]
    assert sorted(os.listdir(str(tmp_path))) == [".layer.appenv-lock", "layer", "state"]


def test_a_failed_build_without_a_roll_back_leaves_no_fingerprint(tmp_path):
    state = tmp_path / "state" / "toy.json"
    layer = tmp_path / "layer"
    converge(SnapshotToy(layer, "1", state_path=str(state), rolls_back=False))
    with pytest.raises(AppenvError):
        converge(SnapshotToy(layer, "2", state_path=str(state), fail=True, rolls_back=False))
    # The layer was changed in place and not put back: it is decided again, never a false "kept".
    assert payload(layer) == "2" and not state.exists()
    assert sorted(os.listdir(str(state.parent))) == []
    assert converge(SnapshotToy(layer, "1", state_path=str(state), rolls_back=False)).action == "created"


@pytest.mark.parametrize("snapshot", [True, False])
def test_a_killed_build_gets_back_the_fingerprint_kept_outside_only_with_the_old_layer(tmp_path, snapshot):
    state = tmp_path / "state" / "toy.json"
    layer = tmp_path / "layer"
    converge(SnapshotToy(layer, "1", state_path=str(state)))
    # What a SIGKILL in the build leaves: the fingerprint set aside, the layer half changed, a whole snapshot or none.
    os.rename(str(state), str(state) + ".appenv-old")
    if snapshot:
        shutil.copytree(str(layer), str(layer) + ".appenv-old")
    (layer / "payload").write_text("half")
    before = entries(tmp_path)
    predicted = converge(SnapshotToy(layer, "1", state_path=str(state)), check_mode=True)
    assert entries(tmp_path) == before, "check mode recovered"
    spec = SnapshotToy(layer, "1", state_path=str(state))
    real = converge(spec)
    assert (predicted.action, predicted.reasons) == (real.action, real.reasons)
    if snapshot:  # the old layer is whole again, with its fingerprint: nothing to build
        assert (real.action, real.reasons) == ("kept", [_layer_decide._ASIDE_NOTE])
        assert payload(layer) == "1" and spec.builds == 0
    else:  # what is there is not known to be the old layer: rebuilt
        assert real.action == "created" and spec.builds == 1
    assert sorted(os.listdir(str(state.parent))) == ["toy.json"]
    assert not os.path.exists(str(layer) + ".appenv-old")


def test_lock_serialises_runs_and_times_out_with_a_titled_error(tmp_path):
    layer = tmp_path / "layer"
    spec = ToyLayer(layer)
    holder = _layer.LayerLock(spec.lock_path())
    with holder:
        with pytest.raises(AppenvError) as caught:
            _layer.converge(ToyLayer(layer), CommandRunner(), lock_timeout=0.3)
        assert caught.value.code == "layer_locked"
        assert "Another run holds the layer lock" in caught.value.message

    results = []

    def run():
        results.append(converge(ToyLayer(layer)).action)

    threads = [threading.Thread(target=run) for unused in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["created", "kept", "kept", "kept"]


class KeyRecorder:
    """A layer cache that holds nothing and records the keys the engine asks for and stores under."""

    warnings = []

    def __init__(self):
        self.looked_up, self.stored = [], []

    def lookup(self, key):
        self.looked_up.append(key)

    def store(self, key, path, record, files=None):
        self.stored.append(key)


class ContentKeyed(ToyLayer):
    """Keyed on content, not on its fingerprint; a new version is an additive update."""

    def cache_key(self):
        return "content-" + self.wanted["version"]

    def compare(self, stored, wanted):
        action, reasons = super(ContentKeyed, self).compare(stored, wanted)
        return _layer.ACTION_UPDATED, reasons

    def update(self, stored, runner):
        return self.build(self.path, runner)


def test_a_result_carries_the_action_as_layer_action_and_the_deprecated_action(tmp_path):
    """layer_action: Ansible's JSON callbacks overwrite a result's action with the module's name."""
    created = converge(ToyLayer(tmp_path / "layer")).as_result()
    kept = converge(ToyLayer(tmp_path / "layer")).as_result()
    assert (created["layer_action"], created["action"]) == ("created", "created")
    assert (kept["layer_action"], kept["action"]) == ("kept", "kept")
    assert _layer.action_of({"action": "restored"}) == "restored"  # a result registered before layer_action
    assert _layer.action_of({"layer_action": "kept", "action": "appenv.python.pyc_compile"}) == "kept"


@pytest.mark.parametrize("spec_class", [ToyLayer, ContentKeyed])
def test_decide_only_lookup_and_store_use_the_one_layer_key(tmp_path, spec_class):
    decision = _layer.decide_only(spec_class(tmp_path / "layer"))
    assert decision == {"changed": False, "layer_action": "created", "reasons": ["no toy layer at %s yet" % (
        tmp_path / "layer")], "key": _layer.layer_key(spec_class(tmp_path / "layer"))}
    cache = KeyRecorder()
    assert converge(spec_class(tmp_path / "layer"), cache=cache).action == "created"
    assert cache.looked_up == cache.stored == [decision["key"]]
    assert _layer.decide_only(spec_class(tmp_path / "layer"))["layer_action"] == "kept"
    # An update consults no cache before building, and stores under the same key decide_only reports.
    decision = _layer.decide_only(spec_class(tmp_path / "layer", "2"))
    assert converge(spec_class(tmp_path / "layer", "2"), cache=cache).action == decision["layer_action"]
    assert cache.stored[-1] == decision["key"] == _layer.layer_key(spec_class(tmp_path / "layer", "2"))


def entries(root):
    """Every path under root with its mtime and ctime (ns)."""
    found = {}
    for directory, dirs, files in os.walk(str(root)):
        for name in [""] + dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            found[path] = (info.st_mtime_ns, info.st_ctime_ns)
    return found


def test_check_mode_creates_no_parent_and_no_lock_file(tmp_path):
    layer = tmp_path / "parent" / "layer"
    predicted = converge(ToyLayer(layer, "1"), check_mode=True)
    assert predicted.action == "created"
    assert os.listdir(str(tmp_path)) == [], "check mode wrote %s" % os.listdir(str(tmp_path))


def test_a_no_op_and_a_check_run_write_nothing_not_even_the_lock_pid(tmp_path):
    layer = tmp_path / "layer"
    converge(ToyLayer(layer, "1"))
    lock = tmp_path / ".layer.appenv-lock"
    assert lock.read_text() == "%d\n" % os.getpid(), "a run that changes the layer names itself in the lock"
    lock.write_text("")
    before = entries(tmp_path)
    assert converge(ToyLayer(layer, "1")).action == "kept"
    assert converge(ToyLayer(layer, "1"), check_mode=True).action == "kept"
    assert converge(ToyLayer(layer, "2"), check_mode=True).action == "recreated"
    assert entries(tmp_path) == before
    assert converge(ToyLayer(layer, "2")).action == "recreated"
    assert lock.read_text() == "%d\n" % os.getpid()


def test_check_mode_waits_for_a_run_changing_the_layer(tmp_path):
    layer = tmp_path / "layer"
    converge(ToyLayer(layer, "1"))
    with _layer.LayerLock(ToyLayer(layer).lock_path()):
        with pytest.raises(AppenvError) as caught:
            converge(ToyLayer(layer, "1"), check_mode=True, lock_timeout=0.3)
    assert caught.value.code == "layer_locked"


@pytest.mark.parametrize("version, staging", [("1", False), ("2", True)])
def test_check_mode_predicts_the_recovery_of_an_interrupted_run(tmp_path, version, staging):
    layer = tmp_path / "layer"
    converge(ToyLayer(layer, "1"))
    os.rename(str(layer), str(layer) + ".appenv-old")  # killed between "move aside" and "fingerprint"
    os.makedirs(str(layer))
    (layer / "payload").write_text("half")
    if staging:
        (tmp_path / "layer.appenv-new").mkdir()
    before = entries(tmp_path)
    predicted = converge(ToyLayer(layer, version), check_mode=True)
    assert entries(tmp_path) == before, "check mode recovered"
    real = converge(ToyLayer(layer, version))
    assert (predicted.action, predicted.reasons) == (real.action, real.reasons)
    assert "restored" in real.reasons[0]
    assert real.action == ("recreated" if version == "2" else "kept")


def test_a_layer_inside_a_replaced_directory_is_predicted_as_new(tmp_path):
    layer = tmp_path / "runtime" / "layer"
    converge(ToyLayer(layer, "1"))
    spec = ToyLayer(layer, "1")
    spec.replaced = [str(tmp_path / "runtime")]
    predicted = converge(spec, check_mode=True)
    assert (predicted.action, predicted.reasons) == ("created", ["no toy layer at %s yet" % layer])


# -- hardening (issue 16): a filesystem that cannot lock ------------------------

def test_a_filesystem_without_flock_is_a_titled_error_naming_it(tmp_path, monkeypatch):
    import errno as errno_module
    import fcntl

    def no_locks(fd, operation):
        raise OSError(errno_module.ENOLCK, os.strerror(errno_module.ENOLCK))  # NFS without lockd, as the kernel says

    monkeypatch.setattr(fcntl, "flock", no_locks)
    lock = _layer.LayerLock(str(tmp_path / ".venv.appenv-lock"), timeout=1)
    with pytest.raises(AppenvError) as info:
        with lock:
            pass
    assert info.value.code == "layer_lock_unsupported"
    assert info.value.fields["filesystem"] != "unknown"  # the type and mount point of tmp_path's filesystem
    assert lock._fd is None  # nothing left open


def test_filesystem_of_names_the_longest_mount_point(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("rootfs / ext4 rw 0 0\nserver:/export /srv/my\\040apps nfs rw 0 0\n")
    assert _layer_lock.filesystem_of("/srv/my apps/venv", str(mounts)) == "nfs at /srv/my apps"
    assert _layer_lock.filesystem_of("/srv/other", str(mounts)) == "ext4 at /"
    assert _layer_lock.filesystem_of("/x", str(tmp_path / "none")) == "unknown"


def test_a_killed_runs_fingerprint_temp_is_removed_on_the_next_run_under_the_lock(tmp_path):
    import subprocess
    import time
    state = tmp_path / "state" / "toy.json"
    converge(ToyLayer(tmp_path / "layer", state_path=str(state)))
    child = subprocess.Popen(["true"])
    child.wait()
    leftover = state.parent / ("toy.json.tmp-%d-0badc0de" % child.pid)  # as write_json_atomic leaves it on kill -9
    leftover.write_text("{")
    old = time.time() - 120
    os.utime(str(leftover), (old, old))
    result = converge(ToyLayer(tmp_path / "layer", state_path=str(state)))
    assert (result.action, result.changed) == ("kept", False)
    assert not leftover.exists()
    assert any(leftover.name in reason for reason in result.reasons)
    assert converge(ToyLayer(tmp_path / "layer", state_path=str(state))).reasons == []


class AgingToy(ToyLayer):
    """A toy layer that refuses cached entries built before a moment (as max_age does)."""

    not_before = 0

    def refuse_cached(self, record):
        if record.get("built_at", 0) < self.not_before:
            return "the cached toy is too old"
        return None


def test_a_refused_cache_entry_is_a_miss_with_its_reason(tmp_path):
    from tests.unit.plugins.module_utils.signed_caches import DirectoryCache  # entries signed, as caches must be

    cache = DirectoryCache(str(tmp_path / "cache"))
    assert converge(AgingToy(tmp_path / "host" / "layer"), cache=cache).action == "created"
    _layer.remove_tree(str(tmp_path / "host"))  # a fresh host
    fresh = AgingToy(tmp_path / "host" / "layer")
    assert converge(fresh, cache=cache, check_mode=True).action == "restored"
    fresh.not_before = cache.entries()[0]["built_at"] + 1
    predicted = converge(fresh, cache=cache, check_mode=True)
    result = converge(fresh, cache=cache)
    assert (result.action, result.reasons) == (predicted.action, predicted.reasons)
    assert result.action == "created" and result.reasons[-1] == "the cached toy is too old"
    assert fresh.builds == 1
