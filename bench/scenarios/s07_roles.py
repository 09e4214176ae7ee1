"""Scenarios 7 and 8: the whole roles/runtime + roles/app converge (the appenv.python.image playbook).

7. Its second (no-op) run on one host against a play of as many `ansible.builtin.stat` tasks as the
   roles ran (skipped tasks not counted; the least a play of that length can do on that host). Aim: within
   1.3x (issue 21). Samples record each task's seconds (`tasks`: [name, seconds]) and the count (`count`).
8. Fleet: a clean converge and a no-op converge over 1, 4 and 8 hosts (containers) with forks = hosts;
   samples record `hosts`, so `python -m bench.plot --scenario 8` draws time against hosts.

Everything the roles install comes from the test bed served on 127.0.0.1 (tests/integration/molecule_env).
"""

from bench.registry import COST, Comparison, at_most, register
from tests.integration import harness, molecule_env

PLAYBOOK = "appenv.python.image"
STATS = "ansible.builtin.stat x N"


def _variables(served):
    return {
        "appenv_runtime_version": "3.11",
        "appenv_runtime_mirror": served["APPENV_MOLECULE_MIRROR"],
        "appenv_runtime_release": served["APPENV_MOLECULE_RELEASE"],
        "appenv_runtime_index_url": served["APPENV_MOLECULE_INDEX"],
        "appenv_runtime_tools": [{"name": "uv"}],
        "appenv_app_name": "demo",
        "appenv_app_src": served["APPENV_MOLECULE_APP"],
        "appenv_app_project_dir": "/srv/demo",
        "appenv_app_index_url": served["APPENV_MOLECULE_INDEX"],
    }


def _converge(hosts, variables, label, expect_changed=None):
    report = harness.run_playbook(PLAYBOOK, hosts, extra_vars=variables, env={"ANSIBLE_FORKS": str(len(hosts))})
    if report["_rc"] != 0:
        raise RuntimeError("%s failed: %s" % (label, report["_stderr"][-2000:]))
    changed = sum(harness.play_stats(report, host.name).get("changed", 0) for host in hosts)
    if expect_changed is False and changed:
        raise RuntimeError("%s changed %d task(s)" % (label, changed))
    return report


@register(
    7, "Roles runtime + app, second (no-op) converge vs a play of as many stat tasks",
    Comparison("image playbook no-op", STATS, "≤ 1.3×", at_most(1.3), ratio=COST),
)
def roles_noop(ctx):
    host = ctx.host()
    with molecule_env.served_inputs("amd64") as served:
        variables = _variables(served)
        first = _converge([host], variables, "first converge")
        # The tasks that ran (a skipped task starts nothing on the host): as many stat tasks.
        count = len([result for result in harness.task_results(first, host.name) if not result.get("skipped")])
        stats = [{"name": "stat %d" % number, "ansible.builtin.stat": {"path": "/opt/appenv/python/bin/python3"}}
                 for number in range(count)]
        play = [{"hosts": "all", "gather_facts": False, "tasks": stats}]

        def tasks(report):
            return [[result["_task"], round(result["_task_seconds"] or 0, 3)]
                    for result in harness.task_results(report, host.name)]

        def ours():
            report = _converge([host], variables, "no-op", False)
            return {"image playbook no-op": {"seconds": report["_seconds"], "count": count, "tasks": tasks(report)}}

        def theirs():
            report = harness.run_playbook(play, [host])
            return {STATS: {"seconds": report["_seconds"], "count": count, "tasks": tasks(report)}}

        for repetition in ctx.rounds():
            yield from ctx.alternate(repetition, [("us", ours), ("alternative", theirs)])


FLEET_AIM = "grows less than hosts"


def _fleet_name(size):
    return "%d host%s" % (size, "" if size == 1 else "s")


@register(
    8, "Fleet: clean and no-op converge over 1, 4 and 8 hosts",
    Comparison("no-op converge, 8 hosts", "no-op converge, 1 host", FLEET_AIM, at_most(8), ratio=COST),
    Comparison("no-op converge, 4 hosts", "no-op converge, 1 host", FLEET_AIM, at_most(4), ratio=COST),
    Comparison("clean converge, 8 hosts", "clean converge, 1 host", FLEET_AIM, at_most(8), ratio=COST),
    Comparison("clean converge, 4 hosts", "clean converge, 1 host", FLEET_AIM, at_most(4), ratio=COST),
)
def fleet(ctx):
    """Per repetition and fleet size (1, 4, 8; the order reversed every other repetition): start that many
    fresh hosts (not timed), converge them all at once with forks = hosts (clean), then again (no-op)."""
    sizes = ctx.pick((1, 4, 8), (1, 2))
    with molecule_env.served_inputs("amd64") as served:
        variables = _variables(served)

        def converge(size):
            def step():
                hosts = [ctx.host() for _number in range(size)]
                try:
                    clean = _converge(hosts, variables, "clean converge")["_seconds"]
                    noop = _converge(hosts, variables, "no-op converge", False)["_seconds"]
                finally:
                    for host in hosts:
                        host.container.remove()
                return {"clean converge, " + _fleet_name(size): {"seconds": clean, "hosts": size},
                        "no-op converge, " + _fleet_name(size): {"seconds": noop, "hosts": size}}
            return step

        for repetition in ctx.rounds():
            yield from ctx.alternate(repetition, [("us", converge(size)) for size in sizes])
