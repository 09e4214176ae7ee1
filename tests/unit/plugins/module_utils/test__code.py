import os
import pwd
import stat

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _code
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner
from ansible_collections.appenv.python.plugins.plugin_utils._code_tree import list_tree, pack


def _params(tmp_path, src, send=True, **extra):
    """app_code's parameters as the action plugin makes them: the digest, and with send the listing and the tar."""
    listing = list_tree(str(src))
    params = {"src": str(src), "dest": str(tmp_path / "dest"), "owner": None, "group": None, "mode": "0644",
              "directory_mode": "0755", "state_dir": str(tmp_path / "state"), "lock_timeout": 5, "force": False,
              "_files_digest": _code.listing_digest(listing), "_listing": None, "_archive": None}
    if send:
        archive = str(tmp_path / ("code-%d.tar" % len(os.listdir(str(tmp_path)))))
        pack(str(src), listing, archive)
        params.update(_listing=listing, _archive=archive)
    params.update(extra)
    return params


def run(tmp_path, src, check_mode=False, **extra):
    """As the action plugin runs it: the digest first, then with the tree when the module asks for it."""
    runner = CommandRunner()
    first = _code.run_app_code(_params(tmp_path, src, send=check_mode, **extra), runner, check_mode=check_mode)
    if not first.get("needs_content"):
        return first
    assert not check_mode
    return _code.run_app_code(_params(tmp_path, src, **extra), runner)


def _src(tmp_path):
    src = tmp_path / "src"
    (src / "pkg" / "sub").mkdir(parents=True)
    (src / "app.py").write_text("print('app')\n")
    (src / "pkg" / "__init__.py").write_text("")
    (src / "pkg" / "sub" / "old.py").write_text("x = 1\n")
    return src


def test_written_then_kept_with_the_digest_alone_and_no_process(tmp_path):
    src = _src(tmp_path)
    first = run(tmp_path, src)
    assert (first["layer_action"], first["files"], first["commands"] if "commands" in first else []) == (
        "created", 3, [])
    dest = tmp_path / "dest"
    assert (dest / "pkg" / "sub" / "old.py").read_text() == "x = 1\n"
    assert stat.S_IMODE(os.stat(str(dest / "app.py")).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(str(dest / "pkg")).st_mode) == 0o755
    again = _code.run_app_code(_params(tmp_path, src, send=False), CommandRunner())
    assert (again["layer_action"], again["changed"], again["reasons"]) == ("kept", False, [])


def test_a_change_writes_only_what_differs_and_removes_only_what_it_wrote(tmp_path):
    src = _src(tmp_path)
    run(tmp_path, src)
    dest = tmp_path / "dest"
    (dest / "data.db").write_text("the app's")
    (dest / "pkg" / "sub" / "__pycache__").mkdir()
    untouched = os.stat(str(dest / "pkg" / "__init__.py")).st_mtime_ns
    (src / "app.py").write_text("print('app 2')\n")
    (src / "pkg" / "sub" / "old.py").unlink()
    (src / "pkg" / "sub").rmdir()
    (src / "new.py").write_text("")
    predicted = run(tmp_path, src, check_mode=True)
    real = run(tmp_path, src)
    assert predicted["layer_action"] == real["layer_action"] == "updated"
    assert predicted["reasons"] == real["reasons"] == [
        "3 file(s) of the code changed (added: new.py; changed: app.py; removed: pkg/sub/old.py)"]
    assert (dest / "app.py").read_text() == "print('app 2')\n" and (dest / "new.py").exists()
    assert os.stat(str(dest / "pkg" / "__init__.py")).st_mtime_ns == untouched
    assert not (dest / "pkg" / "sub" / "old.py").exists()
    assert (dest / "pkg" / "sub" / "__pycache__").is_dir()  # not the code's: its directory stays
    assert (dest / "data.db").read_text() == "the app's"
    assert run(tmp_path, src)["layer_action"] == "kept"


def test_a_file_changed_on_the_host_is_written_again_with_a_reason(tmp_path):
    src = _src(tmp_path)
    run(tmp_path, src)
    (tmp_path / "dest" / "app.py").write_text("tampered\n")
    predicted = run(tmp_path, src, check_mode=True)
    real = run(tmp_path, src)
    assert predicted["layer_action"] == real["layer_action"] == "recreated"
    assert real["reasons"] == ["the layer was changed on disk: 1 file(s) of the code were changed or removed on "
                               "the host since they were written (app.py)"]
    assert (tmp_path / "dest" / "app.py").read_text() == "print('app')\n"


