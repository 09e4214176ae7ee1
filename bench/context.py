"""What a scenario function gets: the run's settings, alternation of variants, test-bed hosts and timers.

Hosts are the test bed's (tests/testbed): Debian bookworm containers started from the cached base
image with `--network host`, so that they reach the loopback runtime mirror; each is removed when its
scenario ends. Nothing is rebuilt that the test bed has cached.
"""

import contextlib
import copy
import dataclasses
import sys
import tempfile
import time

from tests.collection_path import ensure_collection_path

ensure_collection_path()

from tests.integration import harness  # noqa: E402
from tests.integration.hosts import DEFAULT_DEST, RuntimeMirror, start_host, install_runtime  # noqa: E402
from tests.testbed import docker_host, mirror, runtimes  # noqa: E402

from bench import results  # noqa: E402
from bench.registry import Sample  # noqa: E402

SAMPLE_FIELDS = {field.name for field in dataclasses.fields(Sample)}

RUNTIME_VERSION = runtimes.PY311
RUNTIME_ARCH = "x86_64"

# Runs a command inside a host with the host's own python3 and prints its exit code and seconds:
# the time of the command alone, without `docker exec`.
_TIMER = ("import subprocess, sys, time; t = time.monotonic(); "
          "rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); print(rc, time.monotonic() - t)")


class BenchError(RuntimeError):
    pass


def timings(result, prefix, expect_action=None):
    """Seconds of one task as `{prefix: playbook, prefix + " (task)": task}` (and commands when it ran any).

    playbook: the whole `ansible-playbook` run, as a user waits for it; task: the task alone (connection,
    module transfer, the module); commands: what the module's commands took on the host.
    """
    result = harness.assert_ok(result)
    if expect_action and result.get("layer_action") != expect_action:
        raise BenchError("%s: expected layer_action %s, got %s (%s)" % (
            prefix, expect_action, result.get("layer_action"), "; ".join(result.get("reasons", []))))
    seconds = {prefix: result["_seconds"], prefix + " (task)": result["_task_seconds"]}
    if result.get("commands"):
        seconds[prefix + " (commands)"] = sum(command["seconds"] for command in result["commands"])
    return seconds


def timed(fn, *args, **kwargs):
    """Seconds that fn(*args, **kwargs) took."""
    started = time.monotonic()
    fn(*args, **kwargs)
    return time.monotonic() - started


