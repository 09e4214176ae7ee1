"""Switched layers (_layer_switch and the engine's use of it): a new version is built beside the live one and
switched in by one rename; the live one is never touched by a failed or killed build."""

import errno
import json
import os

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _layer, _layer_switch
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner

from tests.unit.plugins.module_utils.signed_caches import DirectoryCache  # entries signed, as caches must be
from tests.unit.plugins.module_utils.test__layer import converge, payload

OTHER = 65534  # nobody
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


class SwitchedToy(_layer.LayerSpec):
    """A layer whose content names the directory it was built in (as a venv's scripts do)."""

    kind = "toy"
    labels = {"version": "Toy version"}
    switched = True

    def __init__(self, path, version="1", fail=False, keep_previous=1):
        self.fail = fail
        self.built_in = []
        self.keep_previous = keep_previous
        super(SwitchedToy, self).__init__(str(path), {"version": version})

    def verify(self, stored):
        return [] if os.path.exists(os.path.join(self.path, "payload")) else ["payload is missing"]

    def build(self, target, runner):
        self.built_in.append(target)
        with open(os.path.join(target, "payload"), "w") as handle:
            handle.write("%s built in %s" % (self.wanted["version"], target))
        if self.fail:
            raise AppenvError("internal_error", detail="build failed on purpose")
        return {"built": self.wanted["version"]}


def versions(layer):
    return sorted(name for name in os.listdir(_layer_switch.versions_dir(str(layer))) if not name.startswith("."))


def live(layer):
    return os.path.join(_layer_switch.versions_dir(str(layer)), _layer_switch.live_version(str(layer)))


def test_each_build_is_a_new_version_switched_in_and_the_previous_is_kept(tmp_path):
    layer = tmp_path / "venv"
    first = converge(SwitchedToy(layer, "1"))
    assert first.action == "created" and os.path.islink(str(layer))
    assert os.readlink(str(layer)) == "venv.appenv-versions/" + first.after["key"][:12]
    assert first.live_version == live(layer) == first.as_result()["live_version"]
    assert payload(layer) == "1 built in %s" % first.live_version  # built where it lives: its own paths hold
    spec = SwitchedToy(layer, "1")
    kept = converge(spec)
    assert (kept.action, spec.built_in, kept.live_version) == ("kept", [], first.live_version)
    second = converge(SwitchedToy(layer, "2"))
    assert second.action == "recreated" and second.reasons == ["Toy version changed from 1 to 2"]
    assert payload(layer).startswith("2 built in ") and second.live_version != first.live_version
    assert os.path.isdir(first.live_version)  # the previous version stays for processes started from it
    third = converge(SwitchedToy(layer, "3"))
    assert versions(layer) == sorted(os.path.basename(path) for path in (second.live_version, third.live_version))
    assert sorted(os.listdir(str(tmp_path))) == [".venv.appenv-lock", "venv", "venv.appenv-versions"]


def test_keep_previous_zero_removes_the_old_version_after_the_switch(tmp_path):
    layer = tmp_path / "venv"
    converge(SwitchedToy(layer, "1", keep_previous=0))
    second = converge(SwitchedToy(layer, "2", keep_previous=0))
    assert versions(layer) == [os.path.basename(second.live_version)]
    assert json.loads((tmp_path / "venv.appenv-versions" / ".appenv-history.json").read_text()) == versions(layer)


def test_a_failed_build_never_touches_the_live_version(tmp_path):
    layer = tmp_path / "venv"
    first = converge(SwitchedToy(layer, "1"))
    with pytest.raises(AppenvError):
        converge(SwitchedToy(layer, "2", fail=True))
    assert live(layer) == first.live_version and payload(layer).startswith("1 built")
    assert versions(layer) == [os.path.basename(first.live_version)]
    assert converge(SwitchedToy(layer, "1")).action == "kept"


def test_what_a_killed_build_left_is_removed_first_and_check_mode_says_so(tmp_path):
    layer = tmp_path / "venv"
    first = converge(SwitchedToy(layer, "1"))
    directory = tmp_path / "venv.appenv-versions"
    # Killed mid-build: a half-built version, its work directory, the temporary link of a switch not done.
    spec = SwitchedToy(layer, "2")
    half_built = os.path.basename(_layer_switch.new_version(spec.path, _layer.layer_key(spec)))
    (directory / half_built).mkdir()
    (directory / (half_built + ".appenv-work")).mkdir()
    os.symlink("venv.appenv-versions/" + half_built, str(directory / ".appenv-link-99999"))
    predicted = converge(SwitchedToy(layer, "2"), check_mode=True)
    assert os.path.isdir(str(directory / half_built))  # check mode removes nothing
    real = converge(SwitchedToy(layer, "2"))
    assert (real.action, real.reasons, real.live_version) == (
        predicted.action, predicted.reasons, predicted.live_version)
    assert real.action == "recreated" and real.reasons[0] == (
        "a build interrupted earlier left .appenv-link-99999, %s, %s.appenv-work behind in %s; removed (the live "
        "version was not touched)" % (half_built, half_built, directory))
    assert os.path.basename(real.live_version) == half_built  # its name is free again: the key's own
    assert versions(layer) == sorted([os.path.basename(first.live_version), half_built])


