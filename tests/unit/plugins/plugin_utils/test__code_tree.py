import os
import tarfile

import pytest

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.plugin_utils._code_tree import list_tree, pack


def _tree(tmp_path):
    src = tmp_path / "src"
    (src / "pkg" / "__pycache__").mkdir(parents=True)
    (src / "empty").mkdir()
    (src / "app.py").write_text("print('app')\n")
    (src / "pkg" / "__init__.py").write_text("")
    (src / "pkg" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (src / "stale.pyc").write_bytes(b"\0")
    os.symlink("app.py", str(src / "alias.py"))
    return src


def test_the_listing_has_files_with_their_sha256_and_directories_without_bytecode(tmp_path):
    listing = list_tree(str(_tree(tmp_path)))
    assert sorted(listing) == ["alias.py", "app.py", "empty", "pkg", "pkg/__init__.py"]
    assert listing["empty"] is None and listing["pkg"] is None
    assert listing["alias.py"] == listing["app.py"] and len(listing["app.py"]) == 64


@pytest.mark.parametrize("link", ["dir", "outside", "dangling"])
def test_a_link_to_a_directory_or_out_of_the_tree_is_refused_with_the_fix(tmp_path, link):
    src = _tree(tmp_path)
    (tmp_path / "secret").write_text("x")
    target = {"dir": "pkg", "outside": str(tmp_path / "secret"), "dangling": "nowhere"}[link]
    os.symlink(target, str(src / "link"))
    with pytest.raises(AppenvError) as caught:
        list_tree(str(src))
    assert caught.value.code == "code_src_link" and str(src / "link") in caught.value.title


def test_a_missing_src_is_a_bad_argument(tmp_path):
    with pytest.raises(AppenvError) as caught:
        list_tree(str(tmp_path / "nope"))
    assert caught.value.code == "bad_argument"


def test_the_pack_holds_the_listed_entries_only_links_as_files(tmp_path):
    src = _tree(tmp_path)
    listing = list_tree(str(src))
    archive = str(tmp_path / "code.tar")
    pack(str(src), listing, archive)
    with tarfile.open(archive) as tar:
        members = {member.name: member for member in tar}
        assert sorted(members) == sorted(listing)
        assert members["alias.py"].isfile() and tar.extractfile("alias.py").read() == b"print('app')\n"
        assert members["empty"].isdir() and members["app.py"].uid == 0
