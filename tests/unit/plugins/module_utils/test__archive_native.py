"""GNU tar as the writer of safe_extract (plugins/module_utils/_archive_native.py): the same tree as the Python
writer, left out where it would differ, and nothing left behind when it fails or a check refuses the archive."""

import os
import resource
import stat
import tarfile

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _archive, _archive_native
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner
from tests.unit.plugins.module_utils.test__archive import (  # noqa: F401 pylint: disable=unused-import
    _build, _dir, _file, _good_members, _link, _mode, _special, _tree, place)


# -- GNU tar as the writer -------------------------------------------------------

def _plain_members():
    """The good archive without what the Python writer must strip (so GNU tar may write it), and an absolute link."""
    members = [(_dir("./python/lib", 0o755) if info.name == "./python/lib" else (info, data))
               for info, data in _good_members()
               if not info.name.endswith(("setuid-helper", "world-writable", "read-only"))]
    return members + [_link("./python/bin/system-python", "/usr/bin/python3")]


def _described(root):
    """Every path under root with its type, mode, mtime and content or link target."""
    found = {}
    for path, meta in _tree(root).items():
        full = os.path.join(str(root), path)
        info = os.lstat(full)
        if stat.S_ISLNK(info.st_mode):
            detail = os.readlink(full)
        elif stat.S_ISREG(info.st_mode):
            detail = open(full, "rb").read()
        else:
            detail = None
        found[path] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), meta, info.st_nlink, detail)
    return found


@pytest.mark.skipif(_archive_native.gnu_tar() is None, reason="GNU tar is not installed")
@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_gnu_tar_writes_a_checked_archive_exactly_as_the_python_writer(place, mode):
    archive = _build(place / "archives" / "python.tar", _plain_members(), mode=mode)
    native_runner, python_runner = CommandRunner(), CommandRunner()
    by_tar = _archive.safe_extract(str(archive), str(place / "by-tar"), allow_absolute_symlinks=True,
                                   runner=native_runner, native_min_members=0)
    by_python = _archive.safe_extract(str(archive), str(place / "by-python"), allow_absolute_symlinks=True,
                                      runner=python_runner, native=False)
    assert [os.path.basename(command["argv"][0]) for command in native_runner.history] == ["tar"]
    assert python_runner.history == []
    assert by_tar == by_python
    implied = ("python/share", "python/lib/python3.12")  # no member of their own: made with the time of the run
    assert dict((path, found) for path, found in _described(place / "by-tar").items() if path not in implied) == \
        dict((path, found) for path, found in _described(place / "by-python").items() if path not in implied)
    assert os.readlink(str(place / "by-tar" / "python" / "bin" / "system-python")) == "/usr/bin/python3"


@pytest.mark.skipif(_archive_native.gnu_tar() is None, reason="GNU tar is not installed")
def test_gnu_tar_is_left_out_where_it_would_not_do_what_the_python_writer_does(place):
    """Bits to strip, files already in the destination, small archives: the Python writer, no program started."""
    runner = CommandRunner()
    with_bits = _build(place / "archives" / "bits.tar", _good_members(), mode="w")
    _archive.safe_extract(str(with_bits), str(place / "a"), runner=runner, native_min_members=0)
    assert _mode(place / "a" / "python" / "lib" / "setuid-helper") == 0o755

    plain = _build(place / "archives" / "plain.tar", _plain_members(), mode="w")
    (place / "b").mkdir()
    (place / "b" / "mine").write_text("kept")
    _archive.safe_extract(str(plain), str(place / "b"), allow_absolute_symlinks=True, runner=runner,
                          native_min_members=0)
    assert (place / "b" / "mine").read_text() == "kept"

    _archive.safe_extract(str(plain), str(place / "c"), allow_absolute_symlinks=True, runner=runner)
    assert runner.history == []


@pytest.mark.skipif(_archive_native.gnu_tar() is None, reason="GNU tar is not installed")
def test_a_tar_that_fails_half_way_leaves_nothing_behind(place):
    """tar stopped by the file size limit after writing part of the archive: an OSError, and dest is gone."""
    members = [_file("./small-%d" % index, b"x" * 100) for index in range(20)] + \
        [_file("./big", b"\0" * (2 << 20)), _file("./after", b"y")]
    archive = _build(place / "archives" / "big.tar", members, mode="w")
    dest = place / "work" / "dest"
    before = _tree(place)
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, limit[1]))  # tar inherits it; this process ignores SIGXFSZ
    try:
        with pytest.raises(OSError) as caught:
            _archive.safe_extract(str(archive), str(dest), native_min_members=0)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
    assert "tar" in str(caught.value)
    assert _tree(place) == before


def _big_members(count=300, hostile=None):
    members = [_dir("./lib"), _file("./lib/blob", os.urandom(9 << 20), 0o644)]
    members += [_file("./lib/m%03d.py" % index, b"x = %d\n" % index) for index in range(count)]
    if hostile is not None:
        members.append(hostile)
    return members + [_file("./lib/zz-last.py", b"last\n")]


