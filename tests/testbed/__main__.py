"""`python -m tests.testbed prepare [--arm64] [--trixie]`: make the test bed ready, print timings.

Default: Docker engine, the bookworm-amd64 base image (plain and with sshd), the x86_64 runtime archives (3.11 and 3.13).
--arm64 adds the qemu binfmt handler, the bookworm-arm64 image and the aarch64 3.11 archive;
--trixie adds the trixie-amd64 image. Everything is cached by its inputs: a second run only checks. What does not depend on another step is
built side by side (--jobs, default 4): see plan().
`python -m tests.testbed cleanup` removes leftover `appenv-test-*` containers.
"""
import argparse
import concurrent.futures
import os
import sys
import threading
import time

from . import docker_host, freethreaded, package_index, pbs_faithful, runtimes
from .paths import cache_dir


# The niceness of a long step that nothing waits for (run_steps): it takes the cores the others leave.
BACKGROUND = 10


class Step:
    """One thing to make ready: `fn(*args)`, once every step named in `after` is done; `nice` is the scheduling
    niceness its thread (and every process it starts) runs at."""

    def __init__(self, label, fn, *args, after=(), nice=0):
        self.label, self.fn, self.args, self.after, self.nice = label, fn, args, tuple(after), nice


# The steps whose result is a runtime archive (listed at the end of prepare).
ARCHIVE_STEPS = (runtimes.ensure_runtime_archive, pbs_faithful.ensure_faithful_archive, freethreaded.ensure_archive)


def runtime_label(version, arch):
    return "runtime %s %s" % (version, runtimes.ARCH_ALIASES[arch])


def plan(arm64=False, trixie=False):
    """The steps of `prepare` and what each waits for; everything else runs side by side.

    Independent: the debootstraps (one per release and arch), the CPython builds of different versions, the tool
    wheels. The variants (sshd, gcc) are derived from their base image by an apt-get install (seconds, no
    debootstrap), so they wait for it. The aarch64 archive is cross-built with the x86_64 build
    of its version (and runs pip under qemu), so it waits for that and for binfmt.
    Derived test-bed pieces (an archive made from another one) add a Step here with `after=` the step
    whose output they start from, e.g. `after=[runtime_label(runtimes.PY311, "x86_64")]`.
    """
    # In the order free threads take them (run_steps), the longest first (cold build, 2 cores): the CPython builds
    # (~800 s each) with the chain 3.11 x86_64 -> aarch64 cross-built with it (that one goes next once its build
    # python is made), then the arm64 debootstraps (~600 s: their second stage runs under qemu), then the amd64 ones
    # (~120-260 s), the tool wheels and the archives derived without a compile.
    steps = [Step("dockerd", docker_host.ensure_dockerd)]
    if arm64:
        steps.append(Step("binfmt qemu-aarch64", docker_host.ensure_binfmt_arm64))
    for version, arch in runtimes.RUNTIMES:
        if arch == "aarch64":
            if not arm64:
                continue
            after = [runtime_label(version, "x86_64"), "binfmt qemu-aarch64"]
        else:
            after = []
        # The 3.11 builds are the longest chain (x86_64, then aarch64 cross-built with it, then its derived
        # archive); the 3.13 builds, which nothing waits for, run in the background: at equal priority four builds
        # share two cores and the chain's first build finished after ~765 s instead of its own ~400 s of CPU.
        nice = BACKGROUND if version != runtimes.PY311 else 0
        steps.append(Step(runtime_label(version, arch), runtimes.ensure_runtime_archive, version, arch, after=after,
                          nice=nice))
    # The free-threaded build (--disable-gil) of the 3.13 source: a build of its own (the source is fetched under a lock).
    steps.append(Step("runtime %s x86_64 freethreaded" % freethreaded.VERSION, freethreaded.ensure_archive,
                      nice=BACKGROUND))
    if arm64:
        steps += [
            Step("image bookworm-arm64", docker_host.ensure_image, "bookworm", "arm64",
                 after=["dockerd", "binfmt qemu-aarch64"]),
            Step("image bookworm-arm64-gcc", pbs_faithful.ensure_gcc_image, "arm64", after=["image bookworm-arm64"]),
        ]
    steps += [
        Step("image bookworm-amd64", docker_host.ensure_image, "bookworm", "amd64", after=["dockerd"]),
        Step("image bookworm-amd64-ssh", docker_host.ensure_image, "bookworm", "amd64", docker_host.SSH_PACKAGES,
             "ssh", after=["image bookworm-amd64"]),
    ]
    if trixie:
        steps.append(Step("image trixie-amd64", docker_host.ensure_image, "trixie", "amd64", after=["dockerd"]))
    # Distro Pythons with venv and pip (the foreign-interpreter tests), derived like the sshd and gcc variants.
    for release in ("bookworm", "trixie") if trixie else ("bookworm",):
        steps.append(Step("image %s-amd64-venv" % release, docker_host.ensure_image, release, "amd64",
                          docker_host.VENV_PACKAGES, "venv", after=["image %s-amd64" % release]))
    # gcc-only hosts to build C extensions on (tests/testbed/pbs_faithful.py).
    steps.append(Step("image bookworm-amd64-gcc", pbs_faithful.ensure_gcc_image, "amd64", after=["image bookworm-amd64"]))
    steps.append(Step("tool wheels x86_64", package_index.ensure_tool_wheels, "x86_64"))
    if arm64:
        steps.append(Step("tool wheels aarch64", package_index.ensure_tool_wheels, "aarch64"))
    # python-build-standalone's build settings (prefix /install, clang), derived from our builds without a compile.
    for version, arch in pbs_faithful.RUNTIMES:
        if arch == "aarch64" and not arm64:
            continue
        steps.append(Step(runtime_label(version, arch) + " (python-build-standalone settings)",
                          pbs_faithful.ensure_faithful_archive, version, arch, after=[runtime_label(version, arch)]))
    return steps


