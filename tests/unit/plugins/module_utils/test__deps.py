"""app_dependencies' layer: durations (max_age), the one place the options become the layer spec."""

import json
import os
import shutil
import types
import time

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _deps, _installers
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._fingerprint import (
    FINGERPRINT_FORMAT, FINGERPRINT_FORMAT_VERSION)
from ansible_collections.appenv.python.plugins.module_utils._index import IndexOptions
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner


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


def _runtime(root):
    """A runtime's paths and identity, as _site.Runtime gives them (nothing is run)."""
    site = os.path.join(root, "lib", "python3.11", "site-packages")
    os.makedirs(site)
    return types.SimpleNamespace(root=root, python=os.path.join(root, "bin", "python3"), site_packages=site,
                                 key="k1", version="3.11.9", versions={"pip": "26.3"}, interpreter=None,
                                 user_site=lambda base: os.path.join(base, "lib", "python3.11", "site-packages"))


def _deps_spec(tmp_path, runtime, extra_args=None):
    """app_dependencies' layer for a requirements.txt app on runtime, with pip."""
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    (app / "requirements.txt").write_text("demo-alpha\n")
    return _deps.DepsLayerSpec(runtime, _installers.get("pip", str(tmp_path / "tools")), "requirements",
                               IndexOptions(), str(app), dest=str(tmp_path / "deps"), extra_args=extra_args)


def test_extra_args_are_in_the_fingerprint_only_when_set_and_without_credentials(tmp_path):
    runtime = _runtime(str(tmp_path / "python"))
    plain = _deps_spec(tmp_path, runtime)
    assert "extra_args" not in plain.wanted and plain.extra_args == []
    spec = _deps_spec(tmp_path, runtime, "--prefer-binary --extra-index-url https://build:s3cr3t@index.internal/simple")
    assert spec.extra_args == ["--prefer-binary", "--extra-index-url", "https://build:s3cr3t@index.internal/simple"]
    assert spec.wanted["extra_args"] == ["--prefer-binary", "--extra-index-url", "https://***@index.internal/simple"]
    assert "s3cr3t" not in json.dumps(spec.wanted)
    # A change rebuilds, with a reason naming the option.
    _action, reasons = spec.compare({"inputs": plain.wanted}, spec.wanted)
    shown = '["--prefer-binary","--extra-index-url","https://***@index.internal/simple"]'
    assert reasons == ["Installer arguments (extra_args) is new: " + shown]
    _action, reasons = plain.compare({"inputs": spec.wanted}, plain.wanted)
    assert reasons == ["Installer arguments (extra_args) is no longer set (was %s)" % shown]
    with pytest.raises(AppenvError) as caught:
        _deps_spec(tmp_path, runtime, "--user")
    assert caught.value.code == "deps_extra_args_refused"


def _record(path, packages):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump({"format": FINGERPRINT_FORMAT, "format_version": FINGERPRINT_FORMAT_VERSION,
                   "kind": "app_dependencies", "layer_version": 1, "inputs": {}, "facts": {"packages": packages}},
                  handle)


def test_absent_for_a_target_removes_the_directory_and_its_pth_file(tmp_path):
    runtime = _runtime(str(tmp_path / "python"))
    dest = str(tmp_path / "site")
    _record(os.path.join(dest, ".appenv-fingerprint.json"), {"demo-alpha": "1.0"})
    pth = _deps.pth_path(runtime, dest)
    with open(pth, "w") as handle:
        handle.write(dest + "\n")
    spec = _deps.DepsRemoval("target", dest, runtime)
    assert spec.removal(None) == ["state is absent: %s/.appenv-fingerprint.json, %s, %s is removed"
                                  % (dest, dest, pth)]
    result = _deps._layer.remove(spec, CommandRunner())
    assert result.action == "removed" and not os.path.lexists(dest) and not os.path.lexists(pth)
    assert _deps._layer.remove(_deps.DepsRemoval("target", dest, runtime), CommandRunner()).action == "absent"


