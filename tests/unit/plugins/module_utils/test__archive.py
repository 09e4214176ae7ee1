"""Safe extraction against hostile tarballs built on the spot: nothing may land outside (or inside) dest."""

import errno
import gzip
import hashlib
import io
import os
import stat
import tarfile

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _archive, _archive_checks
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

MTIME = 1500000000


def _file(name, data=b"payload\n", mode=0o644):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, MTIME
    return info, data


def _dir(name, mode=0o755):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, MTIME
    return info, None


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mtime, info.mode = kind, target, MTIME, 0o777
    return info, None


def _special(name, kind):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.devmajor, info.devminor = kind, 0o666, 1, 3
    return info, None


def _build(path, members, mode="w:gz", fmt=tarfile.PAX_FORMAT):
    with tarfile.open(str(path), mode, format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _tree(root):
    found = {}
    for dirpath, dirnames, filenames in os.walk(str(root)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, str(root))] = os.lstat(path).st_mtime_ns
    return found


@pytest.fixture
def place(tmp_path):
    """tmp_path/archives holds the archive; tmp_path/outside is what an escape would hit."""
    (tmp_path / "archives").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("untouched")
    return tmp_path


def _refused(place, members, code="archive_unsafe", dest_exists=True, mode="w:gz", **limits):
    archive = _build(place / "archives" / "hostile.tar.gz", members, mode=mode)
    dest = place / "work" / "dest"
    if dest_exists:
        dest.mkdir(parents=True)
    before = _tree(place)
    with pytest.raises(AppenvError) as caught:
        _archive.safe_extract(str(archive), str(dest), **limits)
    assert caught.value.code == code, caught.value.message
    assert _tree(place) == before  # nothing outside dest, nothing inside it either
    assert not os.path.exists("/tmp/appenv-abs-evil")
    if dest_exists:
        assert os.listdir(str(dest)) == []
    else:
        assert not os.path.lexists(str(dest))
    return caught.value


