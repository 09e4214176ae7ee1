"""Scenario 11 (issue "layer cache"): a fresh host with a warm layer cache vs a clean install.

Each repetition starts new bookworm x86_64 hosts. The play installs the runtime, pip_tooling (uv) and
a package set of bench/deps_set.py into a venv (`hermetic`: 48 synthetic wheels of four modules and 3
sdists; `webapp`: Django, gunicorn, psycopg, whitenoise; `large`: the web app plus numpy, pandas,
scipy, scikit-learn and matplotlib; the last two from the registry, pinned):

- clean install: a fresh host, no layer cache (the wheel cache is warm: the cost is installing);
- warm layer cache: a fresh host whose `/cache` volume holds the layers a previous host built, so the
  runtime, the uv venv and the dependencies are restored (sha256-checked) instead of installed.
"""

import tempfile

from bench import deps_set
from bench.context import RUNTIME_VERSION
from bench.registry import Comparison, at_least, register
from tests.integration import harness

APP = "/srv/bench-app"
CLEAN = "clean install, fresh host"
WARM = "warm layer cache, fresh host"


def _play(runtime_mirror, index_url, cache):
    extra = {"layer_cache": {"path": "/cache"}} if cache else {}
    return [{"hosts": "all", "gather_facts": False, "tasks": [
        {"name": "runtime", "appenv.python.python_runtime": dict(
            {"version": "3.11", "mirror": runtime_mirror.base_url, "release": runtime_mirror.tag}, **extra)},
        {"name": "tools", "appenv.python.pip_tooling": dict({"index_url": index_url, "tools": [{"name": "uv"}]},
                                                            **extra)},
        {"name": "dependencies", "appenv.python.app_dependencies": dict(
            {"project_dir": APP, "location": "venv", "dest": "/opt/bench/venv", "index_url": index_url,
             "cache_dir": "/var/cache/appenv"}, **extra)},
    ]}]


@register(
    11, "Fresh host: warm layer cache vs clean install",
    Comparison(WARM, CLEAN, "≥ 10× (large set)", at_least(10), judged_on=(deps_set.LARGE,)),
    sets=(deps_set.HERMETIC, deps_set.WEBAPP, deps_set.LARGE),
)
def warm_cache(ctx):
    runtime_mirror = ctx.runtime_mirror()
    package_set = ctx.package_set or deps_set.HERMETIC
    with deps_set.served_index(ctx.quick, package_set, ctx.log) as (index_url, requirements), \
            tempfile.TemporaryDirectory(prefix="appenv-bench-cache-") as cache:
        runtime_mirror.ensure(RUNTIME_VERSION, "x86_64")
        volume = [(cache, "/cache")]
        requirements_text = "\n".join(requirements) + "\n"

        def fresh(with_cache):
            host = ctx.host(volumes=volume if with_cache else ())
            host.sh("mkdir -p %s && printf '%%s' '%s' > %s/requirements.txt" % (APP, requirements_text, APP))
            return host

        def run(host, with_cache, label):
            report = harness.run_playbook(_play(runtime_mirror, index_url, with_cache), [host])
            if report["_rc"] != 0:
                raise RuntimeError("%s failed: %s" % (label, report["_stderr"][-2000:]))
            tasks = harness.task_results(report, host.name)
            # The modules' actions and each task's seconds: where the time of the play goes.
            return {"seconds": report["_seconds"], "actions": [result.get("action") for result in tasks],
                    "tasks": dict((result["_task"], round(result["_task_seconds"], 3)) for result in tasks)}

        # Fill the cache once (not timed).
        run(fresh(True), True, "filling the cache")

        def clean():
            return {CLEAN: run(fresh(False), False, CLEAN)}

        def warm():
            measured = run(fresh(True), True, WARM)
            if "created" in measured["actions"]:
                ctx.log("warm run built something: %s" % measured["actions"])
            return {WARM: measured}

        for repetition in ctx.rounds():
            yield from ctx.alternate(repetition, [("us", warm), ("alternative", clean)])