@pytest.mark.skipif(_archive_native.gnu_tar() is None, reason="GNU tar is not installed")
@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_overlapped_tar_writes_while_the_scan_reads_and_matches_the_python_writer(place, mode):
    members = _big_members() + [_file("./lib/setuid-helper", b"x", 0o4755), _dir("./open", 0o777),
                                _file("./lib/group-writable", b"g", 0o664), _file("./lib/no-owner-write", b"r", 0o400),
                                _dir("./odd", 0o570)]
    archive = _build(place / "archives" / "big.tar", members, mode=mode)
    assert os.path.getsize(str(archive)) >= _archive_native.OVERLAP_MIN_BYTES
    (place / "staging").mkdir()
    runner = CommandRunner()
    by_tar = _archive.safe_extract(str(archive), str(place / "staging"), runner=runner, overlap=True)
    by_python = _archive.safe_extract(str(archive), str(place / "by-python"), native=False)
    assert [os.path.basename(command["argv"][0]) for command in runner.history] == ["tar"]
    assert by_tar == by_python
    assert _described(place / "staging") == _described(place / "by-python")
    assert _mode(place / "staging" / "lib" / "setuid-helper") == 0o755  # stripped after tar, as by Python
    # both writers normalise modes as tarfile's data filter does (issue 16)
    assert _mode(place / "staging" / "open") == 0o755
    assert _mode(place / "staging" / "lib" / "group-writable") == 0o644
    assert _mode(place / "staging" / "lib" / "no-owner-write") == 0o600
    assert _mode(place / "staging" / "odd") == 0o750
    assert _mode(place / "staging") == 0o755  # 0700 while tar wrote, then back


@pytest.mark.skipif(_archive_native.gnu_tar() is None, reason="GNU tar is not installed")
@pytest.mark.parametrize("hostile", ["dot-dot", "device", "symlink-out"])
def test_overlapped_tar_is_stopped_and_the_staging_emptied_when_a_check_fails(place, hostile):
    """The member the scan refuses comes after megabytes tar may already have written: nothing stays."""
    bad = {"dot-dot": _file("../outside/evil", b"evil"),
           "device": _special("./lib/disk", tarfile.CHRTYPE),
           "symlink-out": _link("./lib/out", "../../outside")}[hostile]
    archive = _build(place / "archives" / "hostile.tar", _big_members(hostile=bad), mode="w")
    staging = place / "staging"
    staging.mkdir()
    before = _tree(place / "outside")
    runner = CommandRunner()
    with pytest.raises(AppenvError) as caught:
        _archive.safe_extract(str(archive), str(staging), runner=runner, overlap=True)
    assert caught.value.code == "archive_unsafe"
    assert os.listdir(str(staging)) == [] and _mode(staging) == 0o755
    assert _tree(place / "outside") == before
    assert [os.path.basename(command["argv"][0]) for command in runner.history] == ["tar"]


@pytest.mark.skipif(_archive_native.gnu_tar() is None, reason="GNU tar is not installed")
def test_overlapped_tar_that_fails_is_an_oserror_and_leaves_the_staging_empty(place):
    archive = _build(place / "archives" / "big.tar", _big_members(), mode="w")
    staging = place / "staging"
    staging.mkdir()
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, limit[1]))  # tar inherits it; this process ignores SIGXFSZ
    try:
        with pytest.raises(OSError) as caught:
            _archive.safe_extract(str(archive), str(staging), overlap=True)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
    assert "tar" in str(caught.value)
    assert os.listdir(str(staging)) == []


@pytest.mark.skipif(_archive_native.gnu_tar() is None, reason="GNU tar is not installed")
def test_after_tar_sets_again_only_the_directory_mtimes_tar_left_wrong(place, monkeypatch):
    """A venv has thousands of directories: their mtimes are checked, and only a wrong one is written again."""
    archive = _build(place / "archives" / "python.tar", _plain_members(), mode="w")
    dest = place / "by-tar"
    dest.mkdir()
    raw, _stream, _fmt = _archive._open_stream(str(archive))
    with raw:
        guard = _archive._Guard(raw, 1 << 30)
        entries, _total = _archive._scan(tarfile.TarFile(fileobj=guard, mode="r"), guard, str(dest),
                                         os.path.getsize(str(archive)), "tar", 1 << 30, 1000, None, True)
        _archive_native._extract_native(CommandRunner(), _archive_native.gnu_tar(), raw, "tar", str(dest), [])
    os.utime(str(dest / "python" / "bin"), (1, 1))  # as tar leaves the directory of a link it makes last
    written = []
    real_utime = os.utime
    monkeypatch.setattr(_archive_native.os, "utime", lambda path, times: written.append(path) or real_utime(path, times))
    counts = _archive_native._after_tar(str(dest), entries)
    assert written == [os.path.join(str(dest), "python/bin")]
    assert counts["directories"] == len([entry for entry in entries if entry[2] == "dir"])
    for member, rel, kind, _target in entries:
        if kind == "dir":
            assert os.lstat(os.path.join(str(dest), rel)).st_mtime == member.mtime, rel