def run_steps(steps, jobs):
    """Run steps on up to `jobs` threads in dependency order, printing each start and end with its time; a free
    thread takes the first ready step in the order of `steps`.

    Returns {label: (seconds, result)}. The first failure stops new steps from starting; the running ones finish,
    then the failure is raised.
    """
    labels = {s.label for s in steps}
    for s in steps:
        missing = [a for a in s.after if a not in labels]
        if missing:
            raise ValueError("step %r waits for unknown steps %s" % (s.label, missing))
    out = threading.Lock()
    done, results, pending, running = set(), {}, list(steps), {}
    failure = None

    def _timed(step):
        with out:
            print("... %s" % step.label, flush=True)
        t0 = time.monotonic()
        # Linux: niceness is a thread's, and the processes it starts inherit it; the pool's threads are reused.
        thread = threading.get_native_id()
        if step.nice:
            os.setpriority(os.PRIO_PROCESS, thread, step.nice)
        try:
            result = step.fn(*step.args)
        finally:
            if step.nice:
                try:
                    os.setpriority(os.PRIO_PROCESS, thread, 0)
                except PermissionError:  # not root: the thread stays in the background for its next steps
                    pass
        dt = time.monotonic() - t0
        shown = "%d files" % len(result) if isinstance(result, list) else result if result is not None else ""
        with out:
            print("    %-48s %7.1fs  %s" % (step.label, dt, shown), flush=True)
        return dt, result

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        while pending or running:
            if failure is None:
                # A free thread takes the first ready step in plan order (longest chains first): a step whose wait
                # just ended (the aarch64 build, once its build python is made) goes before the plan's later steps,
                # not behind every step that was ready before it.
                ready = [s for s in pending if all(a in done for a in s.after)]
                for step in ready[:max(1, jobs) - len(running)]:
                    pending.remove(step)
                    running[pool.submit(_timed, step)] = step
            if not running:
                break
            finished = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED).done
            for fut in finished:
                step = running.pop(fut)
                try:
                    results[step.label] = fut.result()
                    done.add(step.label)
                except Exception as exc:  # pylint: disable=broad-except
                    failure = failure or exc
                    with out:
                        print("    %-48s FAILED" % step.label, flush=True)
    if failure is not None:
        raise failure
    return results


def prepare(arm64=False, trixie=False, jobs=4):
    t0 = time.monotonic()
    steps = plan(arm64=arm64, trixie=trixie)
    results = run_steps(steps, jobs)
    total = time.monotonic() - t0
    archives = [results[s.label][1] for s in steps if s.fn in ARCHIVE_STEPS]
    print("\ncache: %s" % cache_dir())
    for path in archives:
        print("  %6.1f MB  %s" % (path.stat().st_size / 1e6, path))
    busy = sum(seconds for seconds, _result in results.values())
    print("total %.1fs (steps %.1fs one after the other, %d at a time)" % (total, busy, jobs))
    return archives


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.testbed")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="build/cache images and runtime archives")
    p.add_argument("--arm64", action="store_true", help="also the arm64 image and aarch64 runtime archive")
    p.add_argument("--trixie", action="store_true", help="also the trixie-amd64 image")
    p.add_argument("--jobs", type=int, default=4, help="steps built side by side (default 4; 1: one after another)")
    sub.add_parser("cleanup", help="remove leftover appenv-test-* containers")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "prepare":
            prepare(arm64=args.arm64, trixie=args.trixie, jobs=args.jobs)
        elif args.cmd == "cleanup":
            docker_host.ensure_dockerd()
            print("\n".join(docker_host.cleanup_stale(all_sessions=True)) or "nothing to remove")
    except (docker_host.TestbedError, runtimes.RuntimeBuildError, package_index.PackageIndexError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
