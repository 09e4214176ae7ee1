"""The examples users start from: the execution environment definition (ansible-builder) and the Packer template."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.collection_path import REPO_ROOT

BIN = Path(sys.executable).parent
EE_DIR = REPO_ROOT / "examples" / "execution-environment"
PACKER_DIR = REPO_ROOT / "examples" / "packer"


def test_collection_metadata_names_its_dependencies_for_ansible_builder():
    meta = yaml.safe_load((REPO_ROOT / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
    for name in meta["dependencies"].values():
        assert (REPO_ROOT / name).is_file(), name


def test_ansible_builder_create_puts_our_dependencies_in_the_build_context(tmp_path):
    """ansible-builder create on examples/execution-environment: the context it generates installs the collection
    from the tarball and, from the collection's meta/execution-environment.yml, packaging and tar/gzip/xz/zstd."""
    work = tmp_path / "ee"
    shutil.copytree(EE_DIR, work)
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(work), str(REPO_ROOT)],
                   check=True, capture_output=True, text=True)
    proc = subprocess.run([str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml",
                           "-c", "context", "-v", "3"], cwd=str(work), capture_output=True, text=True, check=False,
                          env=dict(os.environ, PATH=str(BIN) + os.pathsep + os.environ.get("PATH", "")))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    context = work / "context"
    containerfile = next(path for path in (context / "Containerfile", context / "Dockerfile") if path.is_file())
    steps = containerfile.read_text()
    assert 'EE_BASE_IMAGE="ee-base:latest"' in steps
    assert "ansible-galaxy collection install" in steps and "introspect" in steps and "install-from-bindep" in steps
    build = context / "_build"
    assert "collections/appenv-python-0.1.0.tar.gz" in (build / "requirements.yml").read_text()
    # The collection's own dependencies are read from the installed collection when the image is built
    # (introspect, next test), so the context holds the tarball they come from.
    assert (build / "collections" / "appenv-python-0.1.0.tar.gz").is_file()


def test_ansible_builder_introspect_finds_our_python_and_system_dependencies(tmp_path):
    """What ansible-builder reads from the installed collection when it builds the image (introspect)."""
    target = tmp_path / "collections"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path),
                    str(REPO_ROOT)], check=True, capture_output=True, text=True)
    tarball = next(tmp_path.glob("appenv-python-*.tar.gz"))
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "-p", str(target), str(tarball)],
                   check=True, capture_output=True, text=True,
                   env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target)))
    proc = subprocess.run([str(BIN / "ansible-builder"), "introspect", str(target)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    found = yaml.safe_load(proc.stdout)
    python = "\n".join(found["python"]) if isinstance(found["python"], list) else str(found["python"])
    system = "\n".join(found["system"]) if isinstance(found["system"], list) else str(found["system"])
    assert "packaging>=24" in python and "appenv.python" in python
    for package in ("tar", "gzip", "xz-utils", "zstd"):
        assert package in system and "appenv.python" in system, system


@pytest.mark.skipif(shutil.which("packer") is None, reason="packer is not installed (make system installs it)")
def test_packer_template_validates_on_the_packer_here(tmp_path):
    """The tested template on its own (Packer 1.6 as Debian ships it); the directory adds versions.pkr.hcl with
    required_plugins for Packer 1.7 and later, which Packer 1.6 refuses by its required_version."""
    env = dict(os.environ, CHECKPOINT_DISABLE="1", PACKER_NO_COLOR="1",
               PATH=str(BIN) + os.pathsep + os.environ.get("PATH", ""))
    variables = ["-var", "runtime_mirror=http://127.0.0.1:9", "-var", "runtime_release=20240101",
                 "-var", "index_url=http://127.0.0.1:9/simple", "-var", "app_src=" + str(tmp_path)]
    for extra in ([], ["-var", "galaxy_file=" + str(EE_DIR / "requirements.yml"),
                       "-var", "collections_path=" + str(tmp_path / "collections")]):
        proc = subprocess.run(["packer", "validate"] + variables + extra + ["app-image.pkr.hcl"], cwd=str(PACKER_DIR),
                              env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    version = subprocess.run(["packer", "version"], env=env, capture_output=True, text=True, check=True).stdout
    if version.startswith("Packer v1.6."):
        proc = subprocess.run(["packer", "validate"] + variables + ["."], cwd=str(PACKER_DIR), env=env,
                              capture_output=True, text=True, check=False)
        assert proc.returncode != 0 and "required_plugins" in proc.stdout + proc.stderr
