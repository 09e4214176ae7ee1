"""A layer's file list: written once at build time, checked on every no-op without a subprocess."""

import hashlib
import os

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _manifest


@pytest.fixture
def tree(tmp_path):
    """A small runtime-like tree: files, a nested directory, symlinks to a file and a directory."""
    root = tmp_path / "layer"
    (root / "bin").mkdir(parents=True)
    (root / "lib" / "python3.12" / "site-packages" / "pip").mkdir(parents=True)
    (root / "lib" / "python3.12" / "os.py").write_text("import abc\n")
    (root / "lib" / "python3.12" / "site-packages" / "pip" / "__init__.py").write_text("# pip\n")
    (root / "bin" / "python3.12").write_text("#!/bin/sh\n")
    (root / "bin" / "pip3").write_text("#!/bin/sh\n# pip's script\n")
    os.symlink("python3.12", str(root / "bin" / "python3"))
    os.symlink("lib/python3.12", str(root / "stdlib"))
    (root / ".appenv-fingerprint.json").write_text("{}")  # the engine's own files are not the layer's
    return root


def _read(root):
    return (root / _manifest.MANIFEST_NAME).read_bytes()


def test_manifest_lists_files_with_sizes_and_symlinks_with_targets(tree):
    sha, count = _manifest.write_manifest(str(tree))
    data = _read(tree)
    assert sha == hashlib.sha256(data).hexdigest()
    assert sorted(data.decode("utf-8").splitlines(), key=lambda line: line.split("\t")[2]) == [
        "f\t25\tbin/pip3",
        "l\tpython3.12\tbin/python3",
        "f\t10\tbin/python3.12",
        "f\t11\tlib/python3.12/os.py",
        "f\t6\tlib/python3.12/site-packages/pip/__init__.py",
        "l\tlib/python3.12\tstdlib",
    ]
    assert count == 6
    assert _manifest.check_manifest(str(tree), sha) == []


def test_excluded_directories_and_prefixes_belong_to_another_layer(tree):
    sha, count = _manifest.write_manifest(str(tree), exclude_dirs=["lib/python3.12/site-packages"],
                                          exclude_prefixes=("bin/pip",))
    listed = sorted(line.split("\t")[2] for line in _read(tree).decode("utf-8").splitlines())
    assert listed == ["bin/python3", "bin/python3.12", "lib/python3.12/os.py", "stdlib"]
    assert count == 4
    # pip_tooling upgrading pip changes what is excluded: the runtime layer is still intact.
    (tree / "bin" / "pip3").write_text("#!/bin/sh\n# a newer pip's script, longer\n")
    (tree / "lib" / "python3.12" / "site-packages" / "pip" / "__init__.py").unlink()
    assert _manifest.check_manifest(str(tree), sha) == []


def test_the_same_tree_gives_the_same_digest(tree, tmp_path):
    first, _count = _manifest.write_manifest(str(tree))
    os.utime(str(tree / "bin" / "python3.12"), (1, 1))  # times are not part of the list
    second, _count = _manifest.write_manifest(str(tree))
    assert first == second
    (tree / "bin" / "extra").write_text("x")
    third, count = _manifest.write_manifest(str(tree))
    assert third != first and count == 7


def test_files_added_after_the_build_are_not_the_layers_concern(tree):
    sha, _count = _manifest.write_manifest(str(tree))
    (tree / "lib" / "python3.12" / "new_module.py").write_text("x = 1\n")
    (tree / "bin" / "added").mkdir()
    assert _manifest.check_manifest(str(tree), sha) == []


def test_a_deleted_file_is_named_missing(tree):
    sha, _count = _manifest.write_manifest(str(tree))
    (tree / "lib" / "python3.12" / "os.py").unlink()
    assert _manifest.check_manifest(str(tree), sha) == ["1 file(s) missing (lib/python3.12/os.py)"]


def test_a_resized_file_and_a_retargeted_or_replaced_symlink_are_named_changed(tree):
    sha, _count = _manifest.write_manifest(str(tree))
    (tree / "lib" / "python3.12" / "os.py").write_text("import abc  # edited\n")
    os.unlink(str(tree / "bin" / "python3"))
    os.symlink("/bin/sh", str(tree / "bin" / "python3"))
    os.unlink(str(tree / "stdlib"))
    (tree / "stdlib").mkdir()  # a directory where the symlink was
    assert _manifest.check_manifest(str(tree), sha) == [
        "3 file(s) changed (stdlib, bin/python3, lib/python3.12/os.py)"]  # in the list's order


def test_missing_and_changed_are_reported_together(tree):
    sha, _count = _manifest.write_manifest(str(tree))
    (tree / "bin" / "pip3").unlink()
    (tree / "bin" / "python3.12").write_text("")
    assert _manifest.check_manifest(str(tree), sha) == [
        "1 file(s) missing (bin/pip3)", "1 file(s) changed (bin/python3.12)"]


def test_long_lists_are_cut_at_the_limit(tmp_path):
    for index in range(7):
        (tmp_path / ("f%d" % index)).write_text("x")
    sha, count = _manifest.write_manifest(str(tmp_path))
    assert count == 7
    for index in range(7):
        (tmp_path / ("f%d" % index)).unlink()
    assert _manifest.check_manifest(str(tmp_path), sha) == ["7 file(s) missing (f0, f1, f2, f3, f4, …)"]
    assert _manifest.check_manifest(str(tmp_path), sha, limit=7) == [
        "7 file(s) missing (f0, f1, f2, f3, f4, f5, f6)"]


def test_a_missing_or_edited_file_list_is_named(tree):
    sha, _count = _manifest.write_manifest(str(tree))
    listing = str(tree / _manifest.MANIFEST_NAME)
    assert _manifest.check_manifest(str(tree), "0" * 64) == ["its file list %s was modified" % listing]
    with open(listing, "a") as handle:
        handle.write("f\t1\tsmuggled\n")
    assert _manifest.check_manifest(str(tree), sha) == ["its file list %s was modified" % listing]
    os.unlink(listing)
    assert _manifest.check_manifest(str(tree), sha) == ["its file list %s is missing" % listing]


def test_file_names_that_are_not_utf8_round_trip(tmp_path):
    name = b"caf\xe9.py"  # Latin-1 bytes: not valid UTF-8
    with open(os.path.join(os.fsencode(str(tmp_path)), name), "wb") as handle:
        handle.write(b"x = 1\n")
    sha, count = _manifest.write_manifest(str(tmp_path))
    assert count == 1
    assert _manifest.check_manifest(str(tmp_path), sha) == []
    os.unlink(os.path.join(os.fsencode(str(tmp_path)), name))
    problems = _manifest.check_manifest(str(tmp_path), sha)
    assert len(problems) == 1 and problems[0].startswith("1 file(s) missing (caf")
