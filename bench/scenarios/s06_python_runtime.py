"""Scenario 6: CPython on a host, python_runtime from the loopback mirror against a build from source.

- python_runtime: one `ansible-playbook` task installing the test bed's CPython 3.11 archive from the
  mirror on 127.0.0.1 into a bookworm x86_64 host whose runtime directory was deleted first.
- source build: what pyenv-style roles do with the same upstream tarball the test bed builds its
  archive from: unpack, `./configure --prefix=...`, `make -j<cores>`, `make install`. It runs on this
  machine (the controller, same cores), which has the build dependencies; the minutes a fresh host
  needs to install them are not counted. With --quick it is not run: the newest earlier measurement
  is reused (marked `reused`), if there is one.
- no-op: python_runtime again on the unchanged host against an `ansible.builtin.stat` task of its
  interpreter, the least a play can do on that host.
"""

import os
import pathlib
import tempfile

from bench import results
from bench.context import DEFAULT_DEST, RUNTIME_VERSION, timed, timings
from bench.registry import COST, Comparison, at_most, register
from tests.testbed import runtimes

SOURCE_BUILD = "source build"
STAT = "ansible.builtin.stat"
NOOP_AIM = "≤ 1.3×"


def build_from_source(tarball, jobs):
    """Unpack the CPython tarball, configure, make -j<jobs>, make install into a throw-away prefix."""
    with tempfile.TemporaryDirectory(prefix="appenv-bench-build-") as work:
        work = pathlib.Path(work)
        log = work / "build.log"
        env = dict(os.environ, LC_ALL="C")
        runtimes._log_run(["tar", "-xf", tarball, "-C", work], log)  # pylint: disable=protected-access
        (source,) = [path for path in work.iterdir() if path.is_dir()]
        for argv in (["./configure", "--prefix=%s" % (work / "prefix")], ["make", "-j%d" % jobs], ["make", "install"]):
            runtimes._log_run(argv, log, cwd=source, env=env)  # pylint: disable=protected-access


@register(
    6, "CPython on a host: python_runtime from a mirror vs building from source",
    Comparison("python_runtime", SOURCE_BUILD),
    Comparison("python_runtime no-op", STAT, NOOP_AIM, at_most(1.3), ratio=COST),
    Comparison("python_runtime no-op (task)", STAT + " (task)", "≤ 1.2×", at_most(1.2), ratio=COST),  # issue 21
)
def runtime(ctx):
    host = ctx.host()
    interpreter = DEFAULT_DEST + "/bin/python3.11"
    tarball = runtimes.ensure_source(RUNTIME_VERSION)
    jobs = results.cores()

    def ours():
        host.sh("rm -rf %s" % DEFAULT_DEST)
        return timings(ctx.install_runtime(host), "python_runtime", "created")

    def source_build():
        return {SOURCE_BUILD: {"seconds": timed(build_from_source, tarball, jobs), "jobs": jobs}}

    def noop():
        return timings(ctx.install_runtime(host), "python_runtime no-op", "kept")

    def stat():
        return timings(ctx.task(host, STAT, {"path": interpreter}), STAT)

    install = [("us", ours)] if ctx.quick else [("us", ours), ("alternative", source_build)]
    for repetition in ctx.rounds():
        yield from ctx.alternate(repetition, install)
        yield from ctx.alternate(repetition, [("us", noop), ("alternative", stat)])
    if ctx.quick:
        yield from ctx.reuse(SOURCE_BUILD)
