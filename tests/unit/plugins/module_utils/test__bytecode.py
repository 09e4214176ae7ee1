"""Bytecode backend with a real interpreter: modes, levels, orphans, reproducibility, incremental updates."""

import os
import shutil
import sys

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _bytecode, _layer
from ansible_collections.appenv.python.plugins.module_utils import _pyc_layer
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner

PYTHON = shutil.which("python3.11") or sys.executable
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
TAG = "cpython-311"


def make_tree(root):
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (root / "pkg" / "mod.py").write_text("def f():\n    return 2\n")
    (root / "app.py").write_text("import pkg\n")
    return root


def pyc(root, rel, level=0):
    directory, name = os.path.split(rel)
    suffix = "" if level == 0 else ".opt-%d" % level
    return root / directory / "__pycache__" / ("%s.%s%s.pyc" % (name[:-3], TAG, suffix))


def flags(path):
    return int.from_bytes(path.read_bytes()[4:8], "little")


def converge(spec, **kwargs):
    runner = CommandRunner()
    return _layer.converge(spec, runner, **kwargs), runner


def spec(tree, state, **kwargs):
    return _pyc_layer.PycLayerSpec([str(tree)], PYTHON, state_dir=str(state), **kwargs)


@pytest.mark.parametrize("mode, expected_flags", [("timestamp", 0), ("unchecked-hash", 1), ("checked-hash", 3)])
def test_invalidation_modes(tmp_path, mode, expected_flags):
    tree = make_tree(tmp_path / "app")
    result, _runner = converge(spec(tree, tmp_path / "state", invalidation_mode=mode))
    assert result.action == "created" and result.facts["compiled"] == 3
    assert flags(pyc(tree, "pkg/mod.py")) == expected_flags


def test_optimisation_levels_and_kept_without_a_process(tmp_path):
    tree = make_tree(tmp_path / "app")
    converge(spec(tree, tmp_path / "state", optimize_levels=(0, 1, 2)))
    for level in (0, 1, 2):
        assert pyc(tree, "app.py", level).exists()
    result, runner = converge(spec(tree, tmp_path / "state", optimize_levels=(0, 1, 2)))
    assert result.action == "kept" and runner.history == []


def test_changed_sources_are_recompiled_alone_and_orphans_removed(tmp_path):
    tree = make_tree(tmp_path / "app")
    converge(spec(tree, tmp_path / "state"))
    (tree / "pkg" / "mod.py").write_text("def f():\n    return 3  # longer now\n")
    (tree / "new.py").write_text("x = 1\n")
    (tree / "app.py").unlink()
    predicted, unused = converge(spec(tree, tmp_path / "state"), check_mode=True)
    result, unused = converge(spec(tree, tmp_path / "state"))
    assert result.action == predicted.action == "updated"
    assert result.reasons == predicted.reasons
    assert result.reasons == ["3 source files changed (added: new.py; changed: mod.py; removed: app.py)"]
    assert result.facts["compiled"] == 2 and result.facts["removed"] == 1
    assert not pyc(tree, "app.py").exists() and pyc(tree, "new.py").exists()


def test_mode_change_recreates_and_deleted_pyc_is_repaired(tmp_path):
    tree = make_tree(tmp_path / "app")
    converge(spec(tree, tmp_path / "state"))
    result, unused = converge(spec(tree, tmp_path / "state", invalidation_mode="unchecked-hash"))
    assert result.action == "recreated"
    assert result.reasons == ["Invalidation mode changed from checked-hash to unchecked-hash"]
    pyc(tree, "pkg/mod.py").unlink()
    result, unused = converge(spec(tree, tmp_path / "state", invalidation_mode="unchecked-hash"))
    assert result.action == "recreated" and "pyc file(s) missing" in result.reasons[0]
    assert pyc(tree, "pkg/mod.py").exists()


