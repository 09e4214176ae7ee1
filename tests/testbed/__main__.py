"""`python -m tests.testbed prepare [--arm64] [--trixie]`: make the test bed ready, print timings.

Default: Docker engine, the bookworm-amd64 base image (plain and with sshd), the x86_64 runtime archives (3.11 and 3.13).
--arm64 adds the qemu binfmt handler, the bookworm-arm64 image and the aarch64 3.11 archive;
--trixie adds the trixie-amd64 image. Everything is cached by its inputs: a second run only checks.
`python -m tests.testbed cleanup` removes leftover `appenv-test-*` containers.
"""
import argparse
import sys
import time

from . import docker_host, pbs_faithful, runtimes
from .paths import cache_dir


def _step(timings, label, fn, *args):
    t0 = time.monotonic()
    print("... %s" % label, flush=True)
    result = fn(*args)
    dt = time.monotonic() - t0
    timings.append((label, dt, result))
    print("    %-48s %7.1fs  %s" % (label, dt, result if result is not None else ""), flush=True)
    return result


def prepare(arm64=False, trixie=False):
    timings = []
    t0 = time.monotonic()
    _step(timings, "dockerd", docker_host.ensure_dockerd)
    _step(timings, "image bookworm-amd64", docker_host.ensure_image, "bookworm", "amd64")
    _step(timings, "image bookworm-amd64-ssh", docker_host.ensure_image, "bookworm", "amd64",
          docker_host.SSH_PACKAGES, "ssh")
    if arm64:
        _step(timings, "binfmt qemu-aarch64", docker_host.ensure_binfmt_arm64)
        _step(timings, "image bookworm-arm64", docker_host.ensure_image, "bookworm", "arm64")
    if trixie:
        _step(timings, "image trixie-amd64", docker_host.ensure_image, "trixie", "amd64")
    archives = []
    for version, arch in runtimes.RUNTIMES:
        if arch == "aarch64" and not arm64:
            continue
        archives.append(_step(timings, "runtime %s %s" % (version, arch), runtimes.ensure_runtime_archive,
                              version, arch))
    archives += pbs_faithful.prepare(lambda *item: _step(timings, *item), arm64)
    total = time.monotonic() - t0
    print("\ncache: %s" % cache_dir())
    for path in archives:
        print("  %6.1f MB  %s" % (path.stat().st_size / 1e6, path))
    print("total %.1fs" % total)
    return archives


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.testbed")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="build/cache images and runtime archives")
    p.add_argument("--arm64", action="store_true", help="also the arm64 image and aarch64 runtime archive")
    p.add_argument("--trixie", action="store_true", help="also the trixie-amd64 image")
    sub.add_parser("cleanup", help="remove leftover appenv-test-* containers")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "prepare":
            prepare(arm64=args.arm64, trixie=args.trixie)
        elif args.cmd == "cleanup":
            docker_host.ensure_dockerd()
            print("\n".join(docker_host.cleanup_stale(all_sessions=True)) or "nothing to remove")
    except (docker_host.TestbedError, runtimes.RuntimeBuildError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
