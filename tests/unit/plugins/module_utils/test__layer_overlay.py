"""Overlay layers (a set of files inside another directory) through the layer cache: store, swap-in
restore with the previous version's files removed, roll-back on failure and after a kill, pyc_compile."""

import json
import os
import shutil
import sys

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _layer, _layer_overlay
from ansible_collections.appenv.python.plugins.module_utils import _pyc_layer
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from tests.unit.plugins.module_utils.signed_caches import TEST_TRUST, DirectoryCache
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner

PYTHON = shutil.which("python3.11") or sys.executable


class ToyOverlay(_layer.LayerSpec):
    """Files pkg-<version>/... and bin/tool inside a root that holds other things too."""

    kind = "toy_overlay"
    strategy = "none"
    overlay = True

    def __init__(self, root, version, state):
        self.root = str(root)
        self.builds = 0
        super(ToyOverlay, self).__init__(os.path.join(self.root, "site"), {"version": version},
                                         state_path=str(state))

    def overlay_root(self):
        return self.root

    def _files(self):
        version = self.wanted["version"]
        return {"site/pkg-%s/__init__.py" % version: "V = %r\n" % version,
                "site/pkg-%s/RECORD" % version: "record %s\n" % version,
                "bin/tool": "#!/bin/sh\necho %s\n" % version}

    def build(self, target, runner):
        self.builds += 1
        for rel, text in self._files().items():
            path = os.path.join(self.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                handle.write(text)
        return {"version": self.wanted["version"]}

    def overlay_files(self, facts):
        return _layer_overlay.overlay_relative(self.root, [os.path.join(self.root, rel) for rel in self._files()])

    def verify(self, stored):
        missing = [rel for rel in self._files() if not os.path.exists(os.path.join(self.root, rel))]
        # Like a *.dist-info: a directory of another version counts as installed, even empty.
        others = [name for name in os.listdir(self.path)
                  if name.startswith("pkg-") and name != "pkg-%s" % self.wanted["version"]]
        return ["%s is missing" % rel for rel in missing] + ["%s is installed too" % name for name in others]


def converge(spec, cache=None, **kwargs):
    runner = CommandRunner()
    return _layer.converge(spec, runner, cache=cache, **kwargs), runner


def read(path):
    with open(str(path)) as handle:
        return handle.read()


def fresh_root(tmp_path):
    """A host's root holding something the layer does not own (kept across every swap)."""
    root = tmp_path / "root"
    shutil.rmtree(str(root), ignore_errors=True)
    (root / "site").mkdir(parents=True)
    (root / "site" / "other.py").write_text("unrelated\n")
    return root


def test_overlay_is_stored_as_its_files_and_restored_on_a_fresh_host(tmp_path):
    cache = DirectoryCache(str(tmp_path / "cache"))
    root = fresh_root(tmp_path)
    state = tmp_path / "state.json"
    first, _runner = converge(ToyOverlay(root, "1", state), cache)
    assert first.action == "created"
    assert sorted(first.facts["overlay"]["files"]) == ["bin/tool", "site/pkg-1/RECORD", "site/pkg-1/__init__.py"]

    # A fresh host: the same root, without the layer (and without its fingerprint).
    root = fresh_root(tmp_path)
    state.unlink()
    spec = ToyOverlay(root, "1", state)
    predicted, _runner = converge(ToyOverlay(root, "1", state), cache, check_mode=True)
    restored, runner = converge(spec, cache)
    assert restored.action == predicted.action == "restored"
    assert restored.reasons == predicted.reasons
    assert "restored from the layer cache" in restored.reasons[-1]
    assert spec.builds == 0 and runner.history == []
    assert read(root / "bin" / "tool") == "#!/bin/sh\necho 1\n"
    assert read(root / "site" / "other.py") == "unrelated\n"
    assert not [name for name in os.listdir(str(root)) if name.startswith(".appenv-overlay-")]
    again, runner = converge(ToyOverlay(root, "1", state), cache)
    assert again.action == "kept" and runner.history == []


def version_2_cached_version_1_here(tmp_path):
    """A cache holding version 2 of the toy overlay, and a host where version 1 was built."""
    cache = DirectoryCache(str(tmp_path / "cache"))
    root = fresh_root(tmp_path)
    state = tmp_path / "state.json"
    converge(ToyOverlay(root, "2", state), cache)
    shutil.rmtree(str(root / "site" / "pkg-2"))
    state.unlink()
    converge(ToyOverlay(root, "1", state), cache)
    return cache, root, state


def test_a_restore_removes_the_previous_versions_files(tmp_path):
    cache, root, state = version_2_cached_version_1_here(tmp_path)

    result, _runner = converge(ToyOverlay(root, "2", state), cache)
    assert result.action == "restored"
    assert not (root / "site" / "pkg-1").exists(), "the previous version's files and emptied directories go"
    assert read(root / "site" / "pkg-2" / "__init__.py") == "V = '2'\n"
    assert read(root / "bin" / "tool") == "#!/bin/sh\necho 2\n"
    assert (root / "site" / "other.py").exists()


def staged(sources):
    """The moves out of a restore's staging directory (into the tree) among sources."""
    return [source for source in sources if ".appenv-overlay-" in source and ".new/" in source]


def test_a_failed_swap_puts_the_previous_files_back(tmp_path, monkeypatch):
    cache, root, state = version_2_cached_version_1_here(tmp_path)
    before = sorted(str(path.relative_to(root)) for path in root.rglob("*"))

    real_move = _layer_overlay._move
    calls = []

    def failing_move(source, dest):
        calls.append(source)
        if staged([source]) and len(staged(calls)) == 2:  # after the old files went aside and one new file came in
            raise OSError(28, "No space left on device")
        return real_move(source, dest)

    monkeypatch.setattr(_layer_overlay, "_move", failing_move)
    with pytest.raises(Exception) as raised:
        converge(ToyOverlay(root, "2", state), cache)
    assert raised.value.code == "layer_no_space"
    monkeypatch.setattr(_layer_overlay, "_move", real_move)
    assert sorted(str(path.relative_to(root)) for path in root.rglob("*")) == before
    assert read(root / "bin" / "tool") == "#!/bin/sh\necho 1\n"


def test_a_restore_killed_half_way_is_rolled_back_by_the_next_run(tmp_path, monkeypatch):
    cache, root, state = version_2_cached_version_1_here(tmp_path)
    before = dict((str(path.relative_to(root)), read(path)) for path in root.rglob("*") if path.is_file())

    real_move = _layer_overlay._move
    calls = []

    class Killed(BaseException):
        pass

    def dying_move(source, dest):
        calls.append(source)
        if staged([source]) and len(staged(calls)) == 2:  # after the old files went aside and one new file came in
            raise Killed()
        return real_move(source, dest)

    monkeypatch.setattr(_layer_overlay, "_move", dying_move)
    monkeypatch.setattr(_layer_overlay, "_overlay_rollback", lambda *args: None)  # a kill runs no clean-up
    with pytest.raises(Killed):
        converge(ToyOverlay(root, "2", state), cache)
    monkeypatch.undo()
    assert read(root / "bin" / "tool") == "#!/bin/sh\necho 2\n", "the kill came half-way through the swap"
    assert not state.exists()

    # The next run rolls back first (the previous files, as they were): converge itself, no call of ours.
    # Check mode predicts that run (the roll-back's note, then the decision on the files put back).
    predicted, _runner = converge(ToyOverlay(root, "1", state), check_mode=True)
    assert not state.exists(), "check mode rolled back"
    recovered, _runner = converge(ToyOverlay(root, "1", state))
    assert (recovered.action, len(recovered.reasons)) == ("kept", 1), recovered.reasons
    assert "interrupted" in recovered.reasons[0] and "put back" in recovered.reasons[0]
    assert (predicted.action, predicted.reasons) == (recovered.action, recovered.reasons)
    after = dict((str(path.relative_to(root)), read(path)) for path in root.rglob("*") if path.is_file())
    assert after == before
    assert json.loads(read(state))["inputs"] == {"version": "1"}, "the previous fingerprint is back too"
    result, _runner = converge(ToyOverlay(root, "2", state), cache)
    assert result.action == "restored"
    assert read(root / "bin" / "tool") == "#!/bin/sh\necho 2\n"


def test_a_directory_holding_only_the_layers_files_moves_as_one_and_one_holding_anything_else_file_by_file(
        tmp_path, monkeypatch):
    cache, root, state = version_2_cached_version_1_here(tmp_path)
    real_move = _layer_overlay._move
    moves = []
    monkeypatch.setattr(_layer_overlay, "_move", lambda source, dest: moves.append(
        os.path.relpath(source, str(tmp_path))) or real_move(source, dest))
    result, _runner = converge(ToyOverlay(root, "2", state), cache)
    assert result.action == "restored"
    moved = [source.split("/", 1)[1] if source.startswith(".appenv-overlay-") else source for source in moves]
    # pkg-1 holds only the layer's files: aside as one; pkg-2 is not in the tree: in from staging as one.
    assert sorted(moved) == ["bin/tool", "root/bin/tool", "root/site/pkg-1", "site/pkg-2", "state.json"]
    assert read(root / "site" / "pkg-2" / "RECORD") == "record 2\n"

    spec = ToyOverlay(root, "2", state)
    files = ["bin/tool", "site/pkg-2/RECORD", "site/pkg-2/__init__.py"]
    assert _layer_overlay.whole_dirs(spec, str(root), files) == ["site/pkg-2"]  # bin holds more, site is the layer's
    assert _layer_overlay.whole_dirs(spec, str(root), ["site/pkg-2/RECORD"]) == [], "a file not moved is in it"
    os.symlink("/etc", str(root / "site" / "pkg-2" / "link"))
    assert _layer_overlay.whole_dirs(spec, str(root), files) == [], "a link not moved is in it"
    assert _layer_overlay.whole_dirs(spec, str(root), files + ["site/pkg-2/link"]) == ["site/pkg-2"]
    (root / "site" / "pkg-2" / "empty").mkdir()
    assert _layer_overlay.whole_dirs(spec, str(root), files + ["site/pkg-2/link"]) == [], "a directory of nothing"


def test_a_whole_directory_moved_aside_comes_back_as_one_with_its_mode_when_the_swap_fails(tmp_path, monkeypatch):
    cache, root, state = version_2_cached_version_1_here(tmp_path)
    (root / "site" / "pkg-1").chmod(0o750)
    real_move = _layer_overlay._move
    sources = []

    def failing_move(source, dest):
        sources.append(source)
        if staged([source]):
            raise OSError(28, "No space left on device")
        return real_move(source, dest)

    monkeypatch.setattr(_layer_overlay, "_move", failing_move)
    with pytest.raises(AppenvError):
        converge(ToyOverlay(root, "2", state), cache)
    assert str(root / "site" / "pkg-1") in sources, "moved aside as one directory"
    assert oct((root / "site" / "pkg-1").stat().st_mode & 0o777) == "0o750"
    assert read(root / "site" / "pkg-1" / "RECORD") == "record 1\n"


def cached_with_files(tmp_path, change):
    """A cache holding version 1 whose record's file list change(list) altered, re-signed by a writer that holds
    the key (the signature is valid, the list is not the archive's); a fresh host. (cache, root, state)."""
    cache = DirectoryCache(str(tmp_path / "cache"))
    root = fresh_root(tmp_path)
    state = tmp_path / "state.json"
    spec = ToyOverlay(root, "1", state)
    converge(spec, cache)
    meta_path = cache._paths(spec.cache_key())[2]
    meta = json.loads(read(meta_path))
    change(meta["record"]["facts"]["overlay"]["files"])
    with open(meta_path, "w") as handle:
        json.dump(TEST_TRUST.sign(meta), handle)
    state.unlink()
    return cache, fresh_root(tmp_path), state


def test_an_entry_whose_files_do_not_match_its_record_is_discarded(tmp_path):
    cache, root, state = cached_with_files(tmp_path, lambda files: files.append("site/pkg-1/not-in-the-archive.py"))
    result, _runner = converge(ToyOverlay(root, "1", state), cache)
    assert result.action == "created"
    assert any("does not hold the files" in warning for warning in result.warnings), result.warnings


def test_a_file_the_archive_holds_and_its_record_does_not_list_never_comes_into_the_tree(tmp_path):
    cache, root, state = cached_with_files(tmp_path, lambda files: files.remove("site/pkg-1/RECORD"))
    result, _runner = converge(Lenient(root, "1", state), cache)
    assert result.action == "restored"
    # pkg-1 is not in the tree, yet it does not move in as one directory: its RECORD is not the layer's.
    assert read(root / "site" / "pkg-1" / "__init__.py") == "V = '1'\n"
    assert not (root / "site" / "pkg-1" / "RECORD").exists()


class Lenient(ToyOverlay):
    """A toy whose check after a restore finds nothing wrong (so what the swap moved in stays to be seen)."""

    def verify(self, stored):
        return []


@pytest.mark.parametrize("rel, ok", [("a/b.py", True), ("../etc/passwd", False), ("/etc/passwd", False),
                                     ("a/../../b", False), ("a//b", False), (".appenv-overlay-x.old/f", False),
                                     ("", False), (None, False)])
def test_overlay_paths_are_checked(rel, ok):
    assert _layer_overlay.overlay_path_ok(rel) is ok


def test_overlay_relative_refuses_files_outside_the_root(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "a").write_text("")
    assert _layer_overlay.overlay_relative(str(tmp_path / "root"), [str(tmp_path / "root" / "a")]) == ["a"]
    assert _layer_overlay.overlay_relative(str(tmp_path / "root"), [str(tmp_path / "elsewhere")]) is None


def test_links_on_the_way_are_found_with_one_lstat_per_directory(tmp_path, monkeypatch):
    """A layer's thousands of files share their directories: each is looked at once, with the same verdicts."""
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(str(tmp_path / "elsewhere"), str(root / "a" / "link"))
    rels = ["a/b/f%d" % index for index in range(50)] + ["a/missing/deeper/f", "a/link/f", "top"]
    expected = dict((rel, _layer_overlay.link_on_the_way(str(root), rel)) for rel in rels)
    assert expected["a/link/f"] == str(root / "a" / "link") and expected["a/b/f1"] is None
    looked = []
    real_lstat = os.lstat
    monkeypatch.setattr(_layer_overlay.os, "lstat", lambda path: looked.append(path) or real_lstat(path))
    seen = {}
    assert dict((rel, _layer_overlay.link_on_the_way(str(root), rel, seen)) for rel in rels) == expected
    assert sorted(looked) == sorted(set(looked)) and len(looked) == 4  # a, a/b, a/missing, a/link
    with pytest.raises(AppenvError) as raised:
        _layer_overlay.refuse_links(str(root), rels)
    assert raised.value.code == "tree_symlink"


def test_a_file_is_anything_there_but_a_directory(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("")
    os.symlink(str(tmp_path / "dir"), str(tmp_path / "link-to-dir"))
    os.symlink(str(tmp_path / "nowhere"), str(tmp_path / "dangling"))
    verdicts = dict((name, _layer_overlay._is_file(str(tmp_path / name)))
                    for name in ("dir", "file", "link-to-dir", "dangling", "missing"))
    assert verdicts == {"dir": False, "file": True, "link-to-dir": True, "dangling": True, "missing": False}


# --- pyc_compile through the cache ---------------------------------------------------------

def make_tree(root):
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (root / "app.py").write_text("import pkg\n")
    return root


def pycs(tree):
    return dict((str(path.relative_to(tree)), path.read_bytes()) for path in sorted(tree.rglob("*.pyc")))


def pyc_spec(tree, state, **kwargs):
    return _pyc_layer.PycLayerSpec([str(tree)], PYTHON, state_dir=str(state), **kwargs)


def new_checkout(tmp_path, mtime):
    """The same sources on a fresh host: another checkout (other mtimes), no pycs, no state."""
    tree = tmp_path / "app"
    shutil.rmtree(str(tree), ignore_errors=True)
    shutil.rmtree(str(tmp_path / "state"), ignore_errors=True)
    make_tree(tree)
    for path in tree.rglob("*.py"):
        os.utime(str(path), (mtime, mtime))
    return tree


@pytest.mark.parametrize("mode", ["checked-hash", "unchecked-hash"])
def test_pycs_restored_for_another_checkout_of_the_same_code(tmp_path, mode):
    cache = DirectoryCache(str(tmp_path / "cache"))
    tree = new_checkout(tmp_path, 1000000000)
    first, _runner = converge(pyc_spec(tree, tmp_path / "state", invalidation_mode=mode, optimize_levels=(0, 1)),
                              cache)
    assert first.action == "created"
    built = pycs(tree)
    assert len(built) == 4

    tree = new_checkout(tmp_path, 1100000000)
    restored, runner = converge(pyc_spec(tree, tmp_path / "state", invalidation_mode=mode,
                                         optimize_levels=(0, 1)), cache)
    assert restored.action == "restored" and runner.history == []
    assert pycs(tree) == built
    again, runner = converge(pyc_spec(tree, tmp_path / "state", invalidation_mode=mode, optimize_levels=(0, 1)),
                             cache)
    assert (again.action, runner.history) == ("kept", [])

    # Changed content, another level, another mode: misses.
    (tree / "app.py").write_text("import pkg\nX = 2\n")
    assert converge(pyc_spec(tree, tmp_path / "state", invalidation_mode=mode, optimize_levels=(0, 1)),
                    cache)[0].action == "updated"
    tree = new_checkout(tmp_path, 1000000000)
    (tree / "app.py").write_text("import pkg\nX = 3\n")
    assert converge(pyc_spec(tree, tmp_path / "state", invalidation_mode=mode, optimize_levels=(0, 1)),
                    cache)[0].action == "created"
    tree = new_checkout(tmp_path, 1000000000)
    assert converge(pyc_spec(tree, tmp_path / "state", invalidation_mode=mode, optimize_levels=(0,)),
                    cache)[0].action == "created"


def test_timestamp_pycs_only_hit_with_the_same_mtimes(tmp_path):
    cache = DirectoryCache(str(tmp_path / "cache"))
    tree = new_checkout(tmp_path, 1000000000)
    assert converge(pyc_spec(tree, tmp_path / "state", invalidation_mode="timestamp"), cache)[0].action == "created"
    tree = new_checkout(tmp_path, 1100000000)
    assert converge(pyc_spec(tree, tmp_path / "state", invalidation_mode="timestamp"), cache)[0].action == "created"
    tree = new_checkout(tmp_path, 1000000000)
    assert converge(pyc_spec(tree, tmp_path / "state", invalidation_mode="timestamp"), cache)[0].action == "restored"


def test_pyc_cache_key_holds_the_interpreter(tmp_path):
    tree = make_tree(tmp_path / "app")
    spec = pyc_spec(tree, tmp_path / "state")
    identity = spec.interpreter_identity()
    assert identity["path"] == os.path.realpath(PYTHON) and len(identity["sha256"]) == 64
    fingerprint = tmp_path / "fake" / ".appenv-fingerprint.json"
    (tmp_path / "fake" / "bin").mkdir(parents=True)
    fingerprint.write_text(json.dumps({"kind": "python_runtime", "key": "k" * 64,
                                       "inputs": {"python_version": "3.11.9"}}))
    shutil.copy(os.path.realpath(PYTHON), str(tmp_path / "fake" / "bin" / "python3.11"))
    other = _pyc_layer.PycLayerSpec([str(tree)], str(tmp_path / "fake" / "bin" / "python3.11"),
                                    state_dir=str(tmp_path / "state"))
    assert other.interpreter_identity() == {"runtime": "k" * 64}
    assert other.cache_key() != spec.cache_key()


def test_source_date_epoch_turns_timestamp_into_checked_hash_in_the_key(tmp_path, monkeypatch):
    tree = make_tree(tmp_path / "app")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    plain = pyc_spec(tree, tmp_path / "state", invalidation_mode="timestamp")
    assert plain.effective_mode() == "timestamp"
    pinned = pyc_spec(tree, tmp_path / "state", invalidation_mode="timestamp", env={"SOURCE_DATE_EPOCH": 1})
    assert pinned.effective_mode() == "checked-hash"
    assert pinned.cache_key() == pyc_spec(tree, tmp_path / "state", invalidation_mode="checked-hash").cache_key()


def test_a_restore_that_fails_its_check_is_rolled_back_and_built(tmp_path, monkeypatch):
    cache, root, state = version_2_cached_version_1_here(tmp_path)
    before = sorted(str(path.relative_to(root)) for path in root.rglob("*"))

    checked = []
    real_verify = ToyOverlay.verify

    def verify_then_fail(self, stored):
        checked.append(real_verify(self, stored))  # what the check saw right after the swap
        return ["damaged on purpose"] if len(checked) == 1 else checked[-1]

    seen_by_build = []
    real_build = ToyOverlay.build

    def build(self, target, runner):
        seen_by_build.append(sorted(str(path.relative_to(root)) for path in root.rglob("*")))
        return real_build(self, target, runner)

    monkeypatch.setattr(ToyOverlay, "verify", verify_then_fail)
    monkeypatch.setattr(ToyOverlay, "build", build)
    spec = ToyOverlay(root, "2", state)
    result, _runner = converge(spec, cache)
    assert checked[0] == [], "the previous version's directories were gone before the check"
    assert result.action == "recreated" and spec.builds == 1
    assert any("do not check out (damaged on purpose)" in warning for warning in result.warnings), result.warnings
    assert seen_by_build == [before], "the roll-back put back every file and directory before the build"
    assert read(root / "site" / "pkg-2" / "__init__.py") == "V = '2'\n"


# -- least privilege (docs/security.md): the journal is never in the tree, recovery never follows a link ------------
def test_the_journal_and_the_moved_aside_files_live_beside_the_fingerprint(tmp_path, monkeypatch):
    cache, root, state = version_2_cached_version_1_here(tmp_path)
    written = []
    real_write = _layer_overlay.write_json_atomic
    monkeypatch.setattr(_layer_overlay, "write_json_atomic",
                        lambda path, data, *args: written.append(path) or real_write(path, data, *args))
    assert converge(ToyOverlay(root, "2", state), cache)[0].action == "restored"
    journals = [path for path in written if path.endswith(_layer_overlay._OVERLAY_JOURNAL)]
    assert journals and all(os.path.dirname(os.path.dirname(path)) == str(tmp_path) for path in journals)
    assert not [path for path in root.rglob("*") if ".appenv-overlay-" in str(path)]


def linked_outside(tmp_path, link):
    """A root whose `link` points at a directory outside it holding a file `victim`; the toy overlay's spec."""
    root = fresh_root(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("keep\n")
    os.symlink(str(outside), str(root / link))
    return root, outside, ToyOverlay(root, "1", tmp_path / "state.json")


def test_a_journal_planted_in_the_tree_is_never_read(tmp_path):
    """Where earlier releases kept it: whoever can write the tree could plant one naming paths through a link."""
    root, outside, spec = linked_outside(tmp_path, "link")
    tag = _layer_overlay._overlay_dirs(spec)[2].rsplit("-", 1)[-1]
    planted = root / (".appenv-overlay-" + tag)
    (planted / "link").mkdir(parents=True)
    (planted / "link" / "planted").write_text("pwned\n")
    (planted / ".appenv-journal.json").write_text(json.dumps({"new": ["link/victim"], "existing": ["link/planted"]}))
    assert converge(spec)[0].action == "created"
    assert sorted(os.listdir(str(outside))) == ["victim"] and read(outside / "victim") == "keep\n"


def test_recovery_skips_journal_paths_through_a_link(tmp_path):
    """A journal naming a path through a link inside the layer (however it got there) is not followed."""
    root, outside, spec = linked_outside(tmp_path, "site/link")
    _root, _staging, aside = _layer_overlay._overlay_dirs(spec)
    os.makedirs(os.path.join(aside, "site", "link"))
    with open(os.path.join(aside, "site", "link", "planted"), "w") as handle:
        handle.write("pwned\n")
    with open(os.path.join(aside, _layer_overlay._OVERLAY_JOURNAL), "w") as handle:
        json.dump({"new": ["site/link/victim", "../outside/victim", "/etc/passwd"],
                   "existing": ["site/link/planted"]}, handle)
    note = _layer_overlay.recover_overlay(spec)
    assert "symbolic link" in note and "site/link/planted" in note and "site/link/victim" in note
    assert sorted(os.listdir(str(outside))) == ["victim"] and read(outside / "victim") == "keep\n"
    assert not os.path.lexists(aside)


def test_a_restore_never_moves_a_file_through_a_link(tmp_path):
    cache, root, state = version_2_cached_version_1_here(tmp_path)
    outside = tmp_path / "outside"
    shutil.move(str(root / "site"), str(outside))
    os.symlink(str(outside), str(root / "site"))
    before = sorted(os.listdir(str(outside)))
    with pytest.raises(AppenvError) as caught:
        converge(ToyOverlay(root, "2", state), cache)
    assert caught.value.code == "tree_symlink" and caught.value.fields["path"] == str(root / "site")
    assert sorted(os.listdir(str(outside))) == before
    assert not [name for name in os.listdir(str(tmp_path)) if name.startswith(".appenv-overlay-")]