def test_source_date_epoch_gives_byte_identical_pycs(tmp_path):
    """Identical trees (same paths, new mtimes: another checkout) compile to identical bytes."""
    outputs = []
    for run in range(2):
        if (tmp_path / "app").exists():
            shutil.rmtree(str(tmp_path / "app"))
        tree = make_tree(tmp_path / "app")
        os.utime(str(tree / "pkg" / "mod.py"), (1000000000 + run * 12345, 1000000000 + run * 12345))
        runner = CommandRunner(env={"SOURCE_DATE_EPOCH": "1700000000"})
        _layer.converge(_pyc_layer.PycLayerSpec([str(tree)], PYTHON, "timestamp", state_dir=str(tmp_path / str(run))),
                        runner)
        outputs.append(pyc(tree, "pkg/mod.py").read_bytes())
    assert outputs[0] == outputs[1]
    assert flags(pyc(tmp_path / "app", "pkg/mod.py")) == 3


def test_syntax_errors_are_reported_not_fatal_and_workers_agree(tmp_path):
    tree = make_tree(tmp_path / "app")
    (tree / "broken.py").write_text("def nope(:\n")
    serial, unused = converge(spec(tree, tmp_path / "s1", workers=1))
    assert [item["file"] for item in serial.facts["failed"]] == [str(tree / "broken.py")]
    assert serial.facts["compiled"] == 3
    again, runner = converge(spec(tree, tmp_path / "s1", workers=1))
    assert again.action == "kept" and runner.history == [], "a known-broken source must not cause rebuilds"
    tree2 = make_tree(tmp_path / "app2")
    (tree2 / "broken.py").write_text("def nope(:\n")
    parallel, unused = converge(spec(tree2, tmp_path / "s2", workers=2))
    assert parallel.facts["compiled"] == 3 and len(parallel.facts["failed"]) == 1


def test_interpreter_minor_is_read_without_running_it(tmp_path):
    assert _bytecode.interpreter_minor(PYTHON) == "3.11"
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /x\nversion = 3.12.7\n")
    (venv / "bin" / "python").symlink_to("/nonexistent/python")
    assert _bytecode.interpreter_minor(str(venv / "bin" / "python")) == "3.12"


def test_a_cached_record_may_list_only_the_pycs_of_this_hosts_sources(tmp_path):
    tree = make_tree(tmp_path / "app")
    layer = spec(tree, tmp_path / "state", optimize_levels=(0, 1))
    ours = [os.path.relpath(str(pyc(tree, rel, level)), str(tree)) for rel in ("app.py", "pkg/mod.py") for level in (0, 1)]
    assert layer.overlay_unexpected(ours) == []
    foreign = ["pkg/evil.pth", "pkg/__pycache__/gone.%s.pyc" % TAG, "pkg/__pycache__/mod.cpython-20.pyc"]
    assert layer.overlay_unexpected(ours + foreign) == foreign


# -- least privilege (docs/security.md) ------------------------------------------------------------------------------
def test_a_symlinked_pycache_is_refused_before_anything_is_compiled(tmp_path):
    tree = make_tree(tmp_path / "app")
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), str(tree / "pkg" / "__pycache__"))
    with pytest.raises(AppenvError) as caught:
        converge(spec(tree, tmp_path / "state"))
    assert caught.value.code == "tree_symlink"
    assert caught.value.fields["path"] == str(tree / "pkg" / "__pycache__")
    assert caught.value.fields["target"] == str(outside)
    assert os.listdir(str(outside)) == [] and not (tree / "__pycache__").exists()
    (tree / "pkg" / "__pycache__").unlink()
    assert converge(spec(tree, tmp_path / "state"))[0].action == "created"
    assert os.listdir(str(outside)) == []


def test_a_symlinked_package_dir_is_not_descended(tmp_path):
    tree = make_tree(tmp_path / "app")
    elsewhere = make_tree(tmp_path / "elsewhere")
    os.symlink(str(elsewhere / "pkg"), str(tree / "linked"))
    result, _runner = converge(spec(tree, tmp_path / "state"))
    assert result.action == "created" and not (elsewhere / "pkg" / "__pycache__").exists()


@needs_root
def test_as_root_a_source_linking_outside_the_trees_is_skipped_with_a_warning(tmp_path):
    tree = make_tree(tmp_path / "app")
    (tmp_path / "secret.py").write_text("TOKEN = 'only root reads this'\n")
    os.symlink(str(tmp_path / "secret.py"), str(tree / "settings.py"))
    os.symlink(str(tree / "pkg" / "mod.py"), str(tree / "alias.py"))  # inside the trees: compiled
    layer_spec = spec(tree, tmp_path / "state")
    assert str(tree / "settings.py") not in layer_spec.listing and str(tree / "alias.py") in layer_spec.listing
    assert len(layer_spec.warnings) == 1 and "settings.py links outside the trees" in layer_spec.warnings[0]
    converge(layer_spec)
    assert not pyc(tree, "settings.py").exists() and pyc(tree, "alias.py").exists()


