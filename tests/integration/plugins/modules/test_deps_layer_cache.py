"""app_dependencies and pip_tooling with the layer cache: fresh hosts restore instead of installing."""

import pytest

from tests.integration import harness
from tests.integration.hosts import CACHE_HMAC_KEY, start_host, install_deps, install_runtime, install_tooling, start_ssh_host
from tests.integration.plugins.modules.test_app_dependencies import run_app, write_files

pytestmark = pytest.mark.integration
HMAC_KEY = CACHE_HMAC_KEY  # entries are signed (HMAC), as a pipeline's are

REQUIREMENTS = {"requirements.txt": "demo-alpha\ndemo-sdist\n"}


def provision(host, runtime_mirror, index, cache, requirements=None, **deps_args):
    runtime = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache=cache))
    tool_cache = {"path": cache["path"], "hmac_key": HMAC_KEY} if "path" in cache else None
    tooling = harness.assert_ok(install_tooling(host, index, tools=[{"name": "uv"}], layer_cache=tool_cache))
    write_files(host, requirements or REQUIREMENTS)
    deps = harness.assert_ok(install_deps(host, index, layer_cache=cache, **deps_args))
    return runtime, tooling, deps


@pytest.mark.parametrize("location", ["user", "target"])
def test_fresh_hosts_restore_dependencies_from_a_shared_volume(
        location, amd64_image, runtime_mirror, package_index, tmp_path):
    package_index.publish("demo-sdist", "1.0", sdist=True)
    cache_dir = tmp_path / "layer-cache"
    cache_dir.mkdir()
    cache = {"path": "/cache", "hmac_key": HMAC_KEY}
    actions = []
    for unused in range(2):
        host = start_host(amd64_image, "x86_64", network="host", volumes=[(str(cache_dir), "/cache")])
        try:
            runtime, tooling, deps = provision(host, runtime_mirror, package_index, cache, location=location)
            actions.append((runtime["layer_action"], [layer["layer_action"] for layer in tooling["layers"]], deps["layer_action"]))
            assert run_app(host, deps, "import demo_alpha, demo_sdist; print(demo_alpha.__version__)") == "1.0"
            if deps["layer_action"] == "created":
                install = [command for command in deps["commands"] if "install" in command["argv"]][0]
                assert "Building wheel for demo-sdist" in install["stdout"], install["stdout"]
            if deps["layer_action"] == "restored":
                harness.assert_restored_without_building(deps, "an installer")
                assert "restored from the layer cache" in deps["reasons"][-1]
                again = harness.assert_ok(install_deps(host, package_index, layer_cache=cache, location=location))
                assert again["layer_action"] == "kept"
        finally:
            host.container.remove()
    assert actions == [("created", ["created", "created"], "created"),
                       ("restored", ["restored", "restored"], "restored")]
    # The wheel pip built from the sdist is kept in the cache location for the next miss.
    assert list(cache_dir.glob("wheels/pip/wheels/**/demo_sdist-1.0-*.whl"))

    # One requirement changed: a miss, built (reusing the cached wheel), and stored beside the first.
    host = start_host(amd64_image, "x86_64", network="host", volumes=[(str(cache_dir), "/cache")])
    try:
        changed = {"requirements.txt": "demo-alpha\ndemo-sdist\ndemo-gamma\n"}
        _runtime, _tooling, deps = provision(host, runtime_mirror, package_index, cache, changed, location=location)
        assert deps["layer_action"] == "created"
        install = [command for command in deps["commands"] if "install" in command["argv"]][0]
        assert "Building wheel for demo-sdist" not in install["stdout"], "the cached wheel was not reused"
    finally:
        host.container.remove()


@pytest.mark.parametrize("connection", ["docker", "ssh"])
def test_controller_side_cache_for_dependencies(connection, request, runtime_mirror, package_index, tmp_path):
    """The controller keeps the cache; entries move over the Ansible connection (docker exec, or SSH)."""
    cache = {"controller_path": str(tmp_path / "controller-cache"), "hmac_key": HMAC_KEY}
    image = request.getfixturevalue("ssh_image" if connection == "ssh" else "amd64_image")

    def start():
        if connection == "ssh":
            return start_ssh_host(image, tmp_path)
        return start_host(image, "x86_64", network="host")

    actions = []
    # Two fresh hosts with the same app, then a third with one requirement added (a miss for that layer only).
    for requirements in ("demo-alpha\n", "demo-alpha\n", "demo-alpha\ndemo-gamma\n"):
        host = start()
        try:
            runtime, _tooling, deps = provision(host, runtime_mirror, package_index, cache,
                                                {"requirements.txt": requirements})
            actions.append((runtime["layer_action"], deps["layer_action"]))
            assert run_app(host, deps, "import demo_alpha; print(demo_alpha.__version__)") == "1.0"
            if deps["layer_action"] == "restored":
                harness.assert_restored_without_building(deps, "an installer")
        finally:
            host.container.remove()
    assert actions == [("created", "created"), ("restored", "restored"), ("restored", "created")]