def test_killed_after_the_history_names_the_new_version_it_is_kept_as_a_previous_one(tmp_path):
    layer = tmp_path / "venv"
    first = converge(SwitchedToy(layer, "1"))
    spec = SwitchedToy(layer, "2")
    version = _layer_switch.new_version(spec.path, _layer.layer_key(spec))
    os.mkdir(version)
    history = _layer_switch.read_history(spec.path)
    _layer_switch._write_history(spec.path, history + [os.path.basename(version)])
    assert _layer_switch.leftovers(spec.path) == []
    assert live(layer) == first.live_version


def test_a_directory_left_by_an_earlier_release_is_kept_then_migrated_at_the_next_rebuild(tmp_path, monkeypatch):
    layer = tmp_path / "venv"

    class Unswitched(SwitchedToy):
        switched = False

    converge(Unswitched(layer, "1"))
    assert converge(SwitchedToy(layer, "1")).action == "kept"  # same key: no rebuild for the upgrade alone
    assert not os.path.islink(str(layer))
    migrated = converge(SwitchedToy(layer, "2"))
    assert os.path.islink(str(layer)) and migrated.live_version == live(layer)
    assert payload(tmp_path / "venv.appenv-versions" / "migrated").startswith("1 built in %s" % layer)
    converge(SwitchedToy(layer, "3"))
    assert "migrated" not in versions(layer)
    # Where renameat2 cannot exchange (an old kernel or file system): two renames, the same result.
    monkeypatch.setattr(_layer_switch, "_exchange", lambda first, second: False)
    other = tmp_path / "other"
    converge(Unswitched(other, "1"))
    converge(SwitchedToy(other, "2"))
    assert os.path.islink(str(other)) and versions(other) == sorted(
        ["migrated", _layer_switch.live_version(str(other))])


def test_the_exchange_swaps_a_directory_and_a_link_in_one_step(tmp_path):
    (tmp_path / "dir").mkdir()
    os.symlink("elsewhere", str(tmp_path / "link"))
    if not _layer_switch._exchange(str(tmp_path / "link"), str(tmp_path / "dir")):
        pytest.skip("renameat2 RENAME_EXCHANGE is not available here")
    assert os.readlink(str(tmp_path / "dir")) == "elsewhere" and os.path.isdir(str(tmp_path / "link"))


def test_force_builds_a_new_version_beside_the_live_one_of_the_same_inputs(tmp_path):
    layer = tmp_path / "venv"
    first = converge(SwitchedToy(layer, "1"))
    predicted = converge(SwitchedToy(layer, "1"), check_mode=True, force=True)
    forced = converge(SwitchedToy(layer, "1"), force=True)
    assert forced.live_version == predicted.live_version == first.live_version + ".2"
    assert (forced.action, forced.reasons) == (predicted.action, predicted.reasons) == ("recreated", ["forced"])
    assert live(layer) == forced.live_version and os.path.isdir(first.live_version)


def test_check_mode_predicts_the_version_it_would_switch_to(tmp_path):
    layer = tmp_path / "venv"
    predicted = converge(SwitchedToy(layer, "1"), check_mode=True)
    assert not os.path.lexists(str(tmp_path / "venv.appenv-versions"))
    real = converge(SwitchedToy(layer, "1"))
    assert predicted.live_version == real.live_version


def test_state_absent_removes_the_link_and_every_version(tmp_path):
    layer = tmp_path / "venv"
    converge(SwitchedToy(layer, "1"))
    converge(SwitchedToy(layer, "2"))
    predicted = _layer.remove(SwitchedToy(layer), CommandRunner(), check_mode=True)
    assert os.path.islink(str(layer))
    removed = _layer.remove(SwitchedToy(layer), CommandRunner())
    assert removed.reasons == predicted.reasons and str(tmp_path / "venv.appenv-versions") in removed.reasons[0]
    assert sorted(os.listdir(str(tmp_path))) == [".venv.appenv-lock"]
    assert _layer.remove(SwitchedToy(layer), CommandRunner()).action == "absent"