def test_the_module_asks_for_the_tree_and_changes_nothing_without_it(tmp_path):
    src = _src(tmp_path)
    assert _code.run_app_code(_params(tmp_path, src, send=False), CommandRunner()) == {
        "changed": False, "needs_content": True}
    assert not (tmp_path / "dest").exists() and not os.listdir(str(tmp_path / "state"))


def test_a_link_in_the_way_is_refused_and_nothing_is_written_through_it(tmp_path):
    src = _src(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "dest").mkdir()
    os.symlink(str(outside), str(tmp_path / "dest" / "pkg"))
    with pytest.raises(AppenvError) as caught:
        run(tmp_path, src)
    assert caught.value.code == "code_link_in_the_way" and caught.value.fields["path"].endswith("dest/pkg")
    assert os.listdir(str(outside)) == []


def test_an_archive_that_does_not_match_the_listing_is_refused_and_not_recorded(tmp_path):
    src = _src(tmp_path)
    params = _params(tmp_path, src)
    listing = dict(params["_listing"], **{"app.py": "0" * 64})
    with pytest.raises(AppenvError) as caught:
        _code.run_app_code(dict(params, _listing=listing, _files_digest=_code.listing_digest(listing)), CommandRunner())
    assert caught.value.code == "code_archive_mismatch"
    assert not (tmp_path / "dest" / "app.py").exists()
    assert [name for name in os.listdir(str(tmp_path / "dest")) if "appenv-code-tmp" in name] == []
    assert run(tmp_path, src)["layer_action"] == "created"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_as_root_the_files_belong_to_owner_and_a_mode_change_rewrites(tmp_path):
    src = _src(tmp_path)
    nobody = pwd.getpwnam("nobody")
    result = run(tmp_path, src, owner="nobody")
    info = os.stat(str(tmp_path / "dest" / "pkg" / "__init__.py"))
    assert (result["layer_action"], info.st_uid, info.st_gid) == ("created", nobody.pw_uid, nobody.pw_gid)
    assert os.stat(str(tmp_path / "dest" / "pkg")).st_uid == nobody.pw_uid
    changed = run(tmp_path, src, owner="nobody", mode="0640")
    assert changed["layer_action"] == "recreated" and changed["reasons"] == ["mode changed from 0644 to 0640"]
    assert stat.S_IMODE(os.stat(str(tmp_path / "dest" / "app.py")).st_mode) == 0o640


def test_an_unknown_owner_is_a_bad_argument_and_check_mode_predicts_a_write(tmp_path):
    src = _src(tmp_path)
    with pytest.raises(AppenvError) as caught:
        run(tmp_path, src, owner="no-such-user-here")
    assert caught.value.code == "bad_argument" and "no-such-user-here" in caught.value.cause
    assert run(tmp_path, src, check_mode=True, owner="no-such-user-here")["layer_action"] == "created"


def test_diff_lists_the_files_before_and_after(tmp_path):
    src = _src(tmp_path)
    run(tmp_path, src)
    (src / "new.py").write_text("")
    result = _code.run_app_code(_params(tmp_path, src), CommandRunner(), check_mode=True, diff=True)
    assert "new.py" not in result["diff"]["before"] and "new.py " in result["diff"]["after"]
    assert result["diff"]["before"].splitlines()[0].startswith("app.py ")


def test_a_file_touched_on_the_host_with_the_same_content_is_kept(tmp_path):
    src = _src(tmp_path)
    run(tmp_path, src)
    os.utime(str(tmp_path / "dest" / "app.py"), (1, 1))
    assert run(tmp_path, src, check_mode=True)["layer_action"] == "kept"
    assert run(tmp_path, src)["layer_action"] == "kept"
    assert os.stat(str(tmp_path / "dest" / "app.py")).st_mtime == 1  # not written again (its pycs stay valid)


def test_a_tree_of_more_directories_than_open_files_allowed_is_written_and_pruned(tmp_path):
    import resource

    src = tmp_path / "src"
    for number in range(150):
        (src / ("d%03d" % number) / "sub").mkdir(parents=True)
        (src / ("d%03d" % number) / "sub" / "m.py").write_text("")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    try:
        assert run(tmp_path, src)["files"] == 150
        for number in range(150):
            (src / ("d%03d" % number) / "sub" / "m.py").unlink()
            (src / ("d%03d" % number) / "sub").rmdir()
        assert run(tmp_path, src)["layer_action"] == "updated"
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert sorted(os.listdir(str(tmp_path / "dest" / "d149"))) == []


def test_the_parent_of_dest_is_made_when_missing(tmp_path):
    src = _src(tmp_path)
    params = _params(tmp_path, src, dest=str(tmp_path / "srv" / "deep" / "app"))
    assert _code.run_app_code(params, CommandRunner())["layer_action"] == "created"
    assert (tmp_path / "srv" / "deep" / "app" / "app.py").exists()