class Context:
    """Settings of the run and the resources scenarios share; closed by bench.run."""

    def __init__(self, repetitions=5, quick=False, results_dirs=(results.RESULTS_DIR,), log=None, sets=None):
        self.repetitions = repetitions
        self.quick = quick
        self.results_dirs = list(results_dirs)
        self.sets = list(sets) if sets else None  # --set: package sets asked for (None: each scenario's own)
        self.scenario = None
        self.package_set = None  # the package set the current scenario runs on (scenarios with sets)
        self._log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        self._stack = contextlib.ExitStack()
        self._scope = None
        self._shared = {}  # what copies made by `for_arch` share: the runtime mirror
        self.arch = RUNTIME_ARCH  # of the hosts `host()` starts (see `for_arch`)

    # -- the run -------------------------------------------------------------------------------
    def log(self, text):
        where = "%s/%s" % (self.scenario.id, self.package_set) if self.package_set else (
            self.scenario.id if self.scenario else "-")
        self._log("[bench %s] %s" % (where, text))

    def sets_of(self, scenario):
        """The package sets to run scenario on: [None] when it takes none; those of --set when given;
        else its default set with --quick, all its sets otherwise."""
        if not scenario.sets:
            return [None]
        if self.sets:
            return list(self.sets)
        return list(scenario.sets[:1]) if self.quick else list(scenario.sets)

    def pick(self, full, quick):
        """The full set normally, the smallest set with --quick."""
        return quick if self.quick else full

    def rounds(self):
        return range(self.repetitions)

    @contextlib.contextmanager
    def scenario_scope(self, scenario, package_set=None):
        """Set the current scenario (and package set); hosts started inside are removed when it ends."""
        self.scenario, self.package_set = scenario, package_set
        with contextlib.ExitStack() as scope:
            self._scope = scope
            try:
                yield self
            finally:
                self._scope = None
                self.scenario = self.package_set = None

    def alternate(self, repetition, steps):
        """Run steps `[(side, fn)]` in this order on even repetitions, reversed on odd ones; yield Samples.

        fn() returns `{variant: seconds}` (one step may time several variants, e.g. the playbook and
        the task); a value may instead be a dict with `seconds` and extra fields for the sample. Each
        sample records `load1`, the machine's 1-minute load average when its step started.
        """
        ordered = steps if repetition % 2 == 0 else steps[::-1]
        for position, (side, step) in enumerate(ordered):
            load = results.load_average()[0]
            for variant, value in step().items():
                extra = dict(value) if isinstance(value, dict) else {"seconds": value}
                extra.setdefault("load1", load)
                sample = Sample(self.scenario.id, variant, side, extra.pop("seconds"), repetition, position, extra)
                self.log("rep %d #%d %-40s %9.3f s" % (repetition, position, variant, sample.seconds))
                yield sample

    def sample(self, variant, side, seconds, repetition, order=0, **extra):
        """A Sample of the current scenario measured outside `alternate` (extra fields: hosts=...)."""
        return Sample(self.scenario.id, variant, side, seconds, repetition, order, extra)

    def reuse(self, variant):
        """Samples of `variant` measured by the newest earlier run that has them, marked `reused`."""
        for document in results.load_all(*self.results_dirs):
            found = results.measured(document, self.scenario.id, variant)
            if found:
                self.log("reusing %d sample(s) of %s from %s" % (len(found), variant, document["_file"]))
                for sample in found:
                    extra = dict((k, v) for k, v in sample.items() if k not in SAMPLE_FIELDS)
                    extra["reused"] = document["_file"]
                    yield Sample(sample["scenario"], variant, sample["side"], sample["seconds"], sample["repetition"],
                                 sample["order"], extra)
                return
        self.log("no earlier samples of %s to reuse: skipped" % variant)

    def for_arch(self, arch):
        """This context (same scenario, scope and settings) starting hosts of arch ("x86_64" or "aarch64",
        emulated by qemu through binfmt on an x86_64 machine); the runtime archive follows the host's arch."""
        other = copy.copy(self)
        other.arch = arch
        if arch != RUNTIME_ARCH:
            docker_host.ensure_binfmt_arm64()
        return other

    def close(self):
        self._stack.close()

    # -- the test bed ----------------------------------------------------------------------------
    def host(self, volumes=()):
        """A fresh bookworm host of `self.arch` (container, `--network host`), removed when the scenario ends."""
        docker_host.ensure_dockerd()
        image = docker_host.ensure_image("bookworm", self.arch)
        host = start_host(image, self.arch, network="host", volumes=volumes)
        self._scope.callback(host.container.remove)
        self.log("host %s started" % host.name)
        return host

    def runtime_mirror(self):
        """The loopback release mirror holding the test bed's cached runtime archive (served until close)."""
        if "mirror" not in self._shared:
            root = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="appenv-bench-mirror-"))
            self._shared["mirror"] = RuntimeMirror(root, self._stack.enter_context(mirror.serve(root)))
        return self._shared["mirror"]

    def install_runtime(self, host, dest=DEFAULT_DEST):
        """Run python_runtime on host from the loopback mirror; return its result (failures raised)."""
        return harness.assert_ok(install_runtime(host, self.runtime_mirror(), RUNTIME_VERSION, dest=dest))

    @staticmethod
    def task(host, module, args):
        """Run one task of module on host with ansible-playbook; return its result (see `timings`)."""
        return harness.run_task(host, module, args)

    @staticmethod
    def time_in_host(host, argv):
        """Seconds argv took inside host (timed there, without `docker exec`), and its exit code."""
        out = host.exec(["/usr/bin/python3", "-c", _TIMER] + list(argv)).stdout.split()
        return float(out[-1]), int(out[-2])
