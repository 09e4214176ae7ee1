"""README's main command (`make example` = python -m examples.run) works end to end."""

import subprocess
import sys

import pytest

from tests.collection_path import REPO_ROOT

pytestmark = pytest.mark.integration


def test_example_provisions_the_sample_app_idempotently():
    proc = subprocess.run([sys.executable, "-m", "examples.run"], cwd=str(REPO_ROOT), capture_output=True,
                          text=True, timeout=1200, check=False)
    try:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        assert "second run: changed=0" in proc.stdout
        assert '200 OK {"app": "sample-app", "python": "3.11.2"' in proc.stdout
        assert '"demo_alpha": "1.0"' in proc.stdout
    finally:
        subprocess.run(["docker", "rm", "-f", "appenv-test-example"], capture_output=True, check=False)
