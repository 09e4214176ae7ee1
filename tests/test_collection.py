"""The collection builds, installs, and every module's documentation renders with ansible-doc."""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.collection_path import REPO_ROOT

BIN = Path(sys.executable).parent
MODULES = sorted(path.stem for path in (REPO_ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(REPO_ROOT)],
                   check=True, capture_output=True, text=True)
    tarball = next(out.glob("appenv-python-*.tar.gz"))
    target = tmp_path_factory.mktemp("collections")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target))
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--force", "-p", str(target), str(tarball)],
                   check=True, capture_output=True, text=True, env=env)
    assert (target / "ansible_collections" / "appenv" / "python" / "MANIFEST.json").is_file()
    return tarball, target


def test_tarball_holds_the_collection_and_nothing_else(installed):
    tarball, _target = installed
    with tarfile.open(tarball) as tar:
        members = tar.getmembers()
    names = [member.name for member in members]
    assert "galaxy.yml" not in names and "MANIFEST.json" in names
    assert "plugins/module_utils/_layer.py" in names
    for banned in (".venv/", ".build/", ".cache/", "tests/output/", ".git/", "bench/results/"):
        assert not [name for name in names if name.startswith(banned)], banned
    assert max(member.size for member in members) < 5 * 1024 * 1024


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders(installed, module):
    _tarball, target = installed
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(BIN / "ansible-doc"), "-t", "module", "appenv.python." + module], env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "appenv.python." + module in proc.stdout and "OPTIONS" in proc.stdout


def test_ansible_doc_lists_every_module(installed):
    _tarball, target = installed
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(BIN / "ansible-doc"), "-t", "module", "--list", "appenv.python"], env=env,
                          capture_output=True, text=True, check=True)
    for module in MODULES:
        assert "appenv.python." + module in proc.stdout
