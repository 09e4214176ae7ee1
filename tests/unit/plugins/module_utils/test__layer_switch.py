"""Switched layers: dest is a link to a versioned directory, built beside the live one and switched in one rename."""

import os

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _layer, _layer_switch
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._layer_cache import DirectoryCache
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner


class Switched(_layer.LayerSpec):
    kind = "toy"
    labels = {"version": "Toy version"}
    strategy = "switch"

    def __init__(self, path, version="1", fail=False, keep_previous=1, check_live=None):
        self.fail = fail
        self.keep_previous = keep_previous
        self.check_live = check_live
        self.built_in = None
        super(Switched, self).__init__(str(path), {"version": version})

    def verify(self, stored):
        return [] if os.path.exists(os.path.join(self.path, "payload")) else ["payload is missing"]

    def build(self, target, runner):
        self.built_in = target
        if self.check_live:
            self.check_live()  # what a running app sees while the new version is built
        with open(os.path.join(target, "payload"), "w") as handle:
            handle.write(self.wanted["version"])
        with open(os.path.join(target, "script"), "w") as handle:
            handle.write("#!%s/bin/python\n" % target)  # a console script: the path it was built at
        if self.fail:
            raise AppenvError("internal_error", detail="build failed on purpose")
        return {"built": self.wanted["version"]}


def converge(spec, **kwargs):
    return _layer.converge(spec, CommandRunner(), **kwargs)


def payload(path):
    with open(os.path.join(str(path), "payload")) as handle:
        return handle.read()


def versions(tmp_path):
    return sorted(name for name in os.listdir(str(tmp_path)) if name.startswith("layer.appenv-"))


def test_a_rebuild_is_built_beside_the_live_layer_and_switched_in(tmp_path):
    layer = tmp_path / "layer"
    first = converge(Switched(layer, "1"))
    assert first.action == "created" and os.path.islink(str(layer)) and payload(layer) == "1"
    old = _layer_switch.live_dir(Switched(layer))
    assert os.readlink(str(layer)) == os.path.basename(old)  # relative: the parent can move
    assert first.facts["version_dir"] == old
    kept = Switched(layer, "1")
    assert converge(kept).action == "kept" and kept.built_in is None

    seen = []
    second = Switched(layer, "2", check_live=lambda: seen.append(payload(layer)))
    result = converge(second)
    assert (result.action, result.reasons) == ("recreated", ["Toy version changed from 1 to 2"])
    assert seen == ["1"]  # during the build the app still had the old layer
    new = _layer_switch.live_dir(second)
    assert new == second.built_in != old and payload(layer) == "2"
    with open(os.path.join(new, "script")) as handle:
        assert handle.read() == "#!%s/bin/python\n" % new  # built at its final path, not in a staging directory
    assert payload(old) == "1"  # kept (keep_previous=1) for processes started before the switch
    assert sorted(versions(tmp_path)) == sorted([os.path.basename(old), os.path.basename(new)])

    converge(Switched(layer, "3"))
    assert not os.path.exists(old) and payload(new) == "2" and len(versions(tmp_path)) == 2
    converge(Switched(layer, "4", keep_previous=0))
    assert versions(tmp_path) == [os.path.basename(_layer_switch.live_dir(Switched(layer)))]
    assert sorted(os.listdir(str(tmp_path))) == [".layer.appenv-lock", "layer"] + versions(tmp_path)


def test_the_same_inputs_rebuilt_get_a_directory_of_their_own(tmp_path):
    layer = tmp_path / "layer"
    converge(Switched(layer, "1"))
    old = _layer_switch.live_dir(Switched(layer))
    os.unlink(os.path.join(old, "payload"))
    result = converge(Switched(layer, "1"))
    assert result.reasons == ["the layer was changed on disk: payload is missing"]
    assert _layer_switch.live_dir(Switched(layer)) != old and payload(layer) == "1"


def test_check_mode_predicts_and_touches_nothing(tmp_path):
    layer = tmp_path / "layer"
    converge(Switched(layer, "1"))
    before = sorted(os.listdir(str(tmp_path)))
    predicted = converge(Switched(layer, "2"), check_mode=True)
    assert sorted(os.listdir(str(tmp_path))) == before
    real = converge(Switched(layer, "2"))
    assert (predicted.action, predicted.reasons) == (real.action, real.reasons)


