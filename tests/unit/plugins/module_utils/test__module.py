import os

import pytest

from ansible_collections.appenv.python.plugins.module_utils._module import restrict_umask


@pytest.fixture
def umask():
    saved = os.umask(0o022)
    yield
    os.umask(saved)


@pytest.mark.parametrize("host_umask, expected", [(0o000, 0o022), (0o002, 0o022), (0o022, 0o022),
                                                  (0o027, 0o027), (0o077, 0o077)])
def test_umask_never_lets_group_or_others_write(umask, host_umask, expected):
    os.umask(host_umask)
    assert restrict_umask() == expected
    assert os.umask(expected) == expected


def test_files_made_after_it_are_not_world_writable(umask, tmp_path):
    os.umask(0)
    restrict_umask()
    (tmp_path / "made").write_text("x")
    os.mkdir(str(tmp_path / "dir"), 0o777)
    assert oct((tmp_path / "made").stat().st_mode & 0o777) == oct(0o644)
    assert oct((tmp_path / "dir").stat().st_mode & 0o777) == oct(0o755)