def test_absent_for_system_names_the_recorded_packages_still_there_and_keeps_the_packaging_tools(
        tmp_path, monkeypatch):
    runtime = _runtime(str(tmp_path / "python"))
    for name, version in (("demo_alpha", "1.0"), ("pip", "26.3"), ("setuptools", "80.0")):
        os.makedirs(os.path.join(runtime.site_packages, "%s-%s.dist-info" % (name, version)))
    _record(os.path.join(runtime.root, ".appenv-deps.json"),
            {"demo-alpha": "1.0", "demo-beta": "1.0", "pip": "26.3", "setuptools": "80.0"})
    spec = _deps.DepsRemoval("system", None, runtime)
    stored, _problem = _deps._layer.read_fingerprint(spec)
    assert spec.removal(stored) == [
        "state is absent: demo-alpha uninstalled from the runtime %s" % runtime.root,
        "state is absent: %s/.appenv-deps.json is removed" % runtime.root]
    ran = []
    monkeypatch.setattr(CommandRunner, "run", lambda self, argv, what, **kwargs: ran.append(argv))
    _deps._layer.remove(spec, CommandRunner())
    assert ran == [[runtime.python, "-m", "pip", "uninstall", "-y", "-q", "--disable-pip-version-check",
                    "demo-alpha"]]
    assert not os.path.exists(os.path.join(runtime.root, ".appenv-deps.json"))


def test_check_mode_runs_the_lock_check_with_the_caches_in_a_temporary_directory(tmp_path, monkeypatch):
    runtime = _runtime(str(tmp_path / "python"))
    runtime.versions["pipenv"] = "2026.0.3"
    app = tmp_path / "app"
    app.mkdir()
    (app / "Pipfile").write_text("[packages]\ndemo-alpha = \"*\"\n")
    (app / "Pipfile.lock").write_text("{}\n")
    installer = _installers.get("pipenv", str(tmp_path / "tools"))
    spec = _deps.DepsLayerSpec(runtime, installer, "Pipfile.lock", IndexOptions(), str(app),
                               dest=str(tmp_path / "deps"), cache_dir=str(tmp_path / "wheels"))
    seen = []

    def check_lock(runner, project_dir, env, read_only=False):
        seen.append((project_dir, read_only, dict(env)))
        assert all(os.path.isdir(os.path.dirname(env[name])) for name in ("PIPENV_CACHE_DIR", "UV_CACHE_DIR"))

    monkeypatch.setattr(installer, "check_lock", check_lock)
    spec.check_lock_read_only(CommandRunner())
    assert seen == [], "pipenv is not installed yet (an earlier task would install it): nothing to run"
    os.makedirs(os.path.dirname(installer.executable()))
    with open(installer.executable(), "w") as handle:
        handle.write("#!/bin/sh\n")
    os.chmod(installer.executable(), 0o755)
    spec.check_lock_read_only(CommandRunner())
    (project_dir, read_only, env), = seen
    assert (project_dir, read_only, env["PIPENV_PIPFILE"]) == (str(app), True, str(app / "Pipfile"))
    temp = os.path.dirname(env["PIPENV_CACHE_DIR"])
    assert temp != str(tmp_path / "wheels") and not os.path.exists(temp), "the temporary caches stayed"
    assert not (tmp_path / "wheels").exists() and not (tmp_path / "deps").exists(), "check mode wrote the layer"


def test_venv_and_target_are_switched_and_a_targets_pth_names_dest_from_any_version(tmp_path):
    runtime = _runtime(str(tmp_path / "python"))
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("demo-alpha\n")
    specs = dict((location, _deps.DepsLayerSpec(runtime, _installers.get("pip", str(tmp_path / "tools")),
                                                "requirements", IndexOptions(), str(app), location=location,
                                                dest=str(tmp_path / location), keep_previous=3))
                 for location in ("user", "venv", "target"))
    assert [specs[location].switched for location in ("user", "venv", "target")] == [False, True, True]
    assert specs["venv"].keep_previous == 3
    target = specs["target"]
    version = str(tmp_path / "target.appenv-versions" / "0123456789ab")
    os.makedirs(version)
    with _deps._layer._SeenAt(target, version):  # a restored version, checked before its switch
        target.restored({})
        assert target.path == version and target.verify({}) == []
    with open(_deps.pth_path(runtime, str(tmp_path / "target"))) as handle:
        # The stable path, resolved by each process at its start: a switch leaves the file alone.
        assert handle.read() == _deps._layer_switch.pin_target_line(str(tmp_path / "target"))