def test_a_failed_build_never_touches_the_live_layer(tmp_path):
    layer = tmp_path / "layer"
    converge(Switched(layer, "1"))
    live = _layer_switch.live_dir(Switched(layer))
    with pytest.raises(AppenvError):
        converge(Switched(layer, "2", fail=True, check_live=lambda: None))
    assert _layer_switch.live_dir(Switched(layer)) == live and payload(layer) == "1"
    assert versions(tmp_path) == [os.path.basename(live)]


def test_a_build_killed_half_way_is_cleaned_up_by_the_next_run(tmp_path):
    layer = tmp_path / "layer"
    converge(Switched(layer, "1"))
    live = _layer_switch.live_dir(Switched(layer))
    # What a SIGKILL mid-build leaves: a versioned directory without a fingerprint, its work directory and,
    # killed inside the switch, the temporary link.
    half = str(layer) + ".appenv-0123456789ab-abcdef"
    os.makedirs(os.path.join(half, "bin"))
    os.makedirs(half + ".appenv-work")
    os.symlink(os.path.basename(half), str(tmp_path / ".layer.appenv-link-fedcba"))
    assert payload(layer) == "1"
    predicted = converge(Switched(layer, "1"), check_mode=True)
    assert os.path.isdir(half)
    result = converge(Switched(layer, "1"))
    assert result.action == "kept"
    assert result.reasons == predicted.reasons == [
        "a build interrupted earlier left %s behind (the live layer was not touched); it is removed" % half]
    assert sorted(os.listdir(str(tmp_path))) == [".layer.appenv-lock", "layer", os.path.basename(live)]


def test_a_layer_built_in_place_is_migrated_to_a_link_once(tmp_path):
    layer = tmp_path / "layer"
    legacy = Switched(layer, "1")
    legacy.strategy = "in_place"
    converge(legacy)
    assert os.path.isdir(str(layer)) and not os.path.islink(str(layer))
    assert converge(Switched(layer, "1")).action == "kept"  # no rebuild just for the migration
    converge(Switched(layer, "2"))
    assert os.path.islink(str(layer)) and payload(layer) == "2"
    assert sorted(os.listdir(str(tmp_path))) == [".layer.appenv-lock", "layer"] + versions(tmp_path)
    assert len(versions(tmp_path)) == 1


def test_a_migration_killed_between_its_two_renames_is_rolled_back(tmp_path):
    layer = tmp_path / "layer"
    legacy = Switched(layer, "1")
    legacy.strategy = "in_place"
    converge(legacy)
    # Killed after "rename dest aside", before "rename the link in": no dest, the old directory aside.
    finished = str(layer) + ".appenv-0123456789ab-abcdef"
    os.makedirs(finished)
    os.rename(str(layer), str(layer) + ".appenv-old")
    result = converge(Switched(layer, "1"))
    assert result.action == "kept" and "restored" in result.reasons[0]
    assert payload(layer) == "1" and not os.path.islink(str(layer))


def test_a_cache_restore_lands_in_the_directory_it_was_built_in_and_switches(tmp_path):
    cache = DirectoryCache(str(tmp_path / "cache"))
    host_a = tmp_path / "a"
    built = converge(Switched(host_a / "layer", "1"), cache=cache)
    built_in = built.facts["version_dir"]
    # Another host (the same dest path): here the same host after its layer was wiped.
    for name in os.listdir(str(host_a)):
        _layer.remove_tree(str(host_a / name))
    restored = converge(Switched(host_a / "layer", "1"), cache=cache)
    assert restored.action == "restored"
    assert _layer_switch.live_dir(Switched(host_a / "layer")) == built_in  # its scripts' paths hold
    assert payload(host_a / "layer") == "1"
    assert converge(Switched(host_a / "layer", "1"), cache=cache).action == "kept"
    # The live layer damaged: the entry's directory is the live one, so it is rebuilt beside it instead.
    os.unlink(os.path.join(built_in, "payload"))
    again = Switched(host_a / "layer", "1")
    assert converge(again, cache=cache).action == "recreated" and again.built_in != built_in
