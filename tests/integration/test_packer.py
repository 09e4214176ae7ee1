"""examples/packer: Packer's docker builder + ansible provisioner build an app image with the collection."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.collection_path import COLLECTIONS_DIR, REPO_ROOT, ensure_collection_path
from tests.integration import molecule_env
from tests.testbed import runtimes

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TEMPLATE = REPO_ROOT / "examples" / "packer" / "app-image.pkr.hcl"


def test_packer_builds_an_image_that_runs_the_app(amd64_image, tmp_path):
    ensure_collection_path()
    tag = "test-%d" % os.getpid()
    repository = "appenv-test/packer-app"
    with molecule_env.served_inputs("amd64") as served:
        variables = tmp_path / "test.pkrvars.hcl"
        variables.write_text("\n".join('%s = "%s"' % item for item in {
            "base_image": amd64_image,
            "image_repository": repository,
            "image_tag": tag,
            "runtime_mirror": served["APPENV_MOLECULE_MIRROR"],
            "runtime_release": runtimes.TAG,
            "index_url": served["APPENV_MOLECULE_INDEX"],
            "app_src": served["APPENV_MOLECULE_APP"],
            "layer_cache": str(tmp_path / "layer-cache"),
            "layer_cache_hmac_key": "packer-test-hmac-key",
        }.items()) + "\n")
        env = dict(os.environ)
        env.update({"PATH": str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
                    "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_DIR), "ANSIBLE_ROLES_PATH": str(REPO_ROOT / "roles"),
                    "PACKER_CACHE_DIR": str(tmp_path / "packer-cache"), "CHECKPOINT_DISABLE": "1",
                    "PACKER_NO_COLOR": "1", "ANSIBLE_VERBOSITY": "1"})
        try:
            for attempt in ("first", "second"):
                proc = subprocess.run(["packer", "build", "-machine-readable", "-var-file", str(variables),
                                       str(TEMPLATE)], env=env, capture_output=True, text=True, timeout=1800,
                                      check=False)
                assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
                run = subprocess.run(["docker", "run", "--rm", "--network", "none", "%s:%s" % (repository, tag)],
                                     capture_output=True, text=True, timeout=120, check=False)
                assert run.returncode == 0, run.stderr
                assert run.stdout.strip() == "app on 1.0"
                if attempt == "second":
                    # A fresh container, the controller-side layer cache warm: layers are restored, not installed.
                    assert "restored from the controller" in proc.stdout, proc.stdout[-4000:]
        finally:
            subprocess.run(["docker", "rmi", "-f", "%s:%s" % (repository, tag)], capture_output=True, check=False)
