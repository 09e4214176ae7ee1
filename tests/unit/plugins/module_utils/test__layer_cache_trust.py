"""What an entry must be to be restored (bound to the request), and where a layer cache may live."""

import hashlib
import os

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _layer_cache_trust as trust
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

KEY = "ab" * 32


class Spec:
    kind = "toy"
    overlay = False
    wanted = {"v": "1"}

    def __init__(self, overlay=False, expected=None, problems=()):
        self.overlay = overlay
        self.expected = expected
        self.problems = list(problems)

    def overlay_root(self):
        return "/srv"

    def overlay_unexpected(self, files):
        return [rel for rel in files if self.expected is not None and rel not in self.expected]

    def verify(self, record):
        return self.problems


def meta(key=KEY, kind="toy", files=None):
    record = {"kind": kind, "inputs": {"v": "1"}, "facts": {}}
    if files is not None:
        record["facts"]["overlay"] = {"files": files}
    return {"key": key, "kind": kind, "record": record}


def test_the_entry_must_be_for_the_key_and_layer_asked_for():
    assert trust.refusal(Spec(), KEY, meta()) is None
    assert "renamed into place" in trust.refusal(Spec(), KEY, meta(key="cd" * 32))
    assert "renamed into place" in trust.refusal(None, KEY, meta(key="cd" * 32))  # checked on every lookup
    assert "not a toy layer" in trust.refusal(Spec(), KEY, meta(kind="python_runtime"))
    assert "not a fingerprint record" in trust.refusal(Spec(), KEY, dict(meta(), record=None))
    assert "not a fingerprint record" in trust.refusal(Spec(), KEY, dict(meta(), record={"inputs": "x"}))


@pytest.mark.parametrize("rel", ["../../etc/profile.d/x.sh", "/etc/passwd", "a/../../b", "a//b", "./a", "",
                                 ".appenv-overlay-1.old/x", "a\\..\\b", None, 3])
def test_overlay_paths_outside_the_root_are_refused(rel):
    assert "outside /srv" in trust.refusal(Spec(overlay=True), KEY, meta(files=["pkg/__pycache__/a.pyc", rel]))


def test_overlay_files_must_be_files_this_host_would_make():
    spec = Spec(overlay=True, expected={"pkg/__pycache__/a.pyc"})
    assert trust.refusal(spec, KEY, meta(files=["pkg/__pycache__/a.pyc"])) is None
    assert "would not make (etc/x.pth)" in trust.refusal(spec, KEY, meta(files=["pkg/__pycache__/a.pyc", "etc/x.pth"]))
    assert "lists no overlay files" in trust.refusal(spec, KEY, meta())


def test_restored_layer_has_this_hosts_inputs_and_verifies():
    assert trust.restored_problems(Spec(), {"inputs": {"v": "1"}}) == []
    assert trust.restored_problems(Spec(), {"inputs": {"v": "2"}}) == ["its inputs are not this layer's (v)"]
    assert trust.restored_problems(Spec(problems=["bin/python is missing"]), {"inputs": {"v": "1"}}) == [
        "bin/python is missing"]


def test_directories_other_users_can_write_are_refused(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o755)
    os.chmod(cache, 0o755)
    assert trust.writable_by_others(str(cache)) is None
    trust.check_directory(str(cache), False, "python_runtime")
    for mode in (0o777, 0o1777, 0o703):
        os.chmod(cache, mode)
        assert "every user can write" in trust.writable_by_others(str(cache))
        with pytest.raises(AppenvError) as raised:
            trust.check_directory(str(cache), False, "python_runtime")
        assert raised.value.code == "layer_cache_shared_writable" and str(cache) in raised.value.cause
        trust.check_directory(str(cache), True, "python_runtime")  # allowed on purpose
    os.chmod(cache, 0o755)
    link = tmp_path / "link"
    link.symlink_to(cache)
    assert "symbolic link" in trust.writable_by_others(str(link))
    assert trust.writable_by_others(str(tmp_path / "missing")) is None  # made later, by this user
    trust.check_directory(str(tmp_path / "missing"), False, "python_runtime")


def test_group_writable_only_for_root_or_a_private_group(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    os.chmod(cache, 0o775)
    st = os.lstat(str(cache))
    monkeypatch.setattr(trust, "_private_group", lambda gid: False)
    shared = trust.writable_by_others(str(cache))
    assert (shared is None) == (st.st_gid == 0)
    monkeypatch.setattr(trust, "_private_group", lambda gid: True)
    assert trust.writable_by_others(str(cache)) is None


@pytest.mark.parametrize("url, refused", [
    ("http://user:token@cache.example/appenv/", True),
    ("http://token@cache.example:8080/appenv/", True),
    ("http://cache.example/appenv/", False),
    ("https://user:token@cache.example/appenv/", False),
    ("http://user:token@127.0.0.1:8080/cache/", False),
    ("http://user:token@localhost/cache/", False),
    ("http://user:token@[::1]:81/cache/", False),
])
def test_cleartext_credentials(url, refused):
    assert trust.cleartext_credentials(url) is refused
    if refused:
        with pytest.raises(AppenvError) as raised:
            trust.check_url(url, False, "python_runtime")
        assert raised.value.code == "layer_cache_cleartext_credentials" and "token" not in raised.value.message
        trust.check_url(url, True, "python_runtime")


def test_archive_hashed_and_extracted_from_one_open_file(tmp_path):
    archive = tmp_path / "entry.tar"
    archive.write_bytes(b"first" * 1000)
    opened = trust.open_archive(str(archive))
    try:
        # Replacing the file at its path changes nothing for the open one: both the digest and the
        # bytes read through opened.path are the first file's.
        replacement = tmp_path / "other"
        replacement.write_bytes(b"second")
        os.rename(str(replacement), str(archive))
        with open(opened.path, "rb") as handle:
            assert handle.read() == b"first" * 1000
        assert opened.sha256() == hashlib.sha256(b"first" * 1000).hexdigest()
    finally:
        opened.close()
    link = tmp_path / "link.tar"
    link.symlink_to(archive)
    with pytest.raises(OSError):
        trust.open_archive(str(link))
    with pytest.raises(OSError):
        trust.open_archive(str(tmp_path))