def test_a_cache_entry_restores_into_its_own_version_then_switches(tmp_path):
    cache = DirectoryCache(str(tmp_path / "cache"))
    built = converge(SwitchedToy(tmp_path / "a" / "venv", "1"), cache=cache)
    layer = tmp_path / "a" / "venv"
    # A fresh host: the same dest, so the entry's paths are this host's.
    os.rename(str(tmp_path / "a"), str(tmp_path / "built"))
    restored = converge(SwitchedToy(layer, "1"), cache=cache)
    assert restored.action == "restored" and restored.live_version == built.live_version
    assert payload(layer) == "1 built in %s" % built.live_version
    # A forced rebuild lands at <key12>.2: it names that path inside, so it is not stored over the entry.
    forced = converge(SwitchedToy(layer, "1"), cache=cache, force=True)
    assert forced.live_version.endswith(".2")
    shutil_rm = _layer.remove_tree
    shutil_rm(str(tmp_path / "a"))
    again = converge(SwitchedToy(layer, "1"), cache=cache)
    assert again.action == "restored" and payload(layer) == "1 built in %s" % built.live_version


@needs_root
def test_root_refuses_a_link_or_versions_directory_another_user_controls(tmp_path):
    layer = tmp_path / "venv"
    converge(SwitchedToy(layer, "1"))
    os.lchown(str(layer), OTHER, OTHER)
    with pytest.raises(AppenvError) as error:
        converge(SwitchedToy(layer, "2"))
    assert error.value.code == "unsafe_path" and "owned by" in str(error.value)
    os.lchown(str(layer), 0, 0)
    os.chmod(str(tmp_path / "venv.appenv-versions"), 0o777)
    with pytest.raises(AppenvError) as error:
        converge(SwitchedToy(layer, "2"))
    assert error.value.code == "unsafe_path"
    os.chmod(str(tmp_path / "venv.appenv-versions"), 0o755)
    assert converge(SwitchedToy(layer, "2")).action == "recreated"


def test_a_versions_directory_that_is_a_link_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    os.symlink(str(tmp_path / "elsewhere"), str(tmp_path / "venv.appenv-versions"))
    with pytest.raises(AppenvError) as error:
        converge(SwitchedToy(tmp_path / "venv", "1"))
    assert error.value.code == "unsafe_path" and os.listdir(str(tmp_path / "elsewhere")) == []


def test_a_switch_the_file_system_refuses_is_a_titled_error_and_the_live_version_stays(tmp_path, monkeypatch):
    layer = tmp_path / "venv"
    first = converge(SwitchedToy(layer, "1"))

    def no_links(source, name):
        raise OSError(errno.EPERM, "Operation not permitted", name)

    monkeypatch.setattr(os, "symlink", no_links)
    with pytest.raises(AppenvError) as error:
        converge(SwitchedToy(layer, "2"))
    assert error.value.code == "layer_switch_failed" and "The live version was not changed" in str(error.value)
    monkeypatch.undo()
    assert live(layer) == first.live_version and versions(layer) == [os.path.basename(first.live_version)]
    assert converge(SwitchedToy(layer, "1")).action == "kept"


def _start_up(tmp_path, prefix, path, line):
    """sys.path after a fresh interpreter (-S: no site of its own) with sys.prefix and sys.path set runs line as
    site.py runs a .pth file's import line."""
    import subprocess
    import sys

    code = "import json, sys; sys.prefix = %r; sys.path[:] = %r; exec(%r); print(json.dumps(sys.path))" % (
        prefix, path, line)
    return json.loads(subprocess.check_output([sys.executable, "-S", "-c", code], cwd=str(tmp_path)))


def _linked_versions(tmp_path):
    """dest -> dest.appenv-versions/v1, with a v2 beside it."""
    versions = tmp_path / "dest.appenv-versions"
    for name in ("v1", "v2"):
        (versions / name / "lib").mkdir(parents=True)
    os.symlink("dest.appenv-versions/v1", str(tmp_path / "dest"))
    return str(tmp_path / "dest"), str(versions)


def test_a_venv_started_through_the_link_imports_from_the_version_it_names_at_start(tmp_path):
    dest, versions = _linked_versions(tmp_path)
    path = ["/usr/lib/python311.zip", dest + "/lib", dest + "x/lib", dest]
    assert _start_up(tmp_path, dest, path, _layer_switch.pin_venv_line()) == [
        "/usr/lib/python311.zip", versions + "/v1/lib", dest + "x/lib", versions + "/v1"]
    # A process started from the version's own path (a console script's #!) is left as it is.
    own = [versions + "/v2/lib"]
    assert _start_up(tmp_path, versions + "/v2", own, _layer_switch.pin_venv_line()) == own


def test_a_target_pth_puts_the_version_the_link_names_on_sys_path_once(tmp_path):
    dest, versions = _linked_versions(tmp_path)
    line = _layer_switch.pin_target_line(dest)
    assert line.startswith("import ") and line.count("\n") == 1  # site.py runs it as one line
    assert _start_up(tmp_path, "/p", ["/a"], line) == ["/a", versions + "/v1"]
    assert _start_up(tmp_path, "/p", [versions + "/v1"], line) == [versions + "/v1"]
    assert _start_up(tmp_path, "/p", ["/a"], _layer_switch.pin_target_line(dest + "-missing")) == ["/a"]
