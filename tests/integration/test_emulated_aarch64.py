"""What differs by arch, on one emulated aarch64 host (qemu through binfmt): the archive picked and its build
settings, the interpreter running, the layer-cache key, the tool and dependency wheels for the arch, and C
extensions built on the arch.

One host, one runtime install, where four tests each started an emulated container and installed a runtime
under qemu. The logic that is the same on both arches (check mode, invalidation, repair, bad input, every
installer and location, the build settings rewrite before/after) is proven on x86_64 in
tests/integration/plugins/modules; extensions/molecule/aarch64 converges the roles on this arch. The host is the
test bed's gcc-only bookworm image and the runtime the upstream-faithful (python-build-standalone-like) archive.
The assertions moved here unchanged:

* from test_python_runtime.py (test_arm64_host_runs_an_aarch64_runtime): an aarch64 host gets the aarch64
  archive (created, arch aarch64), its interpreter reports 3.11.2 on aarch64, the second run keeps and starts
  nothing;
* from test_layer_cache.py (test_an_entry_of_another_arch_is_never_restored): same request, same destination,
  shared cache: the aarch64 host misses the x86_64 host's entry (both created, fingerprints differ, two entries);
* from test_app_dependencies.py (test_aarch64_pip_and_uv): pip_tooling with uv, then app_dependencies with pip
  and with uv from aarch64 wheels: created by that installer, the app runs on aarch64, the second run keeps
  and starts nothing;
* from test_python_runtime_pbs.py (test_aarch64_c_extension_builds_with_gcc): the archive's build settings are
  rewritten (clang to the host's cc), python3-config names paths that exist, and an sdist with a C extension
  builds with pip and with uv on a host with gcc only, and runs.

And from test_live_switch.py, one venv rebuilt (uv) while a process starts the app in a loop: no start fails.
"""

import json
import time

import pytest

from tests.integration import harness
from tests.integration.hosts import DEFAULT_DEST, install_deps, signed_cache, start_host
from tests.integration.plugins.modules.test_app_dependencies import run_app, write_files
from tests.integration.plugins.modules.test_live_switch import (
    SITE_PACKAGES, VENV, Importer, assert_never_failed_and_switched)
from tests.integration.plugins.modules.test_python_runtime_pbs import (
    cext_index, import_cext, install_pbs_runtime, pbs_runtime_args, python_config_paths)
from tests.testbed import pbs_faithful

pytestmark = [pytest.mark.integration, pytest.mark.arm64, pytest.mark.slow]

PROBE = "import json, platform, sys; print(json.dumps([platform.python_version(), platform.machine(), sys.prefix]))"


def test_aarch64_runtime_cache_key_tools_deps_and_c_extensions(amd64_image, runtime_mirror, package_index, tmp_path):
    cache = tmp_path / "layer-cache"
    cache.mkdir()
    volume = [(str(cache), "/cache")]
    layer_cache = signed_cache(path="/cache")

    # An x86_64 host stores its runtime in the shared cache first.
    x86 = start_host(amd64_image, "x86_64", network="host", volumes=volume)
    try:
        on_x86 = harness.assert_ok(install_pbs_runtime(x86, runtime_mirror, layer_cache=layer_cache))
        out = x86.exec([DEFAULT_DEST + "/bin/python3", "-c", "import platform; print(platform.machine())"])
        assert out.stdout.strip() == "x86_64"
    finally:
        x86.container.remove()
    assert on_x86["layer_action"] == "created"

    host = start_host(pbs_faithful.ensure_gcc_image("arm64"), "aarch64", network="host", volumes=volume)
    try:
        host.sh("command -v gcc && command -v cc && ! command -v clang")
        # The runtime: the aarch64 archive, never the x86_64 entry of the same request in the shared cache.
        first = harness.assert_ok(install_pbs_runtime(host, runtime_mirror, layer_cache=layer_cache))
        assert first["layer_action"] == "created", first["reasons"]
        assert first["arch"] == "aarch64"
        assert on_x86["fingerprint"] != first["fingerprint"]
        assert len(list(cache.glob("*/*.tar"))) == 2
        version, machine, _prefix = json.loads(host.exec([DEFAULT_DEST + "/bin/python3", "-c", PROBE]).stdout)
        assert (version, machine) == ("3.11.2", "aarch64")
        # Its build settings name this host's compiler and prefix.
        assert (first["build_settings"]["compiler_was"], first["build_settings"]["compiler"]) == ("clang", "cc")
        assert all(python_config_paths(host).values()), python_config_paths(host)
        # The second run, and the tools from aarch64 wheels (the package_index fixture serves them to arm64 tests),
        # in one play.
        second, _tooling = (harness.assert_ok(result) for result in harness.run_tasks(host, [
            ("appenv.python.python_runtime", pbs_runtime_args(host, runtime_mirror, layer_cache=layer_cache)),
            ("appenv.python.pip_tooling", {"index_url": package_index.simple_url, "tools": [{"name": "uv"}]})]))
        assert second["layer_action"] == "kept" and second["commands"] == []

        index = cext_index(package_index, tmp_path)
        write_files(host, {"requirements.txt": "demo-alpha==1.0\ndemo-delta\ndemo-cext\n"})
        for installer, dest in (("pip", "/opt/appenv/deps"), ("uv", "/opt/appenv/deps-uv")):
            deps = harness.assert_ok(install_deps(host, index, installer=installer, dest=dest))
            assert deps["layer_action"] == "created" and deps["installer"] == installer
            assert run_app(host, deps, "import platform, demo_alpha; print(platform.machine())") == "aarch64"
            so_file, total = import_cext(host, deps)
            assert so_file.startswith(dest + "/") and so_file.endswith(".so") and total == "5", (installer, so_file)
            again = harness.assert_ok(install_deps(host, index, installer=installer, dest=dest))
            assert (again["layer_action"], again["commands"]) == ("kept", [])

        # A venv rebuilt under a running app (the loop of test_live_switch.py, one rebuild): no start fails.
        venv = dict(installer="uv", location="venv", dest=VENV)
        write_files(host, {"requirements.txt": "demo-alpha==1.0\ndemo-delta\n"})
        old = harness.assert_ok(install_deps(host, package_index, **venv))
        write_files(host, {"requirements.txt": "demo-alpha==1.0\ndemo-delta\ndemo-gamma==1.0\n"})
        with Importer(host, VENV + "/bin/python") as importer:
            start = time.time()
            new = harness.assert_ok(install_deps(host, package_index, **venv))
            end = time.time()
            importer.wait_for(lambda: new["live_version"] in json.dumps(importer._read()[-1:]), "a start on it")
        assert (old["layer_action"], new["layer_action"]) == ("created", "recreated")
        assert_never_failed_and_switched(importer, start, end, ("1.0", old["live_version"] + SITE_PACKAGES),
                                         ("1.0", new["live_version"] + SITE_PACKAGES))
    finally:
        host.container.remove()
