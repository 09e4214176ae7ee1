"""The layer cache across fresh hosts: a new container restores the runtime instead of installing it."""

import pytest

from tests.integration import harness
from tests.integration.hosts import CACHE_HMAC_KEY, DEFAULT_DEST, install_runtime, start_host, start_ssh_host

pytestmark = pytest.mark.integration
HMAC_KEY = CACHE_HMAC_KEY  # entries are signed (HMAC), as a pipeline's are
CACHE = {"path": "/cache", "hmac_key": HMAC_KEY}


def probe(host):
    return host.exec([DEFAULT_DEST + "/bin/python3", "-c", "import ssl, platform; print(platform.python_version())"]).stdout.strip()


def test_fresh_hosts_share_a_cache_volume(amd64_image, runtime_mirror, tmp_path):
    cache = tmp_path / "layer-cache"
    cache.mkdir()
    volume = [(str(cache), "/cache")]
    actions = []
    for unused in range(2):
        host = start_host(amd64_image, "x86_64", network="host", volumes=volume)
        try:
            result = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache=CACHE))
            actions.append(result["layer_action"])
            assert probe(host) == "3.11.2"
            if result["layer_action"] == "restored":
                harness.assert_restored_without_building(result)
                # A runtime is thousands of files: GNU tar writes them once the archive checked out.
                assert harness.programs_started(result) == ["tar"], result["commands"]
                assert "restored from the layer cache" in result["reasons"][-1]
                again = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache=CACHE))
                assert again["layer_action"] == "kept"
        finally:
            host.container.remove()
    assert actions == ["created", "restored"]

    # Another input (a new Python version) misses and builds; a corrupt entry is discarded, never restored.
    host = start_host(amd64_image, "x86_64", network="host", volumes=volume)
    try:
        assert harness.assert_ok(install_runtime(host, runtime_mirror, "3.13", layer_cache=CACHE))[
            "layer_action"] == "created"
    finally:
        host.container.remove()
    entries = sorted(cache.glob("*/*.tar"))  # plain tar in a directory cache (compression: auto)
    assert len(entries) == 2
    for entry in entries:
        with open(entry, "r+b") as handle:
            handle.truncate(entry.stat().st_size // 2)
    host = start_host(amd64_image, "x86_64", network="host", volumes=volume)
    try:
        result = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache=CACHE))
        assert result["layer_action"] == "created"
        assert any("truncated" in warning for warning in result.get("warnings", [])), result.get("warnings")
        assert probe(host) == "3.11.2"
    finally:
        host.container.remove()


def test_read_only_cache_warns_and_builds(amd64_image, runtime_mirror, tmp_path):
    host = start_host(amd64_image, "x86_64", network="host", volumes=[(str(tmp_path), "/cache", "ro")])
    try:
        result = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache=CACHE))
        assert result["layer_action"] == "created"
        assert any("could not be stored" in warning for warning in result.get("warnings", [])), result
    finally:
        host.container.remove()


def test_controller_side_cache_moves_layers_over_the_connection(amd64_image, runtime_mirror, tmp_path):
    cache = {"controller_path": str(tmp_path / "controller-cache"), "hmac_key": HMAC_KEY}
    actions = []
    for unused in range(2):
        host = start_host(amd64_image, "x86_64", network="host")
        try:
            result = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache=cache))
            actions.append(result["layer_action"])
            assert probe(host) == "3.11.2"
            again = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache=cache))
            assert again["layer_action"] == "kept" and again["commands"] == []
        finally:
            host.container.remove()
    assert actions == ["created", "restored"]
    assert len(list((tmp_path / "controller-cache").glob("*/*.tar.gz"))) == 1  # crossed the connection: gzip


def test_controller_side_cache_with_an_admin_login_that_becomes_root(ssh_image, runtime_mirror, tmp_path):
    """ssh as a non-root admin user, `become` root (su), as VMs are provisioned: the entry goes back to the controller
    and the next fresh host restores it (before: the admin could not write into root's temporary cache, nor read
    what root stored there, so nothing was ever cached)."""
    cache = {"controller_path": str(tmp_path / "controller-cache"), "hmac_key": HMAC_KEY}
    results = []
    for unused in range(2):
        host = start_ssh_host(ssh_image, tmp_path, login="admin")
        try:
            result = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache=cache))
            results.append(result)
            assert probe(host) == "3.11.2"
            assert host.exec(["stat", "-c", "%U", DEFAULT_DEST + "/bin/python3.11"]).stdout.strip() == "root"
            # Nothing of the crossing is left on the host: neither root's temporary cache nor the admin's copies.
            leftovers = host.sh("ls -d /tmp/appenv-layer-cache* 2>/dev/null || true").stdout
            assert leftovers.strip() == "", leftovers
        finally:
            host.container.remove()
    assert [result["layer_action"] for result in results] == ["created", "restored"], results[-1].get("warnings")
    assert "controller's layer cache" in results[1]["reasons"][-1]
    assert not results[0].get("warnings") and not results[1].get("warnings")
    assert len(list((tmp_path / "controller-cache").glob("*/*.tar.gz"))) == 1


# An entry of another arch is never restored: tests/integration/test_emulated_aarch64.py (one emulated host for all
# that differs by arch).