@needs_root
@pytest.mark.parametrize("unsafe", ["subdir-owner", "pycache-owner", "tree-owner", "group-writable"])
def test_as_root_a_tree_another_user_can_write_is_refused(tmp_path, unsafe):
    os.chmod(str(tmp_path), 0o755)
    tree = make_tree(tmp_path / "app")
    (tree / "pkg" / "__pycache__").mkdir()
    target = {"subdir-owner": tree / "pkg", "pycache-owner": tree / "pkg" / "__pycache__", "tree-owner": tree,
              "group-writable": tree / "pkg"}[unsafe]
    if unsafe == "group-writable":
        os.chmod(str(target), 0o775)
    else:
        os.chown(str(target), 65534, -1)
    with pytest.raises(AppenvError) as caught:
        spec(tree, tmp_path / "state")
    assert caught.value.code == "unsafe_path" and caught.value.fields["path"] == str(target)
    assert not (tree / "__pycache__").exists()


def test_the_state_dir_is_private(tmp_path):
    tree = make_tree(tmp_path / "app")
    converge(spec(tree, tmp_path / "state" / "pyc"))
    assert os.stat(str(tmp_path / "state" / "pyc")).st_mode & 0o777 == 0o700


def test_an_update_also_compiles_unchanged_sources_whose_pycs_are_gone(tmp_path):
    """A __pycache__ removed along with a change: the update leaves no pyc missing, so the next run keeps."""
    tree = make_tree(tmp_path / "app")
    converge(spec(tree, tmp_path / "state"))
    shutil.rmtree(str(tree / "pkg" / "__pycache__"))
    (tree / "pkg" / "mod.py").write_text("def f():\n    return 3\n")
    result, _runner = converge(spec(tree, tmp_path / "state"))
    assert result.action == "updated" and result.facts["compiled"] == 2
    assert pyc(tree, "pkg/__init__.py").exists()
    assert converge(spec(tree, tmp_path / "state"))[0].action == "kept"


def test_the_pycs_of_a_tree_s_sources_are_found_with_one_listing_per_directory(tmp_path, monkeypatch):
    cache = tmp_path / "pkg" / "__pycache__"
    cache.mkdir(parents=True)
    for name in ("mod.cpython-311.pyc", "mod.cpython-311.opt-1.pyc", "mod2.cpython-312.pyc", "other.cpython-311.pyc",
                 "mod.txt"):
        (cache / name).write_text("")
    sources = [str(tmp_path / "pkg" / name) for name in ("mod.py", "mod2.py", "other.py", "none.py")]
    expected = [_bytecode.pyc_files_of(source) for source in sources]
    assert expected[0] == [str(cache / "mod.cpython-311.opt-1.pyc"), str(cache / "mod.cpython-311.pyc")]
    listed = []
    real_listdir = os.listdir
    monkeypatch.setattr(_bytecode.os, "listdir", lambda path: listed.append(path) or real_listdir(path))
    listings = {}
    assert [_bytecode.pyc_files_of(source, listings) for source in sources] == expected
    assert listed == [str(cache)]
    assert _bytecode.pyc_files_of(str(tmp_path / "nowhere" / "x.py"), listings) == []


# -- reusing the pycs a runtime's archive ships (python_runtime) ----------------------------------------------------
def _shipped_tree(tmp_path):
    """Sources with the timestamp pycs `make install` leaves (levels 0 and 1), and an orphan."""
    import compileall

    tree = tmp_path / "lib"
    (tree / "pkg").mkdir(parents=True)
    (tree / "a.py").write_text("A = 1\n")
    (tree / "b.py").write_text("B = 2\n")
    (tree / "pkg" / "__init__.py").write_text("from . import c\n")
    (tree / "pkg" / "c.py").write_text("C = 3\n")
    for level in (0, 1):
        assert compileall.compile_dir(str(tree), quiet=1, optimize=level)
    orphan = tree / "__pycache__" / ("gone.%s.pyc" % sys.implementation.cache_tag)
    orphan.write_bytes(b"x")
    return tree


