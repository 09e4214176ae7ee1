"""Test bed of appenv.python: Docker base images, CPython runtime archives, a loopback release mirror.

    from tests.testbed import cache_dir, ensure_dockerd, ensure_image, Container
    from tests.testbed import ensure_runtime_archive, RUNTIMES, make_mirror, serve

Run `python -m tests.testbed prepare [--arm64] [--trixie]` once to build the caches.
"""
from .paths import cache_dir
from .docker_host import (Container, TestbedError, cleanup_stale, ensure_binfmt_arm64, ensure_dockerd,
                          ensure_image, image_tag)
from .runtimes import (PY311, PY313, RUNTIMES, TAG, archive_name, ensure_runtime_archive, exact_version,
                       py313_version, triple)
from .mirror import make_mirror, serve
