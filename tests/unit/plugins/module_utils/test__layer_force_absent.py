"""The layer engine's force (rebuilt once, the reason "forced") and state: absent (remove), on real directories.

The rest of the engine: test__layer.py (this file reuses its toy layer).
"""

import os

from ansible_collections.appenv.python.plugins.module_utils import _layer
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner
from tests.unit.plugins.module_utils.test__layer import ToyLayer, converge, payload


def remove(spec, **kwargs):
    return _layer.remove(spec, CommandRunner(), **kwargs)


def test_force_rebuilds_a_kept_layer_once_with_the_reason_forced(tmp_path):
    layer = tmp_path / "layer"
    converge(ToyLayer(layer))
    (layer / "payload").write_text("stale by hand, the fingerprint unchanged")
    spec = ToyLayer(layer)
    predicted = converge(spec, check_mode=True, force=True)
    assert (predicted.action, predicted.reasons, predicted.changed) == ("recreated", ["forced"], True)
    assert spec.builds == 0 and payload(layer) == "stale by hand, the fingerprint unchanged"
    forced = converge(spec, force=True)
    assert (forced.action, forced.reasons, spec.builds) == ("recreated", ["forced"], 1)
    assert payload(layer) == "1"
    # Once: the next run without force is a no-op.
    again = ToyLayer(layer)
    assert (converge(again).action, again.builds) == ("kept", 0)


def test_forced_comes_after_the_other_reasons_and_a_new_layer_is_still_created(tmp_path):
    layer = tmp_path / "layer"
    assert (converge(ToyLayer(layer), force=True).action, converge(ToyLayer(layer)).action) == ("created", "kept")
    result = converge(ToyLayer(layer, "2"), force=True)
    assert (result.action, result.reasons) == ("recreated", ["Toy version changed from 1 to 2", "forced"])
    assert _layer.forced("updated", []) == ("recreated", ["forced"])
    assert _layer.forced("created", ["no toy layer at x yet"]) == ("created", ["no toy layer at x yet", "forced"])


class CountingCache:
    """A layer cache that holds an entry for every key and counts the lookups (a forced run makes none)."""

    warnings = []

    def __init__(self):
        self.looked_up, self.stored = 0, 0

    def lookup(self, key):
        self.looked_up += 1
        return {"record": {}, "built_at": 0}

    def store(self, key, source, record, files=None):
        self.stored += 1


def test_a_forced_run_builds_on_the_host_never_from_the_layer_cache(tmp_path):
    layer = tmp_path / "layer"
    converge(ToyLayer(layer))
    cache = CountingCache()
    spec = ToyLayer(layer)
    assert converge(spec, cache=cache, check_mode=True, force=True).action == "recreated"
    result = converge(spec, cache=cache, force=True)
    assert (result.action, spec.builds, cache.looked_up, cache.stored) == ("recreated", 1, 0, 1)


def test_decide_only_reports_a_forced_run(tmp_path):
    layer = tmp_path / "layer"
    converge(ToyLayer(layer))
    assert _layer.decide_only(ToyLayer(layer))["layer_action"] == "kept"
    decision = _layer.decide_only(ToyLayer(layer), force=True)
    assert (decision["layer_action"], decision["reasons"]) == ("recreated", ["forced"])


def test_absent_removes_the_layer_and_its_fingerprint_and_check_mode_predicts_it(tmp_path):
    layer = tmp_path / "layer"
    converge(ToyLayer(layer))
    predicted = remove(ToyLayer(layer), check_mode=True)
    assert (predicted.action, predicted.changed) == ("removed", True)
    assert predicted.reasons == ["state is absent: %s/.appenv-fingerprint.json, %s is removed" % (layer, layer)]
    assert payload(layer) == "1", "check mode removed something"
    removed = remove(ToyLayer(layer))
    assert (removed.action, removed.reasons) == (predicted.action, predicted.reasons)
    assert removed.as_result()["fingerprint"] is None
    assert sorted(os.listdir(str(tmp_path))) == [".layer.appenv-lock"]
    # Again: nothing there, no change, check mode agrees.
    for check_mode in (True, False):
        again = remove(ToyLayer(layer), check_mode=check_mode)
        assert (again.action, again.changed, again.reasons) == ("absent", False, [])
    assert converge(ToyLayer(layer)).action == "created"


def test_absent_where_nothing_ever_was_makes_nothing_not_even_the_lock(tmp_path):
    result = remove(ToyLayer(tmp_path / "deep" / "layer"))
    assert (result.action, result.changed) == ("absent", False)
    assert os.listdir(str(tmp_path)) == []


def test_absent_removes_a_fingerprint_kept_outside_and_what_a_killed_run_left(tmp_path):
    layer, state = tmp_path / "layer", tmp_path / "state" / "toy.json"
    os.makedirs(str(state.parent))
    converge(ToyLayer(layer, state_path=str(state)))
    os.makedirs(str(layer) + ".appenv-new")  # a staging leftover
    result = remove(ToyLayer(layer, state_path=str(state)))
    assert result.reasons == ["state is absent: %s, %s, %s.appenv-new is removed" % (state, layer, layer)]
    assert not state.exists() and sorted(os.listdir(str(tmp_path))) == [".layer.appenv-lock", "state"]
    # A layer without its fingerprint (a removal killed half-way, files put there by hand) goes too.
    os.makedirs(str(layer))
    assert remove(ToyLayer(layer, state_path=str(state))).action == "removed" and not layer.exists()
