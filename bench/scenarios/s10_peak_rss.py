"""Scenario 10: peak memory (RSS) of the module process on the host, against ansible.builtin.pip's.

On a bookworm x86_64 host prepared like scenarios 1-4 (runtime, uv, the hermetic set of bench/deps_set.py),
every task runs with `ansible_python_interpreter` set to a small wrapper script on the host (WRAPPER): its
shebang is the real interpreter (the host's python3 for our modules, the runtime's for ansible.builtin.pip,
which needs `packaging`), it runs the module in its own process (from stdin, as pipelining sends it, or
from the file given) and at exit appends `getrusage()` to a log on the host:

- `module_rss_mib`: ru_maxrss of RUSAGE_SELF, the module process's own peak;
- `largest_child_rss_mib`: ru_maxrss of RUSAGE_CHILDREN, the peak of the largest process the module
  started and waited for (the installer, `pip check`, the compile workers). Linux charges a child
  started by fork/vfork + exec with the parent's RSS at that moment too, so this is at least the
  module's size when it started its largest child.

`ansible.builtin.ping` run by each interpreter is the floor: what any module process takes there.

A task may run more than one module process (python_runtime's action plugin may run its module twice): the
sample takes the largest of each and records how many there were (`processes`). `seconds` is the
whole `ansible-playbook` run, as in the other scenarios.
"""

import json

from bench import deps_set
from bench.context import DEFAULT_DEST, timings
from bench.registry import COST, Comparison, at_most, register
from bench.scenarios import s01_dependencies as deps
from tests.integration import harness

LOG = "/var/tmp/bench-rss.jsonl"
OURS_PYTHON = "/usr/local/bin/bench-rss-python3"  # wraps the host's /usr/bin/python3
RUNTIME_PYTHON = "/usr/local/bin/bench-rss-runtime-python3"  # wraps the runtime's python3
SECOND_RUNTIME = "/opt/bench/runtime"
PIP = "ansible.builtin.pip"
# The floor: the least module, run by each interpreter (they differ: Debian's python3 and the runtime).
PING = "ansible.builtin.ping"
PING_RUNTIME = "ansible.builtin.ping (runtime python3)"
WRAPPER = '''#!%(python)s
"""Runs an Ansible module in this process and appends its peak RSS and its children's to %(log)s."""
import atexit, json, os, resource, sys


def _record():
    usage = [resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    with open(%(log)r, "a") as log:
        log.write(json.dumps({"pid": os.getpid(), "self_kib": usage[0], "children_kib": usage[1]}) + "\\n")


atexit.register(_record)
if len(sys.argv) > 1:  # python3 /path/AnsiballZ_x.py (no pipelining)
    import runpy
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
else:  # pipelining: the module comes on stdin
    exec(compile(sys.stdin.read(), "<stdin>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
'''
MODULE = "module_rss_mib"
CHILD = "largest_child_rss_mib"
AIM = "≤ 1×"


def _rows(us, alternative, fields=(MODULE, CHILD)):
    return [Comparison(us, alternative, AIM, at_most(1.0), ratio=COST, field=field) for field in fields]


@register(
    10, "Peak RSS on the host: module process and its largest child",
    *_rows("app_dependencies no-op", PIP + " no-op", (MODULE,)),
    *_rows("app_dependencies pip", PIP),
    *_rows("app_dependencies uv", "app_dependencies pip"),
    Comparison("app_dependencies no-op", PING, ratio=COST, field=MODULE),
    Comparison(PIP + " no-op", PING_RUNTIME, ratio=COST, field=MODULE),
    Comparison("python_runtime", PING, ratio=COST, field=MODULE),
    Comparison("python_runtime no-op", PING, ratio=COST, field=MODULE),
)
def peak_rss(ctx):
    host = ctx.host()
    for path, python in ((OURS_PYTHON, "/usr/bin/python3"), (RUNTIME_PYTHON, DEFAULT_DEST + "/bin/python3")):
        host.exec(["python3", "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])", path,
                   WRAPPER % {"python": python, "log": LOG}])
        host.exec(["chmod", "755", path])
    with deps_set.served_index(ctx.quick) as (index_url, requirements):
        deps._prepare(ctx, host, index_url)  # pylint: disable=protected-access
        deps._write_app(host, requirements)  # pylint: disable=protected-access
        ours = {"pip": dict(deps._deps_args(index_url), cache_dir=deps.PIP_CACHE),  # pylint: disable=protected-access
                "uv": dict(deps._deps_args(index_url, "uv"), cache_dir=deps.PIP_CACHE)}  # pylint: disable=protected-access
        runtime = {"version": "3.11", "mirror": ctx.runtime_mirror().base_url, "release": ctx.runtime_mirror().tag,
                   "dest": SECOND_RUNTIME}

        def measured(variant, module, args, interpreter=OURS_PYTHON, action=None):
            host.sh(": > %s" % LOG)
            result = harness.run_task(host, module, args, vars={"ansible_python_interpreter": interpreter})
            seconds = timings(result, variant, action)[variant]
            lines = [json.loads(line) for line in host.exec(["cat", LOG]).stdout.splitlines() if line.strip()]
            if not lines:
                raise RuntimeError("%s: the wrapper recorded no module process" % variant)
            return {variant: {"seconds": seconds, "processes": len(lines),
                              MODULE: round(max(line["self_kib"] for line in lines) / 1024, 1),
                              CHILD: round(max(line["children_kib"] for line in lines) / 1024, 1)}}

        def clean(installer, noop=False):
            def step():
                host.sh("rm -rf %s" % deps.OURS)
                found = measured("app_dependencies " + installer, "appenv.python.app_dependencies", ours[installer],
                                 action="created")
                if noop:
                    found.update(measured("app_dependencies no-op", "appenv.python.app_dependencies",
                                          ours[installer], action="kept"))
                return found
            return step

        def theirs():
            host.sh("rm -rf %s" % deps.THEIRS)
            found = measured(PIP, PIP, deps._pip_args(index_url), RUNTIME_PYTHON)  # pylint: disable=protected-access
            found.update(measured(PIP + " no-op", PIP, deps._pip_args(index_url), RUNTIME_PYTHON))  # pylint: disable=protected-access
            return found

        def python_runtime():
            host.sh("rm -rf %s" % SECOND_RUNTIME)
            found = measured("python_runtime", "appenv.python.python_runtime", runtime, action="created")
            found.update(measured("python_runtime no-op", "appenv.python.python_runtime", runtime, action="kept"))
            return found

        def ping():
            found = measured(PING, PING, {})
            found.update(measured(PING_RUNTIME, PING, {}, RUNTIME_PYTHON))
            return found

        # Warm the wheel caches (not measured), as scenario 2 does.
        ctx.task(host, "appenv.python.app_dependencies", ours["pip"])
        deps._pip_task(host, index_url)  # pylint: disable=protected-access
        for repetition in ctx.rounds():
            yield from ctx.alternate(repetition, [("us", clean("pip", noop=True)), ("alternative", theirs), ("us", clean("uv")),
                                                  ("us", python_runtime), ("alternative", ping)])
