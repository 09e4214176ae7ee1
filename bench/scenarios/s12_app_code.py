"""Scenario 12: the app's code on a host, second (no-op) run: appenv.python.app_code against ansible.builtin.copy of
the same directory (what roles/app used before, and what a hand-rolled role does), and against a `stat` task, the
least a task can do on that host.

The tree is FILES Python files in a few packages (an app of modest size). Each variant runs once first (writing
the tree), then its no-op is timed: a one-task play, `seconds` is the whole `ansible-playbook` run and `task` the
JSON callback's seconds for the task. The copy checks each file with a module run of its own, so its no-op grows
with the app; app_code's is one module run whatever the number of files.
"""

import tempfile
from pathlib import Path

from bench.registry import COST, Comparison, at_most, register
from tests.integration import harness

FILES = 100
OURS = "app_code no-op (%d files)" % FILES
COPY = "ansible.builtin.copy no-op (%d files)" % FILES
STAT = "ansible.builtin.stat"
TASK = " (task)"


def _tree(root):
    for number in range(FILES):
        path = Path(root) / ("pkg%d" % (number % 8)) / ("mod%d.py" % number)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("VALUE = %d\n" % number)


@register(
    12, "The app's code, second (no-op) run: app_code vs ansible.builtin.copy of the same tree, and vs a stat task",
    Comparison(OURS, COPY, "≤ 0.2×", at_most(0.2), ratio=COST),
    Comparison(OURS + TASK, COPY + TASK, "≤ 0.1×", at_most(0.1), ratio=COST),
    Comparison(OURS + TASK, STAT + TASK, "≤ 1.3×", at_most(1.3), ratio=COST),
)
def app_code_noop(ctx):
    host = ctx.host()
    with tempfile.TemporaryDirectory(prefix="appenv-bench-code-") as src:
        _tree(src)
        tasks = {
            OURS: {"appenv.python.app_code": {"src": src, "dest": "/srv/code-ours"}},
            COPY: {"ansible.builtin.copy": {"src": src + "/", "dest": "/srv/code-copy/", "mode": "0644",
                                            "directory_mode": "0755"}},
            STAT: {"ansible.builtin.stat": {"path": "/srv"}},
        }

        def play(variant):
            return [{"hosts": "all", "gather_facts": False, "tasks": [dict(tasks[variant], name=variant)]}]

        def run(variant, expect_changed):
            report = harness.run_playbook(play(variant), [host])
            stats = harness.play_stats(report, host.name)
            if report["_rc"] != 0 or (expect_changed is False and stats.get("changed")):
                raise RuntimeError("%s: rc %s, %s\n%s" % (variant, report["_rc"], stats, report["_stderr"][-2000:]))
            task = harness.task_results(report, host.name)[-1]
            return {variant: report["_seconds"], variant + TASK: round(task["_task_seconds"] or 0, 3)}

        for variant in (OURS, COPY):
            run(variant, None)

        def step(variant):
            return lambda: run(variant, False)

        for repetition in ctx.rounds():
            yield from ctx.alternate(repetition, [("us", step(OURS)), ("alternative", step(COPY)),
                                                  ("alternative", step(STAT))])
