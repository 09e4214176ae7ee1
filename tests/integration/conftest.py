"""Fixtures for integration tests: real Debian containers, a loopback runtime mirror (the pieces: hosts.py)."""

import pytest

from tests.integration.hosts import RuntimeMirror, make_package_index, start_host
from tests.testbed import docker_host, mirror as mirror_mod, webdav


@pytest.fixture(scope="session")
def ssh_image(docker_ready):
    return docker_host.ensure_image("bookworm", "amd64", include=docker_host.SSH_PACKAGES, variant="ssh")


@pytest.fixture(scope="session")
def docker_ready():
    docker_host.ensure_dockerd()
    docker_host.cleanup_stale()
    yield
    docker_host.cleanup_stale()


@pytest.fixture(scope="session")
def amd64_image(docker_ready):
    return docker_host.ensure_image("bookworm", "amd64")


@pytest.fixture(scope="session")
def arm64_image(docker_ready):
    return docker_host.ensure_image("bookworm", "arm64")


@pytest.fixture
def amd64_host(amd64_image):
    host = start_host(amd64_image, "x86_64", network="host")
    yield host
    host.container.remove()


@pytest.fixture
def arm64_host(arm64_image):
    host = start_host(arm64_image, "aarch64", network="host")
    yield host
    host.container.remove()


@pytest.fixture(scope="session")
def runtime_mirror(tmp_path_factory):
    root = tmp_path_factory.mktemp("runtime-mirror")
    with mirror_mod.serve(root) as base_url:
        yield RuntimeMirror(root, base_url)


@pytest.fixture(scope="session")
def webdav_server(tmp_path_factory):
    """nginx with WebDAV PUT on 127.0.0.1 (tests/testbed/webdav.py): an HTTP layer cache for the containers."""
    with webdav.serve(tmp_path_factory.mktemp("webdav")) as server:
        yield server


@pytest.fixture(scope="session")
def index_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("package-indexes")
    with mirror_mod.serve(root) as base_url:
        yield root, base_url


@pytest.fixture
def package_index(index_server, request):
    """A fresh PEP 503 index on 127.0.0.1 for one test: tool wheels for x86_64 (and aarch64 for arm64 tests)
    plus the synthetic demo packages; `publish()`/`remove()` change it while it is served."""
    root, base_url = index_server
    return make_package_index(root, base_url, ["aarch64"] if "arm64" in request.keywords else ["x86_64"])
