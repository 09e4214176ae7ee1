"""app_dependencies' layer: durations (max_age), the one place the options become the layer spec."""

import os
import shutil
import types
import time

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _deps
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError


@pytest.mark.parametrize("text, seconds", [("90", 90), ("30m", 1800), ("12h", 43200), ("7d", 604800),
                                           ("2w", 1209600), ("1.5h", 5400), (None, None), ("", None)])
def test_durations(text, seconds):
    assert _deps.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "7 days", "-1d", "1y"])
def test_bad_durations(text):
    with pytest.raises(AppenvError) as caught:
        _deps.parse_duration(text)
    assert caught.value.code == "bad_argument"


def _spec_with_record():
    spec = object.__new__(_deps.DepsLayerSpec)
    spec.warnings, spec.max_age, spec.labels = [], None, _deps.DepsLayerSpec.labels
    # the runtime python_runtime installed (no foreign interpreter: no interpreter input)
    spec.runtime = types.SimpleNamespace(root="/opt/appenv/python", python="/opt/appenv/python/bin/python3.11")
    wanted = {"runtime": "k1", "python_version": "3.11.9", "installer": "pip", "installer_version": "26.3",
              "source": "requirements", "files": {}, "location": "user", "extras": [], "groups": [],
              "index": {}, "bytecode": "checked-hash", "pip_check": True}
    old = dict(wanted, installer_version="24.0")
    return spec, {"inputs": old}, wanted


def test_a_new_installer_version_alone_keeps_the_layer_and_says_so():
    spec, stored, wanted = _spec_with_record()
    assert spec.compare(stored, wanted) == (_deps._layer.ACTION_RECREATED, [])
    assert spec.warnings == ["pip was 24.0 when the layer was built and is 26.3 now; the layer is kept: a new "
                             "installer version alone does not change what the lock or the requirements pin (any "
                             "other change rebuilds with it)"]


def test_with_another_change_the_installer_version_is_a_reason_line():
    spec, stored, wanted = _spec_with_record()
    wanted["bytecode"] = "none"
    _action, reasons = spec.compare(stored, wanted)
    assert reasons[-1] == "pip was 24.0 when the layer was built and is 26.3 now"
    assert len(reasons) == 2 and not spec.warnings


def test_a_change_of_installer_is_not_a_version_change():
    spec, stored, wanted = _spec_with_record()
    wanted.update(installer="uv", installer_version="0.13.9")
    assert _deps.installer_version_change(stored["inputs"], wanted) is None
    assert spec.compare(stored, wanted)[1]


def aged_spec(max_age):
    """A DepsLayerSpec holding only its max_age (refuse_cached reads nothing else)."""
    spec = _deps.DepsLayerSpec.__new__(_deps.DepsLayerSpec)
    spec.max_age_text, spec.max_age = max_age, _deps.parse_duration(max_age)
    return spec


def test_max_age_refuses_a_cache_entry_by_its_build_time():
    now = time.time()
    assert aged_spec("1h").refuse_cached({"built_at": int(now) - 60}) is None
    refusal = aged_spec("1h").refuse_cached({"built_at": int(now) - 7200})
    assert refusal.startswith("the layer cache's entry was built 2.0h ago, longer than max_age 1h")
    assert aged_spec("1h").refuse_cached({}) is not None  # no build time: it cannot be shown young enough
    assert aged_spec(None).refuse_cached({"built_at": 0}) is None


def system_spec(tmp_path):
    """A location: system layer on a runtime made of files: its site-packages holds demo-alpha and its script."""
    root = tmp_path / "python"
    site = root / "lib" / "python3.11" / "site-packages"
    dist = site / "demo_alpha-1.0.dist-info"
    dist.mkdir(parents=True)
    (site / "demo_alpha.py").write_text("")
    (root / "bin").mkdir()
    (root / "bin" / "demo-alpha").write_text("#!/bin/sh\n")
    (dist / "RECORD").write_text("demo_alpha.py,,\n../../../bin/demo-alpha,,\ndemo_alpha-1.0.dist-info/RECORD,,\n")
    spec, _stored, wanted = _spec_with_record()
    spec.runtime = types.SimpleNamespace(root=str(root), python=str(root / "bin" / "python3.11"),
                                         site_packages=str(site))
    spec.location = wanted["location"] = "system"
    _deps._layer.LayerSpec.__init__(spec, str(site), wanted, state_path=str(root / ".appenv-deps.json"))
    spec.strategy, spec.rolls_back = "none", True
    _deps._layer.write_fingerprint(spec, _deps._layer.make_record(spec, {"packages": {"demo-alpha": "1.0"}}))
    return spec


@pytest.mark.parametrize("script_removed", [False, True])
def test_check_mode_predicts_the_recovery_of_a_system_install_killed_half_way(tmp_path, script_removed):
    spec = system_spec(tmp_path)
    assert _deps._layer.decide(spec)[:2] == ("kept", [])
    site, root = spec.path, spec.runtime.root
    # Killed after the old packages were removed: the fingerprint and a whole snapshot aside, the old script gone or not.
    os.rename(spec.state_path, spec.state_path + ".appenv-old")
    shutil.copytree(site, site + ".appenv-old")
    shutil.rmtree(os.path.join(site, "demo_alpha-1.0.dist-info"))
    if script_removed:
        os.unlink(os.path.join(root, "bin", "demo-alpha"))
    predicted = _deps._layer.predict(spec)
    note = _deps._layer.recover_interrupted(spec)
    action, reasons, _stored = _deps._layer.decide(spec)
    assert predicted[:2] == (action, [note] + reasons)
    if script_removed:  # the site-packages is back, the script is not: it is rebuilt, never a false "kept"
        assert (action, reasons) == ("recreated", ["the layer was changed on disk: demo-alpha 1.0 is missing 1 of "
                                                   "its files (../../../bin/demo-alpha)"])
    else:
        assert (action, reasons) == ("kept", [])
