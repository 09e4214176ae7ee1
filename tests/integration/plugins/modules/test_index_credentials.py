"""Index credentials on a real host: uv and pip get them by environment, never on a command line (issue 16).

The host runs in the host's network and its processes show in this machine's /proc: a poller reads every
/proc/<pid>/cmdline, as any local user can, while the installs run.
"""

import json
import os
import threading
import time

import pytest

from tests.integration import harness
from tests.integration.hosts import install_deps
from tests.integration.plugins.modules.test_app_dependencies import prepare, project_files, run_app, write_files

pytestmark = pytest.mark.integration

SECRET = "Cmd1ine-N3ver-Pa55"


class CmdlinePoller(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.leaks = set()
        self.installs_seen = 0

    def run(self):
        while not self.stop.is_set():
            for pid in os.listdir("/proc"):
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as handle:
                        line = handle.read().replace(b"\0", b" ")
                except OSError:
                    continue
                if b" pip install " in line:
                    self.installs_seen += 1
                if SECRET.encode() in line:
                    self.leaks.add(line.decode("utf-8", "replace"))
            time.sleep(0.02)


def test_uv_and_pip_install_with_credentials_that_no_command_line_shows(amd64_host, runtime_mirror, package_index):
    prepare(amd64_host, runtime_mirror, package_index, ("uv",))
    write_files(amd64_host, project_files("requirements", package_index))
    url = package_index.simple_url.replace("http://", "http://builder:%s@" % SECRET)
    poller = CmdlinePoller()
    poller.start()
    try:
        results = {}
        for installer, dest in (("uv", "/opt/appenv/venv-uv"), ("pip", "/opt/appenv/venv-pip")):
            args = dict(installer=installer, location="venv", dest=dest, index_url=url)
            predicted = harness.assert_ok(install_deps(amd64_host, package_index, check=True, **args))
            first = harness.assert_ok(install_deps(amd64_host, package_index, **args))
            second = harness.assert_ok(install_deps(amd64_host, package_index, **args))
            assert (predicted["changed"], first["changed"], second["changed"]) == (True, True, False), installer
            assert first["installer"] == installer
            assert run_app(amd64_host, first) == "1.0"
            results[installer] = (predicted, first, second)
    finally:
        poller.stop.set()
        poller.join()
    assert poller.installs_seen > 0  # the poller saw the installers' command lines while they ran
    assert poller.leaks == set()
    text = json.dumps(results)
    assert SECRET not in text