def _flags(pyc):
    with open(pyc, "rb") as fh:
        return int.from_bytes(fh.read(8)[4:8], "little")


def test_shipped_pycs_that_match_their_sources_are_restamped_the_others_compiled(tmp_path):
    import importlib.util
    import marshal

    tree = _shipped_tree(tmp_path)
    shipped_code = (tree / "__pycache__" / ("a.%s.pyc" % sys.implementation.cache_tag)).read_bytes()[16:]
    # b.py changed after its pyc was written (same size, another mtime): the pyc is stale, the source is compiled.
    (tree / "b.py").write_text("B = 9\n")
    os.utime(tree / "b.py", (1_000_000_000, 1_000_000_000))
    result = _bytecode.compile_trees(CommandRunner(), sys.executable, [str(tree)], "unchecked-hash", (0,), 1,
                                     reuse=True)
    assert (result["compiled"], result["failed"], result["reused"]) == (4, [], 3)
    _bytecode.delete_pycs([str(tree)], keep_tag=result["cache_tag"])
    pycs = sorted(str(p.relative_to(tree)) for p in tree.rglob("*.pyc"))
    tag = sys.implementation.cache_tag
    assert pycs == sorted(["__pycache__/a.%s.pyc" % tag, "__pycache__/b.%s.pyc" % tag,
                           "pkg/__pycache__/__init__.%s.pyc" % tag, "pkg/__pycache__/c.%s.pyc" % tag])
    for pyc in tree.rglob("*.pyc"):
        data = pyc.read_bytes()
        source = (pyc.parent.parent / (pyc.name.split(".")[0] + ".py")).read_bytes()
        assert _flags(pyc) == 1 and data[8:16] == importlib.util.source_hash(source), pyc
    a = (tree / "__pycache__" / ("a.%s.pyc" % tag)).read_bytes()
    assert a[16:] == shipped_code  # the code kept as shipped
    b = marshal.loads((tree / "__pycache__" / ("b.%s.pyc" % tag)).read_bytes()[16:])
    assert 9 in b.co_consts  # compiled from the changed source, not the stale pyc
    # what the pycs hold is what a compile gives
    fresh = tmp_path / "fresh"
    shutil.copytree(tree, fresh)
    _bytecode.delete_pycs([str(fresh)])
    _bytecode.compile_trees(CommandRunner(), sys.executable, [str(fresh)], "unchecked-hash", (0,), 1)
    for pyc in fresh.rglob("*.pyc"):
        ours = tree / pyc.relative_to(fresh)
        assert ours.read_bytes()[:16] == pyc.read_bytes()[:16]
        assert marshal.loads(ours.read_bytes()[16:]) == marshal.loads(pyc.read_bytes()[16:])


@pytest.mark.parametrize("damage", ["hash-pyc-of-another-source", "not-a-pyc", "other-magic"])
def test_a_pyc_the_import_system_would_not_load_is_never_reused(tmp_path, damage):
    import importlib.util

    tree = tmp_path / "lib"
    tree.mkdir()
    (tree / "a.py").write_text("A = 1\n")
    pyc = tree / "__pycache__" / ("a.%s.pyc" % sys.implementation.cache_tag)
    pyc.parent.mkdir()
    if damage == "hash-pyc-of-another-source":
        code = compile("A = 666\n", str(tree / "a.py"), "exec")
        import marshal
        pyc.write_bytes(importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little")
                        + importlib.util.source_hash(b"A = 666\n") + marshal.dumps(code))
    elif damage == "not-a-pyc":
        pyc.write_bytes(b"garbage")
    else:
        pyc.write_bytes(b"\x00\x00\r\n" + bytes(12) + b"garbage")
    result = _bytecode.compile_trees(CommandRunner(), sys.executable, [str(tree)], "unchecked-hash", (0,), 1,
                                     reuse=True)
    assert (result["compiled"], result["reused"]) == (1, 0)
    import marshal
    assert 1 in marshal.loads(pyc.read_bytes()[16:]).co_consts
