"""Scenario 5: bytecode of the runtime's standard library, pyc_compile against `python -m compileall -q`.

On a bookworm x86_64 host with the runtime installed by python_runtime, every repetition deletes all
pycs of the tree (and pyc_compile's fingerprint) before each compile, so each one compiles everything:

- pyc_compile as a user runs it (one `ansible-playbook` task; default workers = one per core), then its
  no-op re-run on the unchanged tree;
- `compileall -q` (one process, its default) and `compileall -q -j0` (one per core), timed inside the
  host by the host's python3, like the `commands` seconds of pyc_compile's result.
"""

from bench.context import DEFAULT_DEST, timings
from bench.registry import COST, Comparison, at_least, at_most, register

PYTHON = DEFAULT_DEST + "/bin/python3.11"
STDLIB = DEFAULT_DEST + "/lib/python3.11"
STATE_DIR = "/var/lib/appenv/pyc"
COMPILEALL = "compileall -q"
COMPILEALL_J0 = "compileall -q -j0"


SPEED_AIM = "≥ 1.8× on 2 cores"
NOOP_AIM = "≤ 10 % of a compile"


@register(
    5, "Bytecode of the runtime's stdlib: pyc_compile vs compileall",
    Comparison("pyc_compile", COMPILEALL, SPEED_AIM, at_least(1.8)),
    Comparison("pyc_compile (commands)", COMPILEALL, SPEED_AIM, at_least(1.8)),
    Comparison("pyc_compile (commands)", COMPILEALL_J0),
    Comparison("pyc_compile no-op", "pyc_compile", NOOP_AIM, at_most(0.10), ratio=COST, percent=True),
    Comparison("pyc_compile no-op (task)", "pyc_compile (task)", NOOP_AIM, at_most(0.10), ratio=COST, percent=True),
)
def bytecode(ctx):
    host = ctx.host()
    ctx.install_runtime(host)
    tree = ctx.pick(STDLIB, STDLIB + "/email")
    args = {"paths": [tree], "interpreter": PYTHON, "state_dir": STATE_DIR}

    def without_pycs():
        host.sh("find %s -name __pycache__ -type d -prune -exec rm -rf {} + && rm -rf %s" % (tree, STATE_DIR))

    def ours():
        without_pycs()
        seconds = timings(ctx.task(host, "appenv.python.pyc_compile", args), "pyc_compile", "created")
        seconds.update(timings(ctx.task(host, "appenv.python.pyc_compile", args), "pyc_compile no-op", "kept"))
        return seconds

    def compileall(variant, *options):
        def step():
            without_pycs()
            seconds, rc = ctx.time_in_host(host, [PYTHON, "-m", "compileall", "-q"] + list(options) + [tree])
            return {variant: {"seconds": seconds, "rc": rc}}
        return step

    for repetition in ctx.rounds():
        yield from ctx.alternate(repetition, [("us", ours), ("alternative", compileall(COMPILEALL)),
                                              ("alternative", compileall(COMPILEALL_J0, "-j0"))])
