"""What differs by arch, on one emulated aarch64 host (qemu through binfmt): the archive picked, the interpreter
running, the layer-cache key, the tool and dependency wheels for the arch.

One host, one runtime install, where three tests each started an emulated container and installed a runtime
under qemu (the emulated CPU of this file used to be three runtime installs, now one). The logic that is the same
on both arches (check mode, invalidation, repair, bad input, every installer and location) is proven on x86_64
in tests/integration/plugins/modules; molecule/aarch64 converges the roles on this arch. The assertions moved
here unchanged:

* from test_python_runtime.py (test_arm64_host_runs_an_aarch64_runtime): an aarch64 host gets the aarch64
  archive (created, arch aarch64), its interpreter reports 3.11.2 on aarch64, the second run keeps and starts
  nothing;
* from test_layer_cache.py (test_an_entry_of_another_arch_is_never_restored): same request, same destination,
  shared cache: the aarch64 host misses the x86_64 host's entry (both created, fingerprints differ, two entries);
* from test_app_dependencies.py (test_aarch64_pip_and_uv): pip_tooling with uv, then app_dependencies with pip
  and with uv from aarch64 wheels: created by that installer, the app runs on aarch64, the second run keeps
  and starts nothing.
"""

import json

import pytest

from tests.integration import harness
from tests.integration.hosts import DEFAULT_DEST, install_deps, install_runtime, runtime_args, signed_cache, start_host
from tests.integration.plugins.modules.test_app_dependencies import project_files, run_app, write_files

pytestmark = [pytest.mark.integration, pytest.mark.arm64, pytest.mark.slow]

PROBE = "import json, platform, sys; print(json.dumps([platform.python_version(), platform.machine(), sys.prefix]))"


def test_aarch64_runtime_cache_key_tools_and_deps(amd64_image, arm64_image, runtime_mirror, package_index, tmp_path):
    cache = tmp_path / "layer-cache"
    cache.mkdir()
    volume = [(str(cache), "/cache")]
    layer_cache = signed_cache(path="/cache")

    # An x86_64 host stores its runtime in the shared cache first.
    x86 = start_host(amd64_image, "x86_64", network="host", volumes=volume)
    try:
        runtime_mirror.ensure("3.11.2", "x86_64")
        on_x86 = harness.assert_ok(install_runtime(x86, runtime_mirror, "3.11", layer_cache=layer_cache))
        out = x86.exec([DEFAULT_DEST + "/bin/python3", "-c", "import platform; print(platform.machine())"])
        assert out.stdout.strip() == "x86_64"
    finally:
        x86.container.remove()
    assert on_x86["layer_action"] == "created"

    host = start_host(arm64_image, "aarch64", network="host", volumes=volume)
    try:
        # The runtime: the aarch64 archive, never the x86_64 entry of the same request in the shared cache.
        runtime_mirror.ensure("3.11.2", "aarch64")
        first = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache=layer_cache))
        assert first["layer_action"] == "created", first["reasons"]
        assert first["arch"] == "aarch64"
        assert on_x86["fingerprint"] != first["fingerprint"]
        assert len(list(cache.glob("*/*.tar"))) == 2
        version, machine, _prefix = json.loads(host.exec([DEFAULT_DEST + "/bin/python3", "-c", PROBE]).stdout)
        assert (version, machine) == ("3.11.2", "aarch64")
        # The second run, and the tools from aarch64 wheels (the package_index fixture serves them to arm64 tests),
        # in one play.
        second, _tooling = (harness.assert_ok(result) for result in harness.run_tasks(host, [
            ("appenv.python.python_runtime", runtime_args(host, runtime_mirror, "3.11", layer_cache=layer_cache)),
            ("appenv.python.pip_tooling", {"index_url": package_index.simple_url, "tools": [{"name": "uv"}]})]))
        assert second["layer_action"] == "kept" and second["commands"] == []

        write_files(host, project_files("requirements", package_index))
        for installer, dest in (("pip", "/opt/appenv/deps"), ("uv", "/opt/appenv/deps-uv")):
            deps = harness.assert_ok(install_deps(host, package_index, installer=installer, dest=dest))
            assert deps["layer_action"] == "created" and deps["installer"] == installer
            assert run_app(host, deps, "import platform, demo_alpha; print(platform.machine())") == "aarch64"
            again = harness.assert_ok(install_deps(host, package_index, installer=installer, dest=dest))
            assert (again["layer_action"], again["commands"]) == ("kept", [])
    finally:
        host.container.remove()
