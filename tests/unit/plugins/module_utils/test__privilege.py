"""What root may execute, follow or write through (sshd's StrictModes), checked in-process.

The ownership cases need root (chown to another uid): the unit tests run as root in the test bed; elsewhere
they are skipped, and the hostile-user suite (tests/integration/security) runs them on real hosts anyway.
"""

import os
import stat
import sys

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _privilege
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

OTHER = 65534  # nobody
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


def fake_venv(root):
    """root/venv: bin/python (a link to this python), pyvenv.cfg, lib/python3.X/site-packages/a.pth."""
    venv = root / "venv"
    site = venv / "lib" / ("python%d.%d" % sys.version_info[:2]) / "site-packages"
    site.mkdir(parents=True)
    (venv / "bin").mkdir()
    os.symlink(os.path.realpath(sys.executable), str(venv / "bin" / "python"))
    (venv / "pyvenv.cfg").write_text("home = %s\n" % os.path.dirname(os.path.realpath(sys.executable)))
    (site / "a.pth").write_text("import os\n")
    for path in (root, venv, venv / "bin", venv / "lib", site.parent, site):
        os.chmod(str(path), 0o755)
    return venv, site


def test_unsafe_reason_owner_and_modes():
    def info(uid, mode):
        return os.stat_result((mode, 0, 0, 1, uid, 0, 0, 0, 0, 0))

    assert _privilege.unsafe_reason(info(0, stat.S_IFDIR | 0o755), uid=0) is None
    assert _privilege.unsafe_reason(info(OTHER, stat.S_IFDIR | 0o755), uid=0).startswith("owned by ")
    assert "others" in _privilege.unsafe_reason(info(0, stat.S_IFDIR | 0o757), uid=0)
    assert "group" in _privilege.unsafe_reason(info(0, stat.S_IFREG | 0o664), uid=0)
    # /tmp: passed through on the way down, never written into.
    assert _privilege.unsafe_reason(info(0, stat.S_IFDIR | 0o1777), uid=0, passable=True) is None
    assert _privilege.unsafe_reason(info(0, stat.S_IFDIR | 0o1777), uid=0) is not None
    # The running user's own files are its business.
    assert _privilege.unsafe_reason(info(1000, stat.S_IFDIR | 0o755), uid=1000) is None


@needs_root
def test_root_owned_venv_passes(tmp_path):
    os.chmod(str(tmp_path), 0o755)
    venv, _site = fake_venv(tmp_path)
    _privilege.check_interpreter(str(venv / "bin" / "python"))


@needs_root
@pytest.mark.parametrize("planted", ["pth", "site", "venv", "cfg", "group-writable-pth"])
def test_venv_another_user_can_write_is_refused(tmp_path, planted):
    os.chmod(str(tmp_path), 0o755)
    venv, site = fake_venv(tmp_path)
    target = {"pth": site / "a.pth", "site": site, "venv": venv, "cfg": venv / "pyvenv.cfg",
              "group-writable-pth": site / "a.pth"}[planted]
    if planted == "group-writable-pth":
        os.chmod(str(target), 0o664)
    else:
        os.chown(str(target), OTHER, -1)
    with pytest.raises(AppenvError) as caught:
        _privilege.check_interpreter(str(venv / "bin" / "python"))
    assert caught.value.code == "unsafe_path"
    assert caught.value.fields["path"] == str(target)
    assert str(target) in caught.value.title or str(target) in caught.value.cause
    assert caught.value.fields["owner"] == ("nobody" if planted != "group-writable-pth" else "root")


@needs_root
def test_link_to_a_directory_another_user_owns_is_refused(tmp_path):
    os.chmod(str(tmp_path), 0o755)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "python").write_text("")
    os.chown(str(theirs), OTHER, -1)
    os.symlink(str(theirs / "python"), str(tmp_path / "python"))
    with pytest.raises(AppenvError) as caught:
        _privilege.check_chain(str(tmp_path / "python"), "run it")
    assert caught.value.fields["path"] == str(theirs)


@needs_root
def test_tree_under_a_directory_another_user_owns_is_refused(tmp_path):
    os.chmod(str(tmp_path), 0o755)
    (tmp_path / "app" / "code").mkdir(parents=True)
    os.chown(str(tmp_path / "app"), OTHER, -1)
    with pytest.raises(AppenvError) as caught:
        _privilege.check_tree(str(tmp_path / "app" / "code"), "compile it")
    assert caught.value.fields["path"] == str(tmp_path / "app")
    assert "owned by nobody" in caught.value.cause


@needs_root
def test_private_state_dir_is_0700_and_never_a_link(tmp_path):
    state = tmp_path / "state" / "pyc"
    assert _privilege.make_private_dir(str(state)) == str(state)
    assert stat.S_IMODE(os.stat(str(state)).st_mode) == 0o700
    os.chmod(str(state), 0o755)
    _privilege.make_private_dir(str(state))
    assert stat.S_IMODE(os.stat(str(state)).st_mode) == 0o700
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(str(elsewhere), str(tmp_path / "linked"))
    with pytest.raises(AppenvError) as caught:
        _privilege.make_private_dir(str(tmp_path / "linked"))
    assert caught.value.code == "unsafe_path"
    os.chown(str(elsewhere), OTHER, -1)
    with pytest.raises(AppenvError):
        _privilege.make_private_dir(str(elsewhere))