HOSTILE = {
    "dot-dot": [_file("python/ok"), _file("../outside/evil")],
    "dot-dot-deep": [_file("python/a/../../../outside/evil")],
    "absolute": [_file("/tmp/appenv-abs-evil")],
    "symlink-to-etc": [_link("python/etc", "/etc")],
    "symlink-up": [_link("python/up", "../../outside")],
    "symlink-chain-dot": [_link("a", "."), _link("b", "a/..")],
    "symlink-chain-forward": [_link("s1", "s2/x"), _link("s2", "..")],
    # Each target stays inside dest when read as text; followed through the other links, it leaves.
    "symlink-chain-through-dir": [_dir("d"), _link("d/self", "."), _link("d/esc", "self/../..")],
    "symlink-loop": [_link("loop1", "loop2"), _link("loop2", "loop1")],
    "write-through-symlink": [_link("lib", "."), _file("lib/x")],
    "symlink-then-file-under-it": [_link("out", "../outside"), _file("out/evil")],
    "hardlink-outside": [_link("h", "../outside/keep", tarfile.LNKTYPE)],
    "hardlink-absolute": [_link("h", "/etc/passwd", tarfile.LNKTYPE)],
    "hardlink-not-in-archive": [_file("a"), _link("h", "b", tarfile.LNKTYPE)],
    "hardlink-to-later-member": [_link("h", "a", tarfile.LNKTYPE), _file("a")],
    "char-device": [_special("python/null", tarfile.CHRTYPE)],
    "block-device": [_special("python/sda", tarfile.BLKTYPE)],
    "fifo": [_special("python/pipe", tarfile.FIFOTYPE)],
    "unknown-type": [_special("python/socket", b"Q")],
    "duplicate": [_file("python/x"), _file("python/x", b"again")],
    "dir-then-symlink": [_dir("python"), _link("python", "../outside")],
    "under-a-file": [_file("python"), _file("python/x")],
    "file-over-parent": [_file("python/x"), _file("python")],
    "root-as-file": [_file("./")],
    # A directory whose way up was checked for one member, then made something else: the members after it in the
    # same directory are not walked up again (_scan's checked set), so the change itself must be refused.
    "checked-dir-then-symlink": [_file("a/b/c/x"), _file("a/b/c/y"), _link("a/b/c", "../../../outside"),
                                 _file("a/b/c/evil")],
    "checked-parent-then-symlink": [_file("a/b/c/x"), _link("a/b", "../../outside"), _file("a/b/c/evil")],
    "checked-dir-then-file": [_file("a/b/x"), _file("a/b", b"file"), _file("a/b/y")],
    "checked-dir-then-hardlink": [_file("f"), _file("a/b/x"), _link("a/b", "f", tarfile.LNKTYPE),
                                  _file("a/b/y")],
    "sibling-symlink-after-checked": [_file("a/b/x"), _link("a/c", "../../outside"), _file("a/c/evil")],
    "dot-components-after-checked": [_file("a/b/x"), _file("./a/b/../../../outside/evil")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_members_are_refused_before_anything_is_written(place, case):
    error = _refused(place, HOSTILE[case])
    assert "Nothing was extracted" in error.message
    assert error.fields["member"] and error.fields["why"]


@pytest.mark.parametrize("case", ["dot-dot", "symlink-to-etc", "fifo"])
def test_refusal_does_not_create_a_missing_destination(place, case):
    _refused(place, HOSTILE[case], dest_exists=False)


def test_hardlink_refusals_name_the_link_target(place):
    error = _refused(place, HOSTILE["hardlink-absolute"])
    assert error.fields["why"] == "it is a hardlink to /etc/passwd, outside the destination"


def test_refusal_names_the_member_and_why(place):
    error = _refused(place, [_file("python/ok"), _link("python/etc", "/etc")])
    assert error.fields["member"] == "python/etc"
    assert "absolute path /etc" in error.fields["why"]
    assert "hostile.tar.gz holds python/etc" in error.message


def test_a_bomb_is_refused_from_its_header_before_it_is_unpacked(place):
    # A header that claims 64 GiB: the size check fires on the header, before any data is read.
    info = tarfile.TarInfo("python/bomb")
    info.size = 64 << 30
    archive = place / "archives" / "bomb.tar.gz"
    with gzip.open(str(archive), "wb") as handle:
        handle.write(info.tobuf(tarfile.GNU_FORMAT) + b"\0" * 4096)
    dest = place / "dest"
    with pytest.raises(AppenvError) as caught:
        _archive.safe_extract(str(archive), str(dest))
    assert caught.value.code == "archive_unsafe" and "decompression bomb" in caught.value.message
    assert not dest.exists()


def test_a_zero_filled_member_above_the_limit_is_refused(place):
    error = _refused(place, [_file("python/small"), _file("python/zeros", b"\0" * (3 << 20))],
                     max_total_bytes=1 << 20)
    assert error.fields["member"] == "python/zeros"


def test_a_compression_ratio_limit_catches_zero_bombs(place):
    error = _refused(place, [_file("python/zeros", b"\0" * (8 << 20))], max_ratio=50)
    assert "times its own size" in error.message


def test_too_many_members_is_refused(place):
    _refused(place, [_file("python/f%d" % number) for number in range(10)], max_members=5)


def test_a_huge_long_name_header_is_refused(place, monkeypatch):
    monkeypatch.setattr(_archive, "_MAX_HEADER_READ", 1024)
    archive = _build(place / "archives" / "longname.tar", [_file("python/" + "n" * 3000)],
                     mode="w", fmt=tarfile.GNU_FORMAT)
    with pytest.raises(AppenvError) as caught:
        _archive.safe_extract(str(archive), str(place / "dest"))
    assert caught.value.code == "archive_unsafe"


def test_a_symlink_already_in_the_destination_is_not_followed(place):
    archive = _build(place / "archives" / "a.tar.gz", [_file("lib/evil")])
    dest = place / "dest"
    dest.mkdir()
    os.symlink(str(place / "outside"), str(dest / "lib"))
    with pytest.raises(AppenvError) as caught:
        _archive.safe_extract(str(archive), str(dest))
    assert caught.value.code == "archive_unsafe" and "already in the destination" in caught.value.message
    assert sorted(os.listdir(str(place / "outside"))) == ["keep"]

    archive = _build(place / "archives" / "b.tar.gz", [_link("alias", "lib/../../outside")])
    with pytest.raises(AppenvError):
        _archive.safe_extract(str(archive), str(dest))


# -- corrupt archives ----------------------------------------------------------

def _good_members():
    return [
        _dir("./"),
        _dir("./python"),
        _dir("./python/bin"),
        _file("./python/bin/python3.12", b"#!/bin/sh\necho 3.12\n", 0o755),
        _link("./python/bin/python3", "python3.12"),
        _link("./python/bin/python", "python3"),
        _link("./python/bin/python3.12-hard", "python/bin/python3.12", tarfile.LNKTYPE),
        _dir("./python/lib", 0o777),
        _file("./python/lib/libpython3.12.so", b"\x7fELF" + b"\0" * 5000, 0o755),
        _file("./python/lib/python3.12/os.py", b"import sys\n" * 200),
        _link("./python/share/alias", "../lib"),
        _file("./python/lib/setuid-helper", b"x", 0o4755),
        _file("./python/lib/world-writable", b"x", 0o666),
        _file("./python/lib/read-only", b"x", 0o444),
    ]


@pytest.fixture
def good_archive(place):
    return _build(place / "archives" / "python.tar.gz", _good_members())


def test_a_truncated_gzip_is_corrupt(place, good_archive):
    data = good_archive.read_bytes()
    good_archive.write_bytes(data[: len(data) // 2])
    dest = place / "dest"
    with pytest.raises(AppenvError) as caught:
        _archive.safe_extract(str(good_archive), str(dest))
    assert caught.value.code == "archive_corrupt"
    assert not dest.exists()


def test_a_gzip_crc_error_is_caught_before_extraction(place, good_archive):
    data = bytearray(good_archive.read_bytes())
    data[-8] ^= 0xFF  # the CRC32 in the gzip trailer: only reading to the end notices it
    good_archive.write_bytes(bytes(data))
    dest = place / "dest"
    dest.mkdir()
    with pytest.raises(AppenvError) as caught:
        _archive.safe_extract(str(good_archive), str(dest))
    assert caught.value.code == "archive_corrupt"
    assert os.listdir(str(dest)) == []


def test_a_plain_tar_cut_at_a_header_boundary_is_corrupt(place):
    archive = _build(place / "archives" / "cut.tar", [_file("a", b"x" * 512), _file("b", b"y" * 512)], mode="w")
    data = archive.read_bytes()
    archive.write_bytes(data[:1024])  # the first member, whole, and nothing after it
    with pytest.raises(AppenvError) as caught:
        _archive.safe_extract(str(archive), str(place / "dest"))
    assert caught.value.code == "archive_corrupt" and "cut short" in caught.value.message


def test_a_plain_tar_cut_inside_a_member_is_corrupt(place):
    archive = _build(place / "archives" / "cut.tar", [_file("a", b"x" * 4096), _file("b")], mode="w")
    archive.write_bytes(archive.read_bytes()[:2048])
    with pytest.raises(AppenvError) as caught:
        _archive.safe_extract(str(archive), str(place / "dest"))
    assert caught.value.code == "archive_corrupt"
    assert not (place / "dest").exists()


@pytest.mark.parametrize("content", [b"", b"<html>502 Bad Gateway</html>\n" * 40, b"\x1f\x8bnot really gzip"],
                         ids=["empty", "html", "bad-gzip"])
def test_something_that_is_not_an_archive_is_corrupt(place, content):
    archive = place / "archives" / "x.tar.gz"
    archive.write_bytes(content)
    with pytest.raises(AppenvError) as caught:
        _archive.safe_extract(str(archive), str(place / "dest"))
    assert caught.value.code == "archive_corrupt"


def test_a_missing_archive_is_a_clear_error(place):
    with pytest.raises(AppenvError) as caught:
        _archive.safe_extract(str(place / "archives" / "nope.tar.gz"), str(place / "dest"))
    assert caught.value.code == "archive_corrupt" and "cannot be opened" in caught.value.message


@pytest.mark.skipif(_archive.zstd is not None, reason="this Python reads zstd")
def test_zstd_without_stdlib_support_is_unsupported_not_corrupt(place):
    archive = place / "archives" / "x.tar.zst"
    archive.write_bytes(b"\x28\xb5\x2f\xfd" + b"\0" * 64)
    with pytest.raises(AppenvError) as caught:
        _archive.safe_extract(str(archive), str(place / "dest"))
    assert caught.value.code == "archive_unsupported" and "zstd" in caught.value.message


# -- good archives ---------------------------------------------------------------

def _mode(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


@pytest.mark.parametrize("mode", ["w:gz", "w:xz", "w:bz2", "w"])
def test_a_good_archive_extracts_with_links_modes_and_mtimes(place, mode):
    archive = _build(place / "archives" / "python.tar", _good_members(), mode=mode)
    dest = place / "work" / "extract"  # a missing parent is created
    result = _archive.safe_extract(str(archive), str(dest))
    top = dest / "python"
    assert (top / "bin" / "python3.12").read_bytes() == b"#!/bin/sh\necho 3.12\n"
    assert _mode(top / "bin" / "python3.12") == 0o755
    assert os.readlink(str(top / "bin" / "python3")) == "python3.12"
    assert os.readlink(str(top / "bin" / "python")) == "python3"
    assert (top / "bin" / "python").read_bytes() == (top / "bin" / "python3.12").read_bytes()
    assert os.path.samefile(str(top / "bin" / "python3.12-hard"), str(top / "bin" / "python3.12"))
    assert os.readlink(str(top / "share" / "alias")) == "../lib"
    assert (top / "share" / "alias" / "python3.12" / "os.py").is_file()
    assert _mode(top / "lib" / "setuid-helper") == 0o755  # setuid stripped, exec bit kept
    # modes normalised as tarfile's data filter does: no group/other write, owner read-write (issue 16)
    assert _mode(top / "lib" / "world-writable") == 0o644
    assert _mode(top / "lib" / "read-only") == 0o644
    assert _mode(top / "lib") == 0o755
    assert _mode(top / "share") == 0o755  # implied by a member, never listed
    for path in (top / "bin" / "python3.12", top / "lib" / "python3.12" / "os.py", top / "lib", top / "bin"):
        assert os.stat(str(path)).st_mtime == MTIME, path
    assert os.lstat(str(top / "bin" / "python3")).st_mtime == MTIME
    assert result["files"] == 7 and result["symlinks"] == 3
    assert result["bytes"] == sum(info.size for info, _data in _good_members() if info.isreg())


def test_extraction_into_an_existing_directory_keeps_what_is_there(place, good_archive):
    dest = place / "dest"
    (dest / "python" / "bin").mkdir(parents=True)
    (dest / "unrelated").write_text("mine")
    (dest / "python" / "bin" / "python3.12").write_text("an older file")
    _archive.safe_extract(str(good_archive), str(dest))
    assert (dest / "unrelated").read_text() == "mine"
    assert (dest / "python" / "bin" / "python3.12").read_bytes().startswith(b"#!/bin/sh")


def test_a_layer_cache_style_archive_round_trips(place):
    source = place / "layer"
    (source / "bin").mkdir(parents=True)
    (source / "bin" / "tool").write_text("#!/bin/sh\n")
    os.chmod(str(source / "bin" / "tool"), 0o750)
    os.symlink("tool", str(source / "bin" / "tool-link"))
    archive = place / "archives" / "layer.tar.gz"
    with tarfile.open(str(archive), "w:gz") as tar:
        for name in sorted(os.listdir(str(source))):
            tar.add(str(source / name), arcname=name)
    dest = place / "restored"
    dest.mkdir()
    _archive.safe_extract(str(archive), str(dest))
    assert _mode(dest / "bin" / "tool") == 0o750
    assert os.readlink(str(dest / "bin" / "tool-link")) == "tool"


def test_a_failure_half_way_removes_what_was_written(place, good_archive, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_archive.os, "symlink", no_space)
    dest = place / "work" / "dest"
    before = _tree(place)
    with pytest.raises(OSError) as caught:
        _archive.safe_extract(str(good_archive), str(dest))
    assert caught.value.errno == errno.ENOSPC  # the layer engine names it (layer_no_space)
    assert _tree(place) == before


# -- hardening (issue 16) ------------------------------------------------------

def test_an_archive_checked_through_its_open_file_is_the_one_extracted_even_if_the_path_is_swapped(place):
    good = _build(place / "archives" / "good.tar.gz", [_dir("./python"), _file("./python/ok", b"good\n")])
    evil = _build(place / "archives" / "evil.tar.gz", [_dir("./python"), _file("./python/ok", b"evil\n")])
    handle, digest = _archive.open_checked(str(good))
    with handle:
        assert digest == hashlib.sha256(good.read_bytes()).hexdigest()
        os.rename(str(evil), str(good))  # the swap, between the check and the extraction
        handle.read(7)  # the caller's offset does not matter: extraction reads from the start
        _archive.safe_extract(handle, str(place / "dest"))
        assert not handle.closed  # the caller's file stays the caller's
    assert (place / "dest" / "python" / "ok").read_bytes() == b"good\n"


def test_refusal_names_what_safe_extract_would_refuse(place):
    members = [_dir("./d")] + [_file("./d/f%d" % index, b"x" * 100) for index in range(5)]
    archive = _build(place / "archives" / "five.tar.gz", members)
    assert _archive.refusal(500, 6, max_total_bytes=500, max_members=6) is None
    assert "more than the limit of 5" in _archive.refusal(500, 6, max_total_bytes=500, max_members=5)
    assert "more than the limit of 499" in _archive.refusal(500, 6, max_total_bytes=499, max_members=6)
    for limits in (dict(max_total_bytes=500, max_members=5), dict(max_total_bytes=499, max_members=6)):
        with pytest.raises(AppenvError) as info:  # what refusal names, safe_extract refuses
            _archive.safe_extract(str(archive), str(place / "dest"), **limits)
        assert info.value.code == "archive_unsafe"
    _archive.safe_extract(str(archive), str(place / "dest"), max_total_bytes=500, max_members=6)


# -- reading the headers: as tarfile reads them, faster -------------------------------------

_FIELDS = ("name", "mode", "uid", "gid", "size", "mtime", "chksum", "type", "linkname", "uname", "gname", "devmajor",
           "devminor")


def _read_header(cls, buf, **kwargs):
    """What cls.frombuf (with kwargs: cls._frombuf, where tarfile has it) makes of buf: its fields, or the class
    of what it raised."""
    try:
        info = (cls._frombuf if kwargs else cls.frombuf)(buf, "utf-8", "surrogateescape", **kwargs)
    except Exception as exc:  # pylint: disable=broad-except
        return type(exc)
    return tuple(getattr(info, field) for field in _FIELDS)


def _headers():
    """Real headers of every kind and format tarfile writes, and headers made wrong in the ways a reader must catch."""
    members = [_file("./a/file"), _dir("./a/dir/"), _link("./a/sym", "../x"), _link("./a/hard", "./a/file", tarfile.LNKTYPE),
               _special("./a/fifo", tarfile.FIFOTYPE), _file("./" + "long/" * 30 + "name"), _file("./é-non-ascii"),
               _file("./big", mode=0o4755)]
    headers = []
    for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        for info, _data in members:
            try:
                headers.append(info.tobuf(fmt, "utf-8", "surrogateescape")[:tarfile.BLOCKSIZE])
            except ValueError:
                continue  # a name this format cannot hold
    base = headers[0]

    def resum(buf, signed=False):
        buf = bytearray(buf)
        buf[148:156] = b" " * 8
        total = sum(buf) if not signed else sum(byte - 256 if byte > 127 else byte for byte in buf)
        buf[148:156] = b"%06o\0 " % (total & 0o7777777)
        return bytes(buf)

    wrong = [b"\0" * 512, base[:511], b"", base[:148] + b"0000000\0" + base[156:],
             base[:100] + b"\x80\0\0\0\0\0\1\xed" + base[108:],  # a base-256 mode
             base[:124] + b"12345678901x" + base[136:],  # not octal
             base[:156] + b"S" + base[157:],  # old GNU sparse
             base[:100] + b" 755 \0\0\0" + base[108:], base[:100] + b"\t0755\0\0\0" + base[108:],
             base[:345] + b"pre/fix" + base[352:], base[:156] + b"\0" + base[157:]]
    wrong += [resum(buf) for buf in wrong[3:]]
    wrong += [resum(base[:20] + b"\xff\xfe" + base[22:], signed=True),
              resum(headers[1][:156] + b"\0" + headers[1][157:])]  # a V7 directory
    seed = 1
    for _round in range(400):  # flipped bytes, the checksum made right again (and left wrong)
        seed = (seed * 1103515245 + 12345) % (1 << 31)
        buf = bytearray(headers[seed % len(headers)])
        buf[seed % 512] = (seed >> 8) % 256
        wrong += [bytes(buf), resum(bytes(buf))]
    return headers + wrong


def _slow_normalise(name):
    parts = [part for part in name.split("/") if part not in ("", ".")]
    return None if ".." in parts else "/".join(parts)


@pytest.mark.parametrize("name", ["a/b/c", "a", "", ".", "./", "./a/b", "a/./b", "a//b", "a/b/", "a/.hidden/x",
                                  ".hidden", "a/..", "../a", "a/../b", "a/...", "...", "a/b.c/d.e", "a/.",
                                  "a/b/../../..", "a/b./c", "a/.b./c"])
def test_a_name_is_normalised_as_component_by_component(name):
    try:
        got = _archive_checks._normalise(name, name)
    except _archive_checks._Unsafe:
        got = None
    assert got == _slow_normalise(name)


def test_headers_are_read_exactly_as_tarfile_reads_them():
    for buf in _headers():
        assert _read_header(_archive._TarInfo, buf) == _read_header(tarfile.TarInfo, buf), buf
    if hasattr(tarfile.TarInfo, "_frombuf"):  # a Python with the tarfile fixes: how it reads every header
        for buf in _headers():
            for dircheck in (True, False):
                assert _read_header(_archive._TarInfo, buf, dircheck=dircheck) == \
                    _read_header(tarfile.TarInfo, buf, dircheck=dircheck), buf


def test_the_fast_header_path_is_the_one_tarfile_takes(place, monkeypatch):
    """Whichever of frombuf and _frombuf this Python's tarfile calls, a good header is never summed in Python
    (a Python with the tarfile fixes, such as Debian bookworm's 3.11, calls _frombuf: only frombuf was overridden)."""
    archive = _build(place / "archives" / "good.tar", _good_members(), mode="w")

    def summed_in_python(buf):
        raise AssertionError("a header was summed by tarfile.calc_chksums")

    monkeypatch.setattr(tarfile, "calc_chksums", summed_in_python)
    with tarfile.open(str(archive), tarinfo=_archive._TarInfo) as tar:
        assert [member.name for member in tar.getmembers()]


def test_the_header_checksum_in_c_is_tarfile_s_unsigned_one():
    for buf in (b"\xff" * 512, b"\0" * 512, os.urandom(512), bytes(range(256)) * 2, b"\x7f" * 512):
        assert _archive._header_sum(buf) == tarfile.calc_chksums(buf)[0]


def test_the_guard_keeps_the_position_of_the_stream_it_reads(place):
    archive = _build(place / "archives" / "good.tar", _good_members(), mode="w")
    with open(str(archive), "rb") as raw:
        guard = _archive._Guard(raw, 1 << 30)
        guard.read(700)
        assert guard.tell() == raw.tell() == 700
        guard.seek(100, os.SEEK_CUR)
        assert guard.tell() == raw.tell() == 800
        guard.seek(0, os.SEEK_END)
        assert guard.tell() == raw.tell() == os.path.getsize(str(archive))
    with open(str(archive), "rb") as raw:
        guard = _archive._Guard(raw, 600)
        with pytest.raises(_archive._Unsafe):
            guard.read(700)
